/**
 * The TCP transport between nodes.
 *
 * Each node dials every other member once (its outbound link, used only to send) and accepts one
 * connection from each (inbound, used only to receive), so every direction of every pair is one TCP
 * stream and messages between two nodes arrive in the order they were sent. A connection starts with a
 * handshake frame naming the protocol version, the cluster id, the algorithm, the sender and the
 * intended receiver; every later frame must be one of the algorithm's messages (schema.ts). Anything
 * else is counted in ballot_frames_rejected_total and the connection is closed: a broken peer cannot
 * feed the node more than one bad frame per connection, and a connection's claimed sender can never
 * change.
 *
 * Toward a peer that is down or congested, each link keeps a small queue and drops the OLDEST message
 * when it is full: election traffic is periodic and superseded (a newer heartbeat or vote request
 * carries the newest term; the algorithms retransmit on their own timers), so the newest messages are
 * the ones worth delivering, and memory stays bounded however long the peer is gone. Links redial
 * with exponential backoff and jitter; an inbound connection from a peer proves it is back, and makes
 * the link toward it redial at once.
 */
import { createServer, connect, type Server, type Socket } from 'node:net';
import type { Message, NodeId } from '../core/types.js';
import { ConfigError, formatAddress, type Address } from './config.js';
import { encodeFrame, FrameDecoder, MAX_FRAME_BYTES, type RejectReason } from './frames.js';
import type { Logger } from './log.js';
import type { NodeMetrics } from './metrics.js';
import { handshakeSchema, PROTOCOL_VERSION, type Handshake, type MessageValidator } from './schema.js';

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
  /** Called for every valid message, in arrival order per sender. */
  readonly onMessage: (from: NodeId, message: Message) => void;
  readonly maxFrameBytes?: number;
  /** Messages kept per peer while it is unreachable or congested (default 64). */
  readonly maxQueuedMessages?: number;
}

/** Bytes the kernel and the socket may hold toward a peer before the link counts as congested. */
const HIGH_WATER_BYTES = 64 * 1024;
const BACKOFF_MIN_MS = 25;
const BACKOFF_MAX_MS = 1000;
const CONNECT_TIMEOUT_MS = 2000;
/** An inbound connection must present its handshake within this time. */
const HANDSHAKE_TIMEOUT_MS = 2000;
/** An outbound connection closed sooner than this after opening counts as refused. */
const UNSTABLE_MS = 1000;

export class Transport {
  private readonly links = new Map<NodeId, PeerLink>();
  private readonly inbound = new Map<NodeId, Socket>();
  private readonly sockets = new Set<Socket>();
  private closed = false;

  private constructor(
    private readonly options: TransportOptions,
    private readonly server: Server,
  ) {
    const handshake: Handshake = {
      ballot: PROTOCOL_VERSION,
      cluster: options.clusterId,
      algorithm: options.algorithmName,
      from: options.id,
      to: 0,
    };
    for (const [peer, address] of options.peers) {
      const frame = encodeFrame({ ...handshake, to: peer });
      if (!frame) throw new Error('transport: handshake does not fit in a frame');
      this.links.set(peer, new PeerLink(peer, address, frame, options));
    }
    server.on('connection', (socket) => this.accept(socket));
  }

  /** Binds the peer port (a ConfigError if it cannot) and starts dialing every peer. */
  static async listen(options: TransportOptions): Promise<Transport> {
    const server = createServer({ noDelay: true });
    // A member opens one connection; a few more are tolerated for reconnects and a restarted peer
    // whose old connection the kernel has not closed yet. Beyond that, connections are refused.
    server.maxConnections = 2 * options.peers.size + 8;
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

  private lastMessage: Message | null = null;
  private lastFrame: Buffer | null = null;

  /** Hands a message to the link toward `to`; never blocks, never throws. */
  send(to: NodeId, message: Message): void {
    const link = this.links.get(to);
    if (!link) return;
    // A broadcast hands the same message object to every peer: encode it once. The cache lives until
    // the current synchronous turn (the host loop's send phase) ends, so it never outlives the batch.
    if (message !== this.lastMessage) {
      if (this.lastMessage === null) queueMicrotask(() => (this.lastMessage = this.lastFrame = null));
      this.lastMessage = message;
      this.lastFrame = encodeFrame(message, this.options.maxFrameBytes ?? MAX_FRAME_BYTES);
    }
    if (this.lastFrame === null) {
      this.options.metrics.messageDropped('too-large');
      return;
    }
    link.send(this.lastFrame);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const link of this.links.values()) link.close();
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  // ---- inbound ------------------------------------------------------------------------------------

  private accept(socket: Socket): void {
    if (this.closed) {
      socket.destroy();
      return;
    }
    const { metrics, logger } = this.options;
    this.sockets.add(socket);
    const decoder = new FrameDecoder(this.options.maxFrameBytes ?? MAX_FRAME_BYTES);
    const remote = `${socket.remoteAddress ?? '?'}:${socket.remotePort ?? '?'}`;
    let from: NodeId | null = null;
    let done = false;
    const handshakeTimer = setTimeout(() => {
      logger.debug('handshake-timeout', { remote });
      socket.destroy();
    }, HANDSHAKE_TIMEOUT_MS);

    const reject = (reason: RejectReason): void => {
      if (done) return;
      done = true;
      metrics.frameRejected(reason);
      logger.debug('frame-rejected', { reason, remote, peer: from });
      socket.destroy();
    };

    socket.on('data', (chunk: Buffer) => {
      if (done) return;
      const { values, error } = decoder.push(chunk);
      for (const value of values) {
        if (done) return;
        if (from === null) {
          const verdict = this.checkHandshake(value);
          if (typeof verdict === 'string') return reject(verdict);
          from = verdict;
          clearTimeout(handshakeTimer);
          // A member keeps one outbound connection to us; a newer one means the older one is dead.
          const previous = this.inbound.get(from);
          this.inbound.set(from, socket);
          if (previous) previous.destroy();
          metrics.connection(from, 'inbound', true);
          logger.info('peer-connected', { peer: from, direction: 'inbound' });
          // The peer is up again: do not wait out our backoff to dial it back.
          this.links.get(from)?.kick();
          continue;
        }
        const message = this.options.validateMessage(value);
        if (message === null) return reject('bad-message');
        metrics.messageReceived(message.type);
        this.options.onMessage(from, message);
      }
      if (error !== null) reject(error);
    });
    socket.on('end', () => {
      const reason = decoder.end();
      if (reason !== null) reject(reason);
    });
    socket.on('error', () => {
      // 'close' follows; a reset by the peer is an ordinary disconnection.
    });
    socket.on('close', () => {
      clearTimeout(handshakeTimer);
      this.sockets.delete(socket);
      if (from !== null && this.inbound.get(from) === socket) {
        this.inbound.delete(from);
        metrics.connection(from, 'inbound', false);
        if (!this.closed) logger.info('peer-disconnected', { peer: from, direction: 'inbound' });
      }
    });
  }

  /** The sender's id when the handshake is acceptable, else why not. */
  private checkHandshake(value: unknown): NodeId | RejectReason {
    const parsed = handshakeSchema.safeParse(value);
    if (!parsed.success) return 'bad-handshake';
    const handshake = parsed.data;
    if (handshake.cluster !== this.options.clusterId) return 'wrong-cluster';
    if (handshake.algorithm !== this.options.algorithmName) return 'wrong-algorithm';
    if (handshake.to !== this.options.id) return 'wrong-recipient';
    if (!this.links.has(handshake.from)) return 'unknown-sender';
    return handshake.from;
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

  constructor(
    private readonly peer: NodeId,
    private readonly address: Address,
    private readonly handshake: Buffer,
    private readonly options: TransportOptions,
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
    this.connectTimer = setTimeout(() => socket.destroy(), CONNECT_TIMEOUT_MS);
    socket.on('connect', () => {
      if (this.connectTimer) clearTimeout(this.connectTimer);
      this.connectTimer = null;
      socket.setKeepAlive(true, 5000);
      socket.write(this.handshake);
      this.open = true;
      this.openedAt = performance.now();
      this.backoffMs = BACKOFF_MIN_MS;
      this.failures = 0;
      this.options.metrics.connection(this.peer, 'outbound', true);
      this.log('peer-connected');
      this.flush();
    });
    socket.on('drain', () => this.flush());
    // The peer never writes on our outbound connection; reading keeps us told of its FIN at once.
    socket.on('data', () => socket.destroy());
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
      this.backoffMs = Math.min(this.backoffMs * 2, BACKOFF_MAX_MS);
      this.retryTimer = setTimeout(() => {
        this.retryTimer = null;
        this.dial();
      }, delay);
    });
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
    while (this.queue.length > 0 && socket.writableLength < HIGH_WATER_BYTES) socket.write(this.queue.shift()!);
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


