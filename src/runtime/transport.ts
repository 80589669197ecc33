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
 * A node that is no member (removed, or not added yet) is refused; when its handshake is valid in every
 * other way, it is told so first: one not-a-member frame naming the configuration in force
 * (refuseNonMember; schema.ts NotMember), which a removed node acts on (links.ts, node.ts).
 *
 * TLS (tls.ts). With a node's `tls`, every connection is mutual TLS: the acceptor runs the TLS
 * handshake on the connection admission already counts as pending, so the handshake deadline and the
 * pending slots cover it (an outsider stalling in TLS is evicted like one stalling before its
 * handshake frame), and the handshake frame's `from` must be the member its certificate names
 * ('wrong-identity'); a failed TLS handshake counts as 'tls-refused'.
 *
 * Toward a peer that is down or congested, each link keeps a small queue and drops the OLDEST message
 * when it is full: election traffic is periodic and superseded (a newer heartbeat or vote request
 * carries the newest term; the algorithms retransmit on their own timers), so the newest messages are
 * the ones worth delivering, and memory stays bounded however long the peer is gone. Links redial
 * with exponential backoff and jitter; an inbound connection from a peer proves it is back, and makes
 * the link toward it redial at once.
 */
import { createServer, type Server, type Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import type { Message, NodeId, Timing } from '../core/types.js';
import { ConfigError, formatAddress, type Address } from './config.js';
import { encodeFrame, FrameDecoder, KEEPALIVE, KEEPALIVE_FRAME, MAX_FRAME_BYTES, type RejectReason } from './frames.js';
import type { ConnectionRejectReason } from './metrics.js';
import { confirmAfterPoll, linkTiming, PeerLink, TCP_KEEPALIVE_MS, type LinkOptions, type LinkTiming } from './links.js';
import type { Meta } from './meta.js';
import { handshakeSchema, PROTOCOL_VERSION, RECOGNIZED, type Handshake, type MessageValidator, type NotMember } from './schema.js';

export interface TransportOptions extends LinkOptions {
  readonly id: NodeId;
  readonly clusterId: string;
  readonly algorithmName: string;
  /** Every other member and its peer address. */
  readonly peers: ReadonlyMap<NodeId, Address>;
  readonly listen: Address;
  readonly validateMessage: MessageValidator;
  /** The node's timing; every link deadline derives from it (linkTiming). */
  readonly timing: Timing;
  /**
   * This node started on an empty data dir and was not told it joins as a new member: its handshakes
   * say `fresh`, so that a peer that knew it before can say so (onRecognized).
   */
  readonly fresh: boolean;
  /** What this node advertises (meta.ts), sent in its handshakes; absent or empty: nothing. */
  readonly meta?: Meta;
  /** A peer's handshake brought its meta (the first time, or a different one after it restarted). */
  readonly onMeta?: (peer: NodeId, meta: Meta) => void;
  /** This node's leadership priority (preferred leader, leadership.ts), sent in its handshakes when above 0. */
  readonly priority?: number;
  /**
   * The index of the configuration in force (membership.ts). Above 0, a node that is not a member but
   * sends a handshake valid in every other way (with TLS, under its own certificate) is answered with a
   * not-a-member frame naming it before the connection closes, so that a removed node learns it
   * (schema.ts, NotMember). Absent or 0: such a node is refused without a word, as any stranger.
   */
  readonly configurationIndex?: () => number;
  /** Called for every valid message, in arrival order per sender. */
  readonly onMessage: (from: NodeId, message: Message) => void;
  readonly maxFrameBytes?: number;
}

/** Valid messages a candidate connection may hold until it is promoted (the newest are kept). */
const MAX_HELD_MESSAGES = 16;
const RECOGNIZED_FRAME = encodeFrame(RECOGNIZED)!;


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
  /** What its handshake advertised ({} if nothing); learned when the connection is established. */
  meta: Meta;
  /** The priority its handshake gave (0 if none); learned, like meta, when the connection is established. */
  priority: number;
  lastHeard: number;
  sentSinceTick: boolean;
  /** It has been through a poll of the event loop since it was accepted: its handshake could have been read. */
  polled: boolean;
  /** Rejected or being closed: it delivers nothing more. */
  done: boolean;
  readonly held: Message[];
  /** With TLS: the member its verified certificate names (null until the TLS handshake is done). */
  certified: NodeId | null;
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
  /** What each member advertised in its latest checked handshake ({} when nothing); kept while it is away. */
  private readonly metas = new Map<NodeId, Meta>();
  /** Each member's priority from its latest established handshake (absent: 0). */
  private readonly priorities = new Map<NodeId, number>();
  /** Members seen with a non-fresh handshake that then sent a valid frame, in this process's life. */
  private readonly known = new Set<NodeId>();
  private readonly timing: LinkTiming;
  /** The handshake this node sends (each link's names its peer as `to`). */
  private readonly handshake: Handshake;
  private pendingSlots = 0;
  private pendingCap = 0;
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
    this.sizeAdmission(options.peers.size);
    this.handshake = {
      ballot: PROTOCOL_VERSION,
      cluster: options.clusterId,
      algorithm: options.algorithmName,
      from: options.id,
      to: 0,
      ...(options.fresh ? { fresh: true as const } : {}),
      ...(options.meta && Object.keys(options.meta).length > 0 ? { meta: options.meta } : {}),
      ...(options.priority !== undefined && options.priority > 0 ? { priority: options.priority } : {}),
    };
    for (const [peer, address] of options.peers) this.links.set(peer, this.link(peer, address));
    server.on('drop', () => options.metrics.connectionRejected('server-full'));
    server.on('connection', (socket) => this.accept(socket));
    this.ticker = setInterval(() => this.tick(), this.timing.keepaliveMs / 2);
  }

  /** The pending slots and the connection cap for this many peers (see the constructor). */
  private sizeAdmission(peers: number): void {
    this.pendingSlots = 2 * peers + 8;
    this.pendingCap = 4 * this.pendingSlots;
    // A backstop only: the admission rules keep at most pendingCap + 2 per member open, but
    // connections refused or evicted in one burst count until their close is processed.
    this.server.maxConnections = 2 * (this.pendingCap + 2 * peers);
  }

  /** The outbound link toward `peer`, with the handshake that names it as the receiver. */
  private link(peer: NodeId, address: Address): PeerLink {
    const frame = encodeFrame({ ...this.handshake, to: peer });
    if (!frame) throw new Error('transport: handshake does not fit in a frame');
    return new PeerLink(peer, address, frame, this.options, this.timing);
  }

  /**
   * The members changed (a configuration entry, src/runtime/membership.ts): dial the members added (or
   * moved to a new address), and forget the ones removed: their outbound link closes, their inbound
   * connections are closed, and admission refuses their next handshake ('unknown-sender'), as it refuses
   * any stranger's, answering it with the configuration's index (refuseNonMember) so that it learns
   * it. With TLS a new member must still present a certificate from the cluster CA naming it
   * (checkIdentity): membership decides who may speak, the certificate who is speaking.
   */
  setPeers(peers: ReadonlyMap<NodeId, Address>): { readonly added: NodeId[]; readonly removed: NodeId[] } {
    const added: NodeId[] = [];
    const removed: NodeId[] = [];
    if (this.closed) return { added, removed };
    for (const [peer, link] of [...this.links]) {
      const address = peers.get(peer);
      if (address !== undefined && formatAddress(address) === formatAddress(link.address)) continue;
      link.close();
      this.links.delete(peer);
      if (address === undefined) {
        removed.push(peer);
        this.forget(peer);
      }
    }
    for (const [peer, address] of peers) {
      if (peer === this.options.id || this.links.has(peer)) continue;
      const link = this.link(peer, address);
      this.links.set(peer, link);
      if (!removed.includes(peer)) added.push(peer);
      link.start();
    }
    this.sizeAdmission(this.links.size);
    return { added, removed };
  }

  /** Closes every inbound connection of a member that was removed, and what was known of it. */
  private forget(peer: NodeId): void {
    for (const connection of this.connections) {
      if (connection.from === peer) connection.socket.destroy();
    }
    this.known.delete(peer);
    this.heard.delete(peer);
    this.priorities.delete(peer);
    this.options.metrics.connection(peer, 'outbound', false);
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

  /** What `peer` advertised in its latest handshake ({} if nothing), or null before its first handshake reached this node. */
  metaOf(peer: NodeId): Meta | null {
    return this.metas.get(peer) ?? null;
  }

  /** The leadership priority `peer` gave in its latest established handshake; 0 when none (or none yet). */
  priorityOf(peer: NodeId): number {
    return this.priorities.get(peer) ?? 0;
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

  /**
   * Writes what send() handed to the links in this turn now, not when the turn ends (each link corks its
   * socket for a turn so that a batch's frames leave in one writev): a node calls it once a batch's
   * messages that may leave are all sent, before it reports the batch (NodeDriver's flushSends).
   */
  writeCorked(): void {
    for (const link of this.links.values()) link.writeCorked();
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

  private accept(raw: Socket): void {
    if (this.closed) {
      raw.destroy();
      return;
    }
    const tls = this.options.tls;
    const socket: Socket = tls ? tls.accept(raw) : raw;
    const now = performance.now();
    const connection: Inbound = {
      socket,
      remote: `${raw.remoteAddress ?? '?'}:${raw.remotePort ?? '?'}`,
      decoder: new FrameDecoder(this.options.maxFrameBytes ?? MAX_FRAME_BYTES),
      openedAt: now,
      state: 'pending',
      from: null,
      fresh: false,
      meta: {},
      priority: 0,
      lastHeard: now,
      sentSinceTick: false,
      polled: false,
      done: false,
      held: [],
      certified: null,
    };
    let secured = false;
    if (tls) {
      socket.once('secure', () => {
        secured = true;
        connection.certified = tls.peerId(socket as TLSSocket);
        if (connection.certified === null) this.reject(connection, 'tls-refused');
      });
      raw.on('error', () => {});
    }
    socket.on('error', () => {
      // 'close' follows; a reset by the peer is an ordinary disconnection. A TLS handshake that
      // failed (no certificate, or one the CA did not sign) is a refusal.
      if (tls && !secured) this.reject(connection, 'tls-refused');
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
    raw.setKeepAlive(true, TCP_KEEPALIVE_MS);

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
      const checked = value === KEEPALIVE ? 'bad-handshake' : this.checkHandshake(value);
      const verdict = typeof checked === 'string' ? checked : this.checkIdentity(connection, checked);
      if (typeof verdict === 'string') return this.reject(connection, verdict);
      if (!this.links.has(verdict.from)) return this.refuseNonMember(connection, verdict.from);
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
    connection.meta = handshake.meta ?? {};
    connection.priority = handshake.priority ?? 0;
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

  /**
   * What a member advertises, from the handshake of its established connection: a candidate's (which
   * may be a fake in its name, without TLS) counts only once it has taken over, as it cannot cut the
   * member's live link either. Kept while the member is away: the last word on where it serves.
   */
  private learnMeta(from: NodeId, meta: Meta): void {
    const known = this.metas.get(from);
    if (known !== undefined && JSON.stringify(known) === JSON.stringify(meta)) return;
    this.metas.set(from, meta);
    this.options.onMeta?.(from, meta);
  }

  private establish(connection: Inbound): void {
    const from = connection.from!;
    connection.state = 'established';
    this.established.set(from, connection);
    this.heard.set(from, performance.now());
    this.learnMeta(from, connection.meta);
    this.priorities.set(from, connection.priority);
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
      return;
    }
    this.options.onPeerDown?.(from);
  }

  private reject(connection: Inbound, reason: RejectReason): void {
    if (connection.done) return;
    connection.done = true;
    this.options.metrics.frameRejected(reason);
    this.options.logger.debug('frame-rejected', { reason, remote: connection.remote, peer: connection.from });
    connection.socket.destroy();
  }

  /**
   * A checked handshake (identity included) from a node the configuration leaves out: refused as
   * 'unknown-sender', as any stranger, but told why first (schema.ts, NotMember) when the configuration
   * in force came from an entry. The frame leaves with the FIN (end, not destroy: a write followed by
   * a destroy may never reach the wire); the socket is destroyed if the peer does not close its side
   * within the handshake timeout. One frame per connection that presented a valid handshake: the peer
   * gets no more than any stranger's refused dial costs.
   */
  private refuseNonMember(connection: Inbound, from: NodeId): void {
    const index = this.options.configurationIndex?.() ?? 0;
    if (index <= 0) return this.reject(connection, 'unknown-sender');
    connection.done = true;
    this.pending.delete(connection);
    this.options.metrics.frameRejected('unknown-sender');
    this.options.logger.debug('frame-rejected', { reason: 'unknown-sender', remote: connection.remote, peer: from, answered: 'not-a-member', index });
    const answer: NotMember = { notMember: true, index };
    const socket = connection.socket;
    socket.end(encodeFrame(answer)!);
    setTimeout(() => socket.destroy(), this.timing.handshakeTimeoutMs).unref();
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
    // Whether the sender is a member is judged after its identity (receive: refuseNonMember).
    return handshake;
  }

  /** With TLS, a member speaks only for the member its certificate names. */
  private checkIdentity(connection: Inbound, handshake: Handshake): Handshake | RejectReason {
    return this.options.tls && connection.certified !== handshake.from ? 'wrong-identity' : handshake;
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


