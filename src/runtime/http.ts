/**
 * HTTP on its own port (CONTRACT.md): GET /status, /health, /metrics, /livez, /readyz, /leader, /watch
 * (watch.ts), the key-value API /kv/:key (kv-http.ts), and GET/POST /members (members-http.ts). Separate from the
 * peer port so that monitoring never shares a listener, a connection limit or a parser with election
 * traffic.
 *
 * The port faces the network, and a health probe must get through even while someone holds many slow
 * connections open (slowloris: headers sent a byte at a time). Two defences, both needed:
 * - timeouts that bite: a connection that has not sent its headers within HEADERS_TIMEOUT_MS is closed,
 *   checked every CHECK_INTERVAL_MS (Node checks only every 30 s by default, so its own 60 s header
 *   timeout let a slow connection live for up to 90 s);
 * - a connection cap that never refuses a newcomer while it can make room (see `admit`).
 */
import { createServer, type Server } from 'node:http';
import type { Socket } from 'node:net';
import type { Status } from '../core/types.js';
import { ConfigError, formatAddress, type Address } from './config.js';
import type { LeaderInfo } from './leadership.js';
import { handleKv, isKvPath, type KvHttpContext } from './kv-http.js';
import { handleMembers, MEMBERS_PATH, type MembersHttpContext } from './members-http.js';
import type { MemberStanding } from './membership.js';
import { leaderBody, WatchHub } from './watch.js';

/** Whether the node is fit to serve (`GET /readyz`), and why, in one line. */
export interface Readiness {
  readonly ready: boolean;
  readonly reason: string;
}

export interface HttpHandlers {
  readonly status: () => Status;
  /** Where this node stands in its configuration (`member` in /status, after the contract's fields); omitted: no such field. */
  readonly member?: () => MemberStanding;
  readonly algorithm: string;
  readonly metrics: () => Promise<string>;
  readonly metricsContentType: string;
  readonly ready: () => Readiness;
  /** The leader this node knows, with its advertised meta (GET /leader, GET /watch). */
  readonly leader: () => LeaderInfo | null;
  /** Watch streams at once, and the interval of their keepalive comments (watch.ts defaults). */
  readonly maxWatchers?: number;
  readonly watchHeartbeatMs?: number;
  /** The key-value API (/kv/:key, kv-http.ts); omitted: /kv is not found. */
  readonly kv?: KvHttpContext;
  /** GET and POST /members (members-http.ts); omitted: /members is not found. */
  readonly members?: MembersHttpContext;
}

/** At most this many connections at once; the oldest one without a request in progress makes room. */
export const MAX_HTTP_CONNECTIONS = 256;
/** A connection must have sent a request's complete headers within this time (from its start, or from the end of its previous request). */
export const HEADERS_TIMEOUT_MS = 5_000;
/** A whole request (headers and body) within this time. */
export const REQUEST_TIMEOUT_MS = 10_000;
/** An idle keep-alive connection is closed after this long (Node's default; pollers reconnect). */
export const KEEP_ALIVE_TIMEOUT_MS = 5_000;
/** How often Node looks for connections past the header or request timeout. */
export const CHECK_INTERVAL_MS = 1_000;

interface Connection {
  /** Requests whose response has not yet finished (more than one with HTTP pipelining). */
  inFlight: number;
}

export class StatusServer {
  /** Open connections, oldest first (a Map keeps insertion order). */
  private readonly connections = new Map<Socket, Connection>();

  private constructor(
    private readonly server: Server,
    private readonly watch: WatchHub,
  ) {}

  static async listen(address: Address, handlers: HttpHandlers): Promise<StatusServer> {
    const leaderNow = (): string => leaderBody(handlers.leader(), handlers.status().term);
    const watch = new WatchHub(leaderNow, handlers.maxWatchers, handlers.watchHeartbeatMs);
    const server = createServer({ connectionsCheckingInterval: CHECK_INTERVAL_MS, headersTimeout: HEADERS_TIMEOUT_MS, requestTimeout: REQUEST_TIMEOUT_MS, keepAliveTimeout: KEEP_ALIVE_TIMEOUT_MS }, (request, response) => {
      const path = (request.url ?? '/').split('?')[0]!;
      if (handlers.kv && isKvPath(path)) return handleKv(request, response, handlers.kv);
      if (handlers.members && path === MEMBERS_PATH) return handleMembers(request, response, handlers.members);
      if (request.method !== 'GET' && request.method !== 'HEAD') {
        response.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain' }).end('method not allowed\n');
        return;
      }
      switch (path) {
        case '/status': {
          const { id, role, leader, term, lease } = handlers.status();
          // The contract's fields first, in the contract's order; then whether this node holds a leader
          // lease now (always false for algorithms without leases: ZAB and Bully promise none), and where it
          // stands in its configuration (a removed Raft node's role is 'learner', as a joiner's is).
          const body = JSON.stringify({ id, algorithm: handlers.algorithm, role, leader, term, lease: lease === true, ...(handlers.member ? { member: handlers.member() } : {}) });
          response.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-store' }).end(body);
          return;
        }
        case '/health':
          response.writeHead(200, { 'content-type': 'text/plain' }).end('ok\n');
          return;
        case '/livez':
          // The process serves: nothing else is asked (a liveness probe must not fail over a lost quorum,
          // or an orchestrator would restart every node of a partitioned cluster).
          response.writeHead(200, { 'content-type': 'text/plain', 'cache-control': 'no-store' }).end('ok\n');
          return;
        case '/readyz': {
          const { ready, reason } = handlers.ready();
          response.writeHead(ready ? 200 : 503, { 'content-type': 'text/plain', 'cache-control': 'no-store' }).end(`${reason}\n`);
          return;
        }
        case '/leader': {
          // Any member answers, so a client that is not one can find the leader (and its advertised URL).
          const known = handlers.leader() !== null;
          response.writeHead(known ? 200 : 503, { 'content-type': 'application/json', 'cache-control': 'no-store' }).end(leaderNow());
          return;
        }
        case '/watch':
          watch.add(request, response);
          return;
        case '/metrics':
          handlers.metrics().then(
            (text) => response.writeHead(200, { 'content-type': handlers.metricsContentType }).end(text),
            () => response.writeHead(500, { 'content-type': 'text/plain' }).end('metrics unavailable\n'),
          );
          return;
        default:
          response.writeHead(404, { 'content-type': 'text/plain' }).end('not found (try /status, /health, /livez, /readyz, /leader, /watch, /metrics, /members, /kv/:key)\n');
      }
    });
    server.maxHeadersCount = 50;
    const statusServer = new StatusServer(server, watch);
    server.on('connection', (socket: Socket) => statusServer.admit(socket));
    server.on('request', (request, response) => {
      const connection = statusServer.connections.get(request.socket);
      if (!connection) return;
      connection.inFlight++;
      response.once('close', () => connection.inFlight--);
    });
    await new Promise<void>((resolve, reject) => {
      const onError = (error: NodeJS.ErrnoException): void => {
        const why = error.code === 'EADDRINUSE' ? 'address already in use' : (error.code ?? error.message);
        watch.close();
        reject(new ConfigError(`cannot serve HTTP on ${formatAddress(address)} (${why})`));
      };
      server.once('error', onError);
      server.listen({ host: address.host, port: address.port, exclusive: true }, () => {
        server.off('error', onError);
        resolve();
      });
    });
    return statusServer;
  }

  /**
   * The connection cap. Node's own `maxConnections` refuses every newcomer once the cap is reached, so
   * 256 slow connections shut out every health probe until the header timeout frees a slot. Instead,
   * when the cap is exceeded, close the OLDEST connection that has no request in progress: a slow one
   * still sending its headers, or an idle keep-alive one. A probe sends its request at once, so it is
   * answered long before 256 newer connections could push it out; an attacker's slow connections are
   * the oldest and go first. Connections in the middle of a request are never cut (each is bounded by
   * REQUEST_TIMEOUT_MS); only when all the others are, the newcomer itself, the youngest, is closed.
   */
  private admit(socket: Socket): void {
    this.connections.set(socket, { inFlight: 0 });
    socket.once('close', () => this.connections.delete(socket));
    if (this.connections.size <= MAX_HTTP_CONNECTIONS) return;
    for (const [candidate, { inFlight }] of this.connections) {
      if (inFlight > 0) continue;
      this.connections.delete(candidate);
      candidate.destroy();
      return;
    }
  }

  port(): number {
    const address = this.server.address();
    return typeof address === 'object' && address !== null ? address.port : 0;
  }

  /** The leader (or its meta) may have changed: tell the watchers. */
  leaderChanged(): void {
    this.watch.publish();
  }

  async close(): Promise<void> {
    // Watch streams end cleanly first (a client sees the end of the stream, not a reset).
    this.watch.close();
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    this.server.closeAllConnections();
    await closed;
  }
}
