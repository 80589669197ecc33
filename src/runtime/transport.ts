/**
 * The TCP transport between nodes.
 *
 * Each node dials every other member once (its outbound link, which carries its messages) and accepts
 * one connection from each (inbound, which carries the peer's messages), so every direction of every
 * pair is one TCP stream and messages between two nodes arrive in the order they were sent. A
 * connection starts with a handshake frame naming the protocol version, the cluster id, the algorithm,
 * the sender and the intended receiver; every later frame must be one of the algorithm's messages
 * (schema.ts) or a keepalive. Anything else is counted in ballot_frames_rejected_total and the
 * connection is closed: a broken peer cannot feed the node more than one bad frame per connection, and
 * a connection's claimed sender can never change.
 *
 * Liveness. A stalled connection (a partition: packets silently dropped) looks open to TCP for
 * minutes, and its retransmissions back off to seconds, so after a heal the link would stay dead long
 * after the network is back. So both ends of every connection send a keepalive (a zero-length frame)
 * when they have sent nothing for a while, and close a connection on which nothing at all was heard
 * within the liveness deadline; the outbound side then redials. All deadlines derive from the node's
 * timing (linkTiming).
 *
 * Admission. Outsiders can reach the peer port; they must not starve members or cut a member's link.
 * Connections that have not sent a handshake yet share a few pending slots (the oldest is evicted for
 * a newcomer, and must send its handshake within a short deadline); a checked handshake from member X
 * does not replace X's established connection, it waits as X's candidate until the established one
 * dies (closed, or silent past the liveness deadline), so a fake handshake for X, or a fake that sends
 * refused frames, cannot cut X's live link. Each member thus holds at most two inbound connections.
 *
 * Toward a peer that is down or congested, each link keeps a small queue and drops the OLDEST message
 * when it is full: election traffic is periodic and superseded (a newer heartbeat or vote request
 * carries the newest term; the algorithms retransmit on their own timers), so the newest messages are
 * the ones worth delivering, and memory stays bounded however long the peer is gone. Links redial
 * with exponential backoff and jitter; an inbound connection from a peer proves it is back, and makes
 * the link toward it redial at once.
 */
import { createServer, connect, type Server, type Socket } from 'node:net';
import type { Message, NodeId, Timing } from '../core/types.js';
import { ConfigError, formatAddress, type Address } from './config.js';
import { encodeFrame, FrameDecoder, KEEPALIVE, KEEPALIVE_FRAME, MAX_FRAME_BYTES, type RejectReason } from './frames.js';
import type { Logger } from './log.js';
import type { ConnectionRejectReason, NodeMetrics } from './metrics.js';
import { handshakeSchema, PROTOCOL_VERSION, RECOGNIZED, recognizedSchema, type Handshake, type MessageValidator } from './schema.js';

export interface TransportOptions {
  readonly id: NodeId;
  readonly clusterId: string;
  readonly algorithmName: string;
  /** Every other member and its peer address. */
  readonly peers: ReadonlyMap<NodeId, Address>;
  readonly listen: Address;
  readonly validateMessage: MessageValidator;
  readonly metrics: NodeMetrics;
  readonly logger: Logger;
  /** The node's timing; every link deadline derives from it (linkTiming). */
  readonly timing: Timing;
  /**
   * This node started on an empty data dir and was not told it joins as a new member: its handshakes
   * say `fresh`, so that a peer that knew it before can say so (onRecognized).
   */
  readonly fresh: boolean;
  /** A peer answered our fresh handshake: it knew this node before, so this node has lost its state. */
  readonly onRecognized?: (peer: NodeId) => void;
  /** Called for every valid message, in arrival order per sender. */
  readonly onMessage: (from: NodeId, message: Message) => void;
  readonly maxFrameBytes?: number;
  /** Messages kept per peer while it is unreachable or congested (default 64). */
  readonly maxQueuedMessages?: number;
}

/** The deadlines of every peer link, derived from the node's timing. */
export interface LinkTiming {
  /** A connection on which nothing was heard for this long is closed (and the outbound side redials). */
  readonly livenessMs: number;
  /** A connection on which nothing was sent for about this long gets a keepalive. */
  readonly keepaliveMs: number;
  /** A dial that has not connected within this time is abandoned and retried. */
  readonly connectTimeoutMs: number;
  /** An inbound connection must present its handshake within this time. */
  readonly handshakeTimeoutMs: number;
  /** A connection without a handshake cannot be evicted for a newcomer before this age. */
  readonly handshakeGraceMs: number;
  /** The longest wait between two dials of a broken link. */
  readonly backoffMaxMs: number;
}

/** Below this, a liveness deadline would measure the machine's scheduler rather than the network. */
const MIN_LIVENESS_MS = 500;

/**
 * The link deadlines for a node's timing. With the defaults (heartbeat 50 ms, election timeout up to
 * 300 ms): liveness 600 ms, keepalive 150 ms, connect and handshake timeouts and backoff cap 300 ms.
 *
 * - liveness = max(2 × the longest election timeout, 10 heartbeats, 500 ms). Ten heartbeats: a link is
 *   never judged on a few late keepalives; on a loaded 2-core machine a timer is late by a GC pause or
 *   a scheduling delay (tens of ms, a heartbeat or two), not by ten. Twice the election timeout: by
 *   then the algorithm has already acted on the silence (followers campaign after one election
 *   timeout), so a link that times out no sooner adds no disruption the algorithm had not already
 *   paid, and a peer paused that long is treated as failed by everyone anyway. And this process's own
 *   pauses never count: an overdue link is judged only after the event loop has read what the kernel
 *   holds (confirmAfterPoll), so a GC pause here cannot kill a link whose peer kept talking.
 * - keepalive = liveness / 4, checked every keepalive / 2: a live connection carries a frame at least
 *   every `keepalive`, so three keepalives in a row must be lost or late before the deadline.
 * - connect timeout and backoff cap = liveness / 2: during a cut, SYNs are lost and the kernel would
 *   retry them only after 1, 3, 7 s…; redialing instead means that after a heal a new SYN leaves within
 *   connect timeout + backoff ≤ liveness, whatever the length of the cut (and the first link back makes
 *   its reverse redial at once). A connect is one round trip, far below this.
 * - handshake timeout = liveness / 2: a member writes its handshake with its first bytes, so a
 *   connection that has not sent one in that time is not a member. The grace before a connection
 *   without a handshake may be evicted for a newcomer is a quarter of that (see Transport's constructor).
 */
export function linkTiming(timing: Timing): LinkTiming {
  const livenessMs = Math.max(2 * timing.electionTimeoutMaxMs, 10 * timing.heartbeatMs, MIN_LIVENESS_MS);
  return {
    livenessMs,
    keepaliveMs: livenessMs / 4,
    connectTimeoutMs: livenessMs / 2,
    handshakeTimeoutMs: livenessMs / 2,
    handshakeGraceMs: livenessMs / 8,
    backoffMaxMs: livenessMs / 2,
  };
}

/** Bytes the kernel and the socket may hold toward a peer before the link counts as congested. */
const HIGH_WATER_BYTES = 64 * 1024;
const BACKOFF_MIN_MS = 25;
/**
 * TCP keep-alive probes after this much idleness (both directions). The keepalive frames keep every
 * link busier than that, so these matter only if the application stops writing; Node has no API for
 * TCP_USER_TIMEOUT, whose job (close a connection whose data goes unacknowledged) the liveness deadline
 * does for both directions.
 */
const TCP_KEEPALIVE_MS = 5000;
/** An outbound connection closed sooner than this after opening counts as refused. */
const UNSTABLE_MS = 1000;
/** Valid messages a candidate connection may hold until it is promoted (the newest are kept). */
const MAX_HELD_MESSAGES = 16;
/** What an acceptor may send on an inbound connection: keepalives and `{"recognized":true}`. */
const MAX_ANSWER_BYTES = 64;

const RECOGNIZED_FRAME = encodeFrame(RECOGNIZED)!;

/**
 * Runs `act` if `stillDue()` still holds once the event loop has read what the kernel has buffered:
 * a timer scheduled in the timers phase runs before this turn's poll, and setImmediate after it. After
 * a pause of this process (GC, CPU starvation) its timers fire late, all at once, with the peers'
 * frames still unread; judging then would blame the peers for our own pause.
 */
function confirmAfterPoll(stillDue: () => boolean, act: () => void): void {
  setImmediate(() => {
    if (stillDue()) act();
  });
}

/** One accepted connection. */
interface Inbound {
  readonly socket: Socket;
  readonly remote: string;
  readonly decoder: FrameDecoder;
  readonly openedAt: number;
  /** pending: no handshake yet; candidate: a checked handshake waiting for its member's slot. */
  state: 'pending' | 'candidate' | 'established';
  from: NodeId | null;
  fresh: boolean;
  lastHeard: number;
  sentSinceTick: boolean;
  /** It has been through a poll of the event loop since it was accepted: its handshake could have been read. */
  polled: boolean;
  /** Rejected or being closed: it delivers nothing more. */
  done: boolean;
  readonly held: Message[];
}

export class Transport {
  private readonly links = new Map<NodeId, PeerLink>();
  private readonly connections = new Set<Inbound>();
  /** Connections without a handshake yet, oldest first. */
  private readonly pending = new Set<Inbound>();
  private readonly established = new Map<NodeId, Inbound>();
  private readonly candidates = new Map<NodeId, Inbound>();
  /** When each member was last heard on its established inbound connection. */
  private readonly heard = new Map<NodeId, number>();
  /** Members seen with a non-fresh handshake that then sent a valid frame, in this process's life. */
  private readonly known = new Set<NodeId>();
  private readonly timing: LinkTiming;
  private readonly pendingSlots: number;
  private readonly pendingCap: number;
  private readonly ticker: NodeJS.Timeout;
  private closed = false;

  private constructor(
    private readonly options: TransportOptions,
    private readonly server: Server,
  ) {
    this.timing = linkTiming(options.timing);
    // A member needs a pending slot only for the round trip its handshake takes. As many slots as the
    // whole port used to take let every peer reconnect at once, and a burst of a dozen connections be
    // read in full (then judged by its frames), while outsiders can at most hold them all, each until
    // a newcomer evicts it. A connection is evicted only after a grace (a fraction of the handshake
    // timeout, and one read of the event loop): a member writes its handshake as soon as it is
    // connected, but on a loaded machine its process may take a while to get there, and an outsider
    // reconnecting in a tight loop must not evict it in the meantime. Within the grace, newcomers are
    // taken beyond the slots, up to the hard cap, so a member is refused only by an outsider holding
    // that many connections at once.
    this.pendingSlots = 2 * options.peers.size + 8;
    this.pendingCap = 4 * this.pendingSlots;
    const handshake: Handshake = {
      ballot: PROTOCOL_VERSION,
      cluster: options.clusterId,
      algorithm: options.algorithmName,
      from: options.id,
      to: 0,
      ...(options.fresh ? { fresh: true as const } : {}),
    };
    for (const [peer, address] of options.peers) {
      const frame = encodeFrame({ ...handshake, to: peer });
      if (!frame) throw new Error('transport: handshake does not fit in a frame');
      this.links.set(peer, new PeerLink(peer, address, frame, options, this.timing));
    }
    // A backstop only: the admission rules keep at most pendingCap + 2 per member open, but
    // connections refused or evicted in one burst count until their close is processed.
    server.maxConnections = 2 * (this.pendingCap + 2 * options.peers.size);
    server.on('drop', () => options.metrics.connectionRejected('server-full'));
    server.on('connection', (socket) => this.accept(socket));
    this.ticker = setInterval(() => this.tick(), this.timing.keepaliveMs / 2);
  }

  /** Binds the peer port (a ConfigError if it cannot) and starts dialing every peer. */
  static async listen(options: TransportOptions): Promise<Transport> {
    const server = createServer({ noDelay: true });
    await new Promise<void>((resolve, reject) => {
      const onError = (error: NodeJS.ErrnoException): void => {
        const why = error.code === 'EADDRINUSE' ? 'address already in use' : (error.code ?? error.message);
        reject(new ConfigError(`cannot listen for peers on ${formatAddress(options.listen)} (${why})`));
      };
      server.once('error', onError);
      server.listen({ host: options.listen.host, port: options.listen.port, exclusive: true }, () => {
        server.off('error', onError);
        resolve();
      });
    });
    const transport = new Transport(options, server);
    for (const link of transport.links.values()) link.start();
    return transport;
  }

  /** The bound peer port (useful with port 0). */
  port(): number {
    const address = this.server.address();
    return typeof address === 'object' && address !== null ? address.port : 0;
  }

  /** The link deadlines in force (linkTiming of the node's timing). */
  linkTiming(): LinkTiming {
    return this.timing;
  }

  /**
   * The peers heard within the last `ms` (any frame, keepalives included, on their established inbound
   * connection or as an answer on our outbound one), ascending.
   */
  peersHeardWithin(ms: number): NodeId[] {
    const since = performance.now() - ms;
    const peers: NodeId[] = [];
    for (const [peer, link] of this.links) {
      if (Math.max(this.heard.get(peer) ?? -Infinity, link.lastHeard) >= since) peers.push(peer);
    }
    return peers.sort((a, b) => a - b);
  }

  /** The peers heard within the liveness deadline: those whose links are alive. */
  livePeers(): NodeId[] {
    return this.peersHeardWithin(this.timing.livenessMs);
  }

  private lastMessage: Message | null = null;
  private lastFrame: Buffer | null = null;

  /** Hands a message to the link toward `to`; never blocks, never throws. */
  send(to: NodeId, message: Message): void {
    const link = this.links.get(to);
    if (!link) return;
    // A broadcast hands the same message object to every peer: encode it once.
    if (message !== this.lastMessage) {
      this.lastMessage = message;
      this.lastFrame = encodeFrame(message, this.options.maxFrameBytes ?? MAX_FRAME_BYTES);
    }
    if (this.lastFrame === null) {
      this.options.metrics.messageDropped('too-large');
      return;
    }
    link.send(this.lastFrame);
  }

  /** Ends an output batch: the one-message encoding cache never outlives it. */
  endBatch(): void {
    this.lastMessage = this.lastFrame = null;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.ticker);
    for (const link of this.links.values()) link.close();
    for (const connection of this.connections) connection.socket.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  // ---- liveness -----------------------------------------------------------------------------------

  /** Every keepalive / 2: keepalives on idle connections, and the deadlines. */
  private tick(): void {
    const now = performance.now();
    const { livenessMs, handshakeTimeoutMs } = this.timing;
    for (const connection of this.pending) {
      if (now - connection.openedAt <= handshakeTimeoutMs) break; // oldest first
      confirmAfterPoll(
        () => connection.state === 'pending' && !connection.done,
        () => this.evict(connection, 'handshake-timeout'),
      );
    }
    for (const connection of this.connections) {
      if (connection.state === 'pending' || connection.done) continue;
      // An acceptor writes nothing but keepalives, so this is one every other tick.
      const idle = !connection.sentSinceTick;
      connection.sentSinceTick = false;
      if (idle) this.write(connection, KEEPALIVE_FRAME);
      if (now - connection.lastHeard > livenessMs) {
        confirmAfterPoll(
          () => !connection.done && performance.now() - connection.lastHeard > livenessMs,
          () => {
            connection.done = true;
            this.options.metrics.linkTimedOut('inbound');
            this.options.logger.info('peer-timeout', { peer: connection.from, direction: 'inbound', state: connection.state, silentMs: Math.round(performance.now() - connection.lastHeard) });
            connection.socket.destroy();
          },
        );
      }
    }
    for (const link of this.links.values()) link.tick(now);
  }

  private write(connection: Inbound, frame: Buffer): void {
    // A connection whose kernel buffer is full is stalled: more keepalives would only queue up.
    if (connection.socket.writableLength > 0) return;
    connection.socket.write(frame);
    connection.sentSinceTick = true;
  }

  // ---- inbound ------------------------------------------------------------------------------------

  private accept(socket: Socket): void {
    if (this.closed) {
      socket.destroy();
      return;
    }
    const now = performance.now();
    const connection: Inbound = {
      socket,
      remote: `${socket.remoteAddress ?? '?'}:${socket.remotePort ?? '?'}`,
      decoder: new FrameDecoder(this.options.maxFrameBytes ?? MAX_FRAME_BYTES),
      openedAt: now,
      state: 'pending',
      from: null,
      fresh: false,
      lastHeard: now,
      sentSinceTick: false,
      polled: false,
      done: false,
      held: [],
    };
    socket.on('error', () => {
      // 'close' follows; a reset by the peer is an ordinary disconnection.
    });
    if (this.pending.size >= this.pendingSlots) {
      // Evict the oldest connection still without a handshake if it has had its chance to send one
      // (see the constructor). Note that in a burst libuv accepts every waiting connection before
      // reading any of them: age alone would let a burst of outsiders evict a member's connection unread.
      const oldest = this.pending.values().next().value!;
      if (oldest.polled && now - oldest.openedAt >= this.timing.handshakeGraceMs) this.evict(oldest, 'pending-evicted');
      else if (this.pending.size >= this.pendingCap) {
        this.options.metrics.connectionRejected('pending-full');
        this.options.logger.debug('connection-rejected', { reason: 'pending-full', remote: connection.remote });
        socket.destroy();
        return;
      }
    }
    this.connections.add(connection);
    this.pending.add(connection);
    // The first setImmediate runs after this turn's poll, the second after the next one, which reads
    // whatever the connection sent with its first bytes.
    setImmediate(() => setImmediate(() => (connection.polled = true)));
    socket.setKeepAlive(true, TCP_KEEPALIVE_MS);

    socket.on('data', (chunk: Buffer) => {
      if (connection.done) return;
      connection.lastHeard = performance.now();
      const { values, error } = connection.decoder.push(chunk);
      for (const value of values) {
        if (connection.done) return;
        this.receive(connection, value);
      }
      if (error !== null) this.reject(connection, error);
    });
    socket.on('end', () => {
      const reason = connection.decoder.end();
      if (reason !== null) this.reject(connection, reason);
      // Members never half-close: the peer is gone, and its candidate (if any) can take over now.
      socket.destroy();
    });
    socket.on('close', () => this.closedInbound(connection));
  }

  private receive(connection: Inbound, value: unknown): void {
    if (connection.state === 'pending') {
      const verdict = value === KEEPALIVE ? 'bad-handshake' : this.checkHandshake(value);
      if (typeof verdict === 'string') return this.reject(connection, verdict);
      return this.admit(connection, verdict);
    }
    const from = connection.from!;
    if (value !== KEEPALIVE) {
      const message = this.options.validateMessage(value);
      if (message === null) return this.reject(connection, 'bad-message');
      if (connection.state === 'candidate') {
        if (connection.held.length >= MAX_HELD_MESSAGES) connection.held.shift();
        connection.held.push(message);
      } else {
        this.deliver(from, message);
      }
    }
    // A valid frame after a checked handshake: this member's state predates a fresh start of it.
    if (!connection.fresh) this.known.add(from);
    if (connection.state === 'established') this.heard.set(from, connection.lastHeard);
  }

  private deliver(from: NodeId, message: Message): void {
    this.options.metrics.messageReceived(message.type);
    this.options.onMessage(from, message);
  }

  /** A checked handshake: the member's connection, or its candidate while an established one lives. */
  private admit(connection: Inbound, handshake: Handshake): void {
    const { from } = handshake;
    this.pending.delete(connection);
    connection.from = from;
    connection.fresh = handshake.fresh === true;
    if (connection.fresh && this.known.has(from)) {
      // It started on an empty data dir, yet we spoke with it before: it has lost its state (a vote,
      // a term) and must not rejoin as a new member without being told to (--join-new).
      this.options.logger.info('peer-lost-state', { peer: from, hint: 'the peer started on an empty data dir, but this node knew it before' });
      this.write(connection, RECOGNIZED_FRAME);
    }
    const established = this.established.get(from);
    if (!established) return this.establish(connection);
    const previous = this.candidates.get(from);
    connection.state = 'candidate';
    this.candidates.set(from, connection);
    if (previous) this.evict(previous, 'candidate-replaced');
    // Probe the established connection at once: if the member's end of it is gone (it restarted,
    // or its dialer gave up on it), the answer is a reset and the candidate takes over within a round
    // trip rather than at the liveness deadline.
    this.write(established, KEEPALIVE_FRAME);
  }

  private establish(connection: Inbound): void {
    const from = connection.from!;
    connection.state = 'established';
    this.established.set(from, connection);
    this.heard.set(from, performance.now());
    this.options.metrics.connection(from, 'inbound', true);
    this.options.logger.info('peer-connected', { peer: from, direction: 'inbound' });
    for (const message of connection.held.splice(0)) this.deliver(from, message);
    // The peer is up again: do not wait out our backoff to dial it back.
    this.links.get(from)?.kick();
  }

  private closedInbound(connection: Inbound): void {
    connection.done = true;
    this.connections.delete(connection);
    this.pending.delete(connection);
    const from = connection.from;
    if (from === null) return;
    if (this.candidates.get(from) === connection) this.candidates.delete(from);
    if (this.established.get(from) !== connection) return;
    this.established.delete(from);
    this.options.metrics.connection(from, 'inbound', false);
    if (this.closed) return;
    this.options.logger.info('peer-disconnected', { peer: from, direction: 'inbound' });
    const candidate = this.candidates.get(from);
    if (candidate && !candidate.done) {
      this.candidates.delete(from);
      this.establish(candidate);
    }
  }

  private reject(connection: Inbound, reason: RejectReason): void {
    if (connection.done) return;
    connection.done = true;
    this.options.metrics.frameRejected(reason);
    this.options.logger.debug('frame-rejected', { reason, remote: connection.remote, peer: connection.from });
    connection.socket.destroy();
  }

  private evict(connection: Inbound, reason: ConnectionRejectReason): void {
    if (connection.done) return;
    connection.done = true;
    this.pending.delete(connection);
    this.options.metrics.connectionRejected(reason);
    this.options.logger.debug('connection-rejected', { reason, remote: connection.remote, peer: connection.from });
    connection.socket.destroy();
  }

  /** The handshake when it is acceptable, else why not. */
  private checkHandshake(value: unknown): Handshake | RejectReason {
    const parsed = handshakeSchema.safeParse(value);
    if (!parsed.success) return 'bad-handshake';
    const handshake = parsed.data;
    if (handshake.cluster !== this.options.clusterId) return 'wrong-cluster';
    if (handshake.algorithm !== this.options.algorithmName) return 'wrong-algorithm';
    if (handshake.to !== this.options.id) return 'wrong-recipient';
    if (!this.links.has(handshake.from)) return 'unknown-sender';
    return handshake;
  }
}

/** The outbound side toward one peer: dial, handshake, send; redial with backoff when it breaks. */
class PeerLink {
  private socket: Socket | null = null;
  private open = false;
  private closed = false;
  private retryTimer: NodeJS.Timeout | null = null;
  private connectTimer: NodeJS.Timeout | null = null;
  private backoffMs = BACKOFF_MIN_MS;
  private readonly queue: Buffer[] = [];
  private readonly maxQueue: number;
  private failures = 0;
  private openedAt = 0;
  /** The last connection was closed by the peer right after it opened (see 'close'). */
  private unstable = false;
  private sentSinceTick = false;
  /** When the peer last answered on this link (keepalives); -Infinity before it ever did. */
  lastHeard = -Infinity;

  constructor(
    private readonly peer: NodeId,
    private readonly address: Address,
    private readonly handshake: Buffer,
    private readonly options: TransportOptions,
    private readonly timing: LinkTiming,
  ) {
    this.maxQueue = options.maxQueuedMessages ?? 64;
  }

  start(): void {
    this.dial();
  }

  send(frame: Buffer): void {
    if (this.closed) return;
    if (this.open && this.queue.length === 0 && this.socket!.writableLength < HIGH_WATER_BYTES) {
      this.socket!.write(frame);
      this.sentSinceTick = true;
      return;
    }
    // Unreachable or congested: keep the newest messages only (see the file comment).
    if (this.queue.length >= this.maxQueue) {
      this.queue.shift();
      this.options.metrics.messageDropped('queue-full');
    }
    this.queue.push(frame);
  }

  /** Redial now if waiting out a backoff. */
  kick(): void {
    if (this.closed || this.retryTimer === null) return;
    clearTimeout(this.retryTimer);
    this.retryTimer = null;
    this.backoffMs = BACKOFF_MIN_MS;
    this.dial();
  }

  /** A keepalive if nothing was sent since the last tick; the liveness deadline. */
  tick(now: number): void {
    const socket = this.socket;
    if (!socket || !this.open) return;
    const idle = !this.sentSinceTick;
    this.sentSinceTick = false;
    if (idle && socket.writableLength === 0) {
      socket.write(KEEPALIVE_FRAME);
      this.sentSinceTick = true;
    }
    const { livenessMs } = this.timing;
    const heardAt = Math.max(this.lastHeard, this.openedAt);
    if (now - heardAt <= livenessMs) return;
    confirmAfterPoll(
      () => this.socket === socket && performance.now() - Math.max(this.lastHeard, this.openedAt) > livenessMs,
      () => {
        this.options.metrics.linkTimedOut('outbound');
        this.options.logger.info('peer-timeout', { peer: this.peer, direction: 'outbound', silentMs: Math.round(performance.now() - heardAt) });
        socket.destroy();
      },
    );
  }

  close(): void {
    this.closed = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    if (this.connectTimer) clearTimeout(this.connectTimer);
    this.retryTimer = this.connectTimer = null;
    this.socket?.destroy();
    this.queue.length = 0;
  }

  private dial(): void {
    const { host, port } = this.address;
    const socket = connect({ host, port, noDelay: true });
    this.socket = socket;
    this.connectTimer = setTimeout(() => {
      this.connectTimer = null;
      confirmAfterPoll(
        () => this.socket === socket && socket.connecting,
        () => socket.destroy(),
      );
    }, this.timing.connectTimeoutMs);
    const decoder = new FrameDecoder(MAX_ANSWER_BYTES);
    socket.on('connect', () => {
      if (this.connectTimer) clearTimeout(this.connectTimer);
      this.connectTimer = null;
      socket.setKeepAlive(true, TCP_KEEPALIVE_MS);
      socket.write(this.handshake);
      this.sentSinceTick = true;
      this.open = true;
      this.openedAt = performance.now();
      this.backoffMs = BACKOFF_MIN_MS;
      this.failures = 0;
      this.options.metrics.connection(this.peer, 'outbound', true);
      this.log('peer-connected');
      this.flush();
    });
    socket.on('drain', () => this.flush());
    // The peer writes only keepalives here, and `{"recognized":true}` to a fresh handshake; anything
    // else is a broken or foreign peer.
    socket.on('data', (chunk: Buffer) => {
      if (this.socket !== socket) return;
      this.lastHeard = performance.now();
      const { values, error } = decoder.push(chunk);
      for (const value of values) {
        if (value === KEEPALIVE) continue;
        if (recognizedSchema.safeParse(value).success) {
          this.options.logger.info('recognized-by-peer', { peer: this.peer, hint: 'this node started on an empty data dir, but the peer knew it before' });
          this.options.onRecognized?.(this.peer);
          continue;
        }
        this.refuse('bad-message');
        return;
      }
      if (error !== null) this.refuse(error);
    });
    socket.on('end', () => socket.destroy());
    socket.on('error', (error: NodeJS.ErrnoException) => {
      if (!this.open && this.failures++ === 0) this.options.logger.debug('connect-failed', { peer: this.peer, code: error.code ?? error.message });
    });
    socket.on('close', () => {
      if (this.connectTimer) clearTimeout(this.connectTimer);
      this.connectTimer = null;
      if (this.socket !== socket) return;
      this.socket = null;
      if (this.open) {
        this.open = false;
        this.options.metrics.connection(this.peer, 'outbound', false);
        if (!this.closed) this.log('peer-disconnected');
        // A peer that closes our connections right after the handshake refuses it (another cluster id
        // or algorithm, or a peer list without us): say so once, then stop logging every redial.
        const refused = performance.now() - this.openedAt < UNSTABLE_MS;
        if (refused && !this.unstable && !this.closed) {
          this.options.logger.info('peer-unstable', {
            peer: this.peer,
            hint: 'the peer closes connections right after the handshake; check --cluster-id, --algorithm and --peers on both nodes',
          });
        }
        this.unstable = refused;
      }
      if (this.closed) return;
      // Exponential backoff with jitter, so that restarted clusters do not redial in lockstep.
      const delay = this.backoffMs * (0.5 + Math.random() / 2);
      this.backoffMs = Math.min(this.backoffMs * 2, this.timing.backoffMaxMs);
      this.retryTimer = setTimeout(() => {
        this.retryTimer = null;
        this.dial();
      }, delay);
    });
  }

  private refuse(reason: RejectReason): void {
    this.options.metrics.frameRejected(reason);
    this.options.logger.debug('frame-rejected', { reason, peer: this.peer, direction: 'outbound' });
    this.socket?.destroy();
  }

  /** Connection changes at info, except while the link is unstable (then at debug). */
  private log(event: 'peer-connected' | 'peer-disconnected'): void {
    const fields = { peer: this.peer, direction: 'outbound' };
    if (this.unstable) this.options.logger.debug(event, fields);
    else this.options.logger.info(event, fields);
  }

  private flush(): void {
    const socket = this.socket;
    if (!socket || !this.open) return;
    while (this.queue.length > 0 && socket.writableLength < HIGH_WATER_BYTES) {
      socket.write(this.queue.shift()!);
      this.sentSinceTick = true;
    }
  }
}

/**
 * Runs the pure part of the receive path (encode, decode, validate) over sample messages, so that V8
 * optimizes it at start rather than after minutes of 20 heartbeats a second: at that rate the code
 * would otherwise run unoptimized for a long time, and cost a measurable share of an idle core.
 */
export function warmUp(validate: MessageValidator, samples: readonly unknown[], rounds = 1000): void {
  const decoder = new FrameDecoder();
  for (let round = 0; round < rounds; round++) {
    for (const sample of samples) {
      const frame = encodeFrame(sample);
      if (!frame) continue;
      for (const value of decoder.push(frame).values) validate(value);
    }
  }
}


