/**
 * `GET /watch`: the leader as server-sent events, for a client that follows the leader without being a
 * member (a proxy, a dashboard, a worker that sends its writes to the leader). One `leader` event on
 * connecting (the leader known then) and one per change after it; `data` is the JSON of `GET /leader`,
 * with `"id": null` while none is known. A comment line every `heartbeatMs` keeps proxies from closing an
 * idle stream and lets the client notice a dead one. At most `maxWatchers` streams at once (a newcomer
 * beyond them gets 503): each holds a connection and a little memory for as long as it likes. On stop,
 * every stream is ended (the client sees a clean end of stream, and reconnects to another node).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { LeaderInfo } from './leadership.js';

export const MAX_WATCHERS = 64;
export const WATCH_HEARTBEAT_MS = 15_000;

/** The body of `GET /leader` and of each `/watch` event. */
export function leaderBody(leader: LeaderInfo | null, term: number): string {
  return JSON.stringify(leader === null ? { id: null, term, meta: null } : { id: leader.id, term: leader.term, meta: leader.meta });
}

export class WatchHub {
  /** Each open stream and the last body it was sent. */
  private readonly watchers = new Map<ServerResponse, string>();
  private readonly ticker: NodeJS.Timeout;
  private closed = false;

  constructor(
    private readonly current: () => string,
    private readonly maxWatchers = MAX_WATCHERS,
    heartbeatMs = WATCH_HEARTBEAT_MS,
  ) {
    this.ticker = setInterval(() => {
      for (const watcher of this.watchers.keys()) watcher.write(': keepalive\n\n');
    }, heartbeatMs);
    this.ticker.unref();
  }

  get size(): number {
    return this.watchers.size;
  }

  /** Serves one `GET /watch`. */
  add(request: IncomingMessage, response: ServerResponse): void {
    if (this.closed || this.watchers.size >= this.maxWatchers) {
      response.writeHead(503, { 'content-type': 'text/plain', 'retry-after': '1' }).end(`too many watchers (at most ${this.maxWatchers})\n`);
      return;
    }
    response.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store', connection: 'keep-alive' });
    if (request.method === 'HEAD') {
      response.end();
      return;
    }
    // A client reconnecting after a drop waits at least this long (the SSE `retry` field).
    response.write('retry: 1000\n');
    const body = this.current();
    response.write(event(body));
    this.watchers.set(response, body);
    response.once('close', () => this.watchers.delete(response));
  }

  /** Sends the leader to every watcher that has not been sent this very body last. */
  publish(): void {
    const body = this.current();
    for (const [watcher, last] of this.watchers) {
      if (last === body) continue;
      this.watchers.set(watcher, body);
      watcher.write(event(body));
    }
  }

  /** Ends every stream cleanly (before the server closes its connections). */
  close(): void {
    this.closed = true;
    clearInterval(this.ticker);
    for (const watcher of this.watchers.keys()) watcher.end();
    this.watchers.clear();
  }
}

function event(body: string): string {
  return `event: leader\ndata: ${body}\n\n`;
}
