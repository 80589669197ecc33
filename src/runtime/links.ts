/**
 * Peer links: the deadlines every connection between members keeps (linkTiming), and the outbound
 * side toward one peer (PeerLink: dial, handshake, send, keepalives, redial). The transport
 * (transport.ts) owns the inbound side and the admission rules.
 */
import { connect, type Socket } from 'node:net';
import type { NodeId, Timing } from '../core/types.js';
import type { Address } from './config.js';
import { FrameDecoder, KEEPALIVE, KEEPALIVE_FRAME, type RejectReason } from './frames.js';
import { notMemberSchema, recognizedSchema } from './schema.js';
import type { Logger } from './log.js';
import type { NodeMetrics } from './metrics.js';
import type { PeerTls } from './tls.js';

/** What a link needs of the transport's options (TransportOptions extends it). */
export interface LinkOptions {
  readonly metrics: NodeMetrics;
  readonly logger: Logger;
  /** A peer answered our fresh handshake: it knew this node before, so this node has lost its state. */
  readonly onRecognized?: (peer: NodeId) => void;
  /**
   * A peer this node dialed (with TLS: whose certificate names it) refused our handshake because its
   * configuration in force, at `index`, leaves this node out (schema.ts, NotMember). Only the answer
   * on an outbound connection counts: an inbound one is any caller's, and refuses such a frame.
   */
  readonly onNotMember?: (peer: NodeId, index: number) => void;
  /**
   * The connection with `peer` closed, or a dial to it failed: the hint a dead process gives at once
   * (its sockets close). The node hands it to the core as a 'peer-down' input.
   */
  readonly onPeerDown?: (peer: NodeId) => void;
  /**
   * The outbound connection to `peer` is established (its process listens, so its core runs): the node
   * hands it to the core as a 'peer-up' input (Raft's fast start counts a quorum of them).
   */
  readonly onPeerUp?: (peer: NodeId) => void;
  /** Messages kept per peer while it is unreachable or congested (default 64). */
  readonly maxQueuedMessages?: number;
  /** Mutual TLS on every connection (tls.ts); null or absent: plaintext. */
  readonly tls?: PeerTls | null;
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
/** The shortest connect timeout and backoff cap. */
const MIN_REDIAL_MS = 200;

/**
 * The link deadlines for a node's timing. With the defaults (heartbeat 50 ms, election timeout up to
 * 300 ms): liveness 600 ms, keepalive 150 ms, handshake timeout 300 ms, connect timeout and backoff
 * cap 200 ms.
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
 * - connect timeout and backoff cap = max(4 heartbeats, 200 ms), at most liveness / 2: during a cut,
 *   SYNs are lost and the kernel would retry them only after 1, 3, 7 s…; redialing instead means that
 *   after a heal a new SYN leaves within connect timeout + backoff cap (400 ms by default), whatever the
 *   length of the cut and however long the election timeout (and the first link back makes its reverse
 *   redial at once). A connect is one round trip, far below this, and a dial judged too early (this
 *   process paused) is only retried; the cost is a few refused dials a second toward a peer that is down.
 * - handshake timeout = liveness / 2: a member writes its handshake with its first bytes, so a
 *   connection that has not sent one in that time is not a member. The grace before a connection
 *   without a handshake may be evicted for a newcomer is a quarter of that (see Transport's constructor).
 */
export function linkTiming(timing: Timing): LinkTiming {
  const livenessMs = Math.max(2 * timing.electionTimeoutMaxMs, 10 * timing.heartbeatMs, MIN_LIVENESS_MS);
  const redialMs = Math.min(livenessMs / 2, Math.max(4 * timing.heartbeatMs, MIN_REDIAL_MS));
  return {
    livenessMs,
    keepaliveMs: livenessMs / 4,
    connectTimeoutMs: redialMs,
    handshakeTimeoutMs: livenessMs / 2,
    handshakeGraceMs: livenessMs / 8,
    backoffMaxMs: redialMs,
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
export const TCP_KEEPALIVE_MS = 5000;
/** An outbound connection closed sooner than this after opening counts as refused. */
const UNSTABLE_MS = 1000;
/** What an acceptor may send on an inbound connection: keepalives, `{"recognized":true}` and `{"notMember":true,"index":N}`. */
export const MAX_ANSWER_BYTES = 64;

/**
 * Runs `act` if `stillDue()` still holds once the event loop has read what the kernel has buffered:
 * a timer scheduled in the timers phase runs before this turn's poll, and setImmediate after it. After
 * a pause of this process (GC, CPU starvation) its timers fire late, all at once, with the peers'
 * frames still unread; judging then would blame the peers for our own pause.
 */
export function confirmAfterPoll(stillDue: () => boolean, act: () => void): void {
  setImmediate(() => {
    if (stillDue()) act();
  });
}

/** The outbound side toward one peer: dial, handshake, send; redial with backoff when it breaks. */
export class PeerLink {
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
  /** The socket corked until the end of the current synchronous turn, or an earlier flush (see send). */
  private corked: Socket | null = null;
  /** The current connection is being closed for silence (not a refusal by the peer). */
  private timedOut = false;
  /** The peer's certificate was refused since the link last opened (logged once). */
  private certificateRefused = false;
  /** When the peer last answered on this link (keepalives); -Infinity before it ever did. */
  lastHeard = -Infinity;

  constructor(
    private readonly peer: NodeId,
    readonly address: Address,
    private readonly handshake: Buffer,
    private readonly options: LinkOptions,
    private readonly timing: LinkTiming,
  ) {
    this.maxQueue = options.maxQueuedMessages ?? 64;
  }

  start(): void {
    this.dial();
  }

  /**
   * Writes the frames corked so far at once rather than at the end of the turn: the host's messages
   * that may leave are all handed over, and what follows in the turn (its reports) need not delay them
   * (Transport.writeCorked).
   */
  writeCorked(): void {
    if (this.corked !== null) this.uncork(this.corked);
  }

  private uncork(socket: Socket): void {
    if (this.corked !== socket) return;
    this.corked = null;
    socket.uncork();
  }

  send(frame: Buffer): void {
    if (this.closed) return;
    if (this.open && this.queue.length === 0 && this.socket!.writableLength < HIGH_WATER_BYTES) {
      const socket = this.socket!;
      // The frames of one send phase (a batch of inputs can send dozens: one AppendEntries per
      // proposal) leave in one writev, not one syscall each: corked until the phase's synchronous turn ends.
      if (this.corked === null) {
        this.corked = socket;
        socket.cork();
        process.nextTick(() => this.uncork(socket));
      }
      socket.write(frame);
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
      () => !this.closed && this.socket === socket && performance.now() - Math.max(this.lastHeard, this.openedAt) > livenessMs,
      () => {
        this.timedOut = true;
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
    const tls = this.options.tls;
    const socket: Socket = tls ? tls.dial(this.address, this.peer) : connect({ host, port, noDelay: true });
    this.socket = socket;
    // The connect timeout covers the TLS handshake too: the link opens only once the peer proved it is
    // the member dialed ('secureConnect'), and until then `open` is false.
    this.connectTimer = setTimeout(() => {
      this.connectTimer = null;
      confirmAfterPoll(
        () => !this.closed && this.socket === socket && !this.open,
        () => socket.destroy(),
      );
    }, this.timing.connectTimeoutMs);
    const decoder = new FrameDecoder(MAX_ANSWER_BYTES);
    socket.on(tls ? 'secureConnect' : 'connect', () => {
      if (this.connectTimer) clearTimeout(this.connectTimer);
      this.connectTimer = null;
      socket.setKeepAlive(true, TCP_KEEPALIVE_MS);
      socket.write(this.handshake);
      this.sentSinceTick = true;
      this.open = true;
      this.openedAt = performance.now();
      this.backoffMs = BACKOFF_MIN_MS;
      this.failures = 0;
      this.certificateRefused = false;
      this.options.metrics.connection(this.peer, 'outbound', true);
      this.log('peer-connected');
      this.flush();
      this.options.onPeerUp?.(this.peer);
    });
    socket.on('drain', () => this.flush());
    // The peer writes only keepalives here, `{"recognized":true}` to a fresh handshake, and
    // `{"notMember":true,"index":N}` before it closes a connection from a node it no longer counts as
    // a member; anything else is a broken or foreign peer.
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
        const notMember = notMemberSchema.safeParse(value);
        if (notMember.success) {
          this.options.logger.debug('not-a-member-answer', { peer: this.peer, index: notMember.data.index });
          this.options.onNotMember?.(this.peer, notMember.data.index);
          continue;
        }
        this.refuse('bad-message');
        return;
      }
      if (error !== null) this.refuse(error);
    });
    socket.on('end', () => socket.destroy());
    socket.on('error', (error: NodeJS.ErrnoException) => {
      // A certificate the dialer refuses (not the member dialed, not from the CA) is worth a line at
      // info: it is a configuration mistake or an impostor, not a peer that is merely down.
      if (tls && !this.open && !this.certificateRefused && error.code !== 'ECONNREFUSED' && error.code !== 'ECONNRESET' && /certificate|peer at this address|self.signed|verify/i.test(error.message)) {
        this.certificateRefused = true;
        this.options.logger.info('peer-certificate-refused', { peer: this.peer, error: error.message.split('\n')[0]! });
      }
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
        const refused = !this.timedOut && performance.now() - this.openedAt < UNSTABLE_MS;
        this.timedOut = false;
        if (refused && !this.unstable && !this.closed) {
          this.options.logger.info('peer-unstable', {
            peer: this.peer,
            hint: `the peer closes connections right after the handshake; check --cluster-id, --algorithm and --peers${this.options.tls ? ', and that both certificates come from the same CA' : ''} on both nodes`,
          });
        }
        this.unstable = refused;
      }
      if (this.closed) return;
      this.options.onPeerDown?.(this.peer);
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
