/**
 * The Bully algorithm (Garcia-Molina 1982, "Elections in a Distributed Computing System"; source documents 003
 * and 004) as a pure state machine: among the live nodes, the one with the highest id is coordinator.
 * No votes, no quorum: every node knows every member id, and ids decide.
 *
 * - A node that starts, or whose coordinator's heartbeats stop (the detection timeout), starts an
 *   election: if no id above its own is believed alive it declares Victory at once; otherwise it sends
 *   Election to the higher ids and waits T for an Alive. No Alive within T: it declares Victory. An
 *   Alive: it waits T' for the Victory of a higher node, and starts a new election when none comes.
 * - A node answers an Election from a lower id with Alive, and starts its own election (it is higher,
 *   so it, or someone above it, must take over). A coordinator answers with Alive and its Victory.
 * - The coordinator sends Victory to every lower id, then heartbeats to everyone.
 * - A node that (re)starts with a higher id than the coordinator takes over: it "bullies". That is the
 *   default, 'preempt' mode, with the source documents' weakness (frequent leader switches when a high id flaps).
 *   The optional 'stable' mode does not preempt: a (re)starting node first listens for a coordinator's
 *   heartbeat and follows any live coordinator, and a follower of a live coordinator answers an
 *   Election with Alive without starting its own election (the coordinator answers the asker).
 *
 * The generation (our addition, reported as `term`): each coordinator reign has a number above every
 * generation its coordinator has seen, and no two nodes ever use the same number. Like Paxos proposal
 * numbers (Lamport, "Paxos Made Simple": proposers choose numbers from disjoint sets), the numbers are
 * split among the members: with n members, the member of rank r from the top (0 = highest id) uses only
 * numbers congruent to r + 1 modulo n. So the usual failover, highest id to the next one down, reads
 * 1, 2, 3 ... and a restarted node, which may not know the current generation, still cannot reuse one.
 * That keeps the generation a sound fencing token: two coordinators never share one, even in a split
 * brain, and the later reign always carries the larger number. What Bully does NOT promise is one
 * coordinator at a time: a partition crowns one on each side (measured as dual-leader time).
 *
 * Replication (issue 15) is primary–backup with asynchronous copies, the way Bully-elected systems
 * replicate: the coordinator appends a proposal to its log, applies it and acknowledges it at once
 * (`proposed`, then `committed`), then sends a Copy to every other member without waiting. A backup
 * appends copies in order; a backup that misses one, or that holds another coordinator's log, learns it
 * from the coordinator's heartbeat (its last entry) and asks (SyncRequest): the coordinator's log wins
 * (Sync: the entries after the backup's last one when that one is in the coordinator's log, else the
 * coordinator's snapshot and log, which replace the backup's). So whatever a coordinator acknowledged
 * and no new coordinator holds is lost, and under a split brain both sides acknowledge writes: the
 * simulator's workload measures the losses (docs/algorithms/bully.md, "Replication").
 */
import { believable, MAX_TERM, MAX_TERM_STEP } from '../bounds.js';
import { OutputBuffer } from '../output.js';
import {
  uniform,
  applyInput,
  type ElectionNode,
  type Input,
  type NodeConfig,
  type NodeId,
  type Output,
  type Random,
  type Status,
  type Command,
  type MembershipRefusal,
} from '../types.js';
import { encodedLength, FRAME_BYTES, MAX_COMMAND_LENGTH, MAX_WHOLE_SNAPSHOT_BYTES } from '../limits.js';
import { isPiece, isPieceOffset, SnapshotPieces, windowPieces } from '../chunks.js';
import {
  MAX_BULLY_SNAPSHOT_CHARS,
  MAX_SYNC_ENTRIES,
  type BullyDurable,
  type BullyEntry,
  type BullyMessage,
  type Copy,
  type Heartbeat,
  type SnapshotChunk,
  type Sync,
  type SyncRequest,
} from './messages.js';

export type BullyRole = 'leader' | 'follower' | 'electing';

/** 'preempt': Garcia-Molina's bully, a higher id always takes over. 'stable': a live coordinator is kept. */
export type BullyMode = 'preempt' | 'stable';

export interface BullyOptions {
  readonly mode: BullyMode;
  /** T: how long an electing node waits for an Alive from a higher id. Default: the heartbeat interval. */
  readonly answerTimeoutMs?: number;
  /** T': how long it then waits for the Victory. Default: 2 T. */
  readonly victoryTimeoutMs?: number;
}

/**
 * The smallest generation above `seen` that belongs to `id` (see the file comment): the member of rank
 * r from the top owns the numbers congruent to r + 1 modulo the number of members.
 */
export function nextGeneration(seen: number, id: NodeId, voters: readonly NodeId[]): number {
  const n = voters.length;
  const rankFromTop = voters.filter((v) => v > id).length;
  const owned = (rankFromTop + 1) % n;
  const first = seen + 1;
  return first + ((((owned - first) % n) + n) % n);
}

/** A follower's pieces of one snapshot (SnapshotChunk) of the reign `generation`, until it holds them all. */
interface SnapshotAssembly {
  readonly generation: number;
  readonly index: number;
  readonly term: number;
  readonly pieces: SnapshotPieces;
}

/** Where an electing node stands: waiting T for an Alive, or T' for a Victory after one came. */
type Phase = 'awaiting-alive' | 'awaiting-victory';

export class BullyNode implements ElectionNode<BullyMessage, BullyDurable> {
  readonly id: NodeId;
  private readonly config: NodeConfig;
  private readonly random: Random;
  private readonly mode: BullyMode;
  private readonly answerTimeoutMs: number;
  private readonly victoryTimeoutMs: number;
  private readonly out = new OutputBuffer<BullyMessage, BullyDurable>();
  private readonly higher: readonly NodeId[];
  private readonly lower: readonly NodeId[];
  private readonly others: readonly NodeId[];

  /** Durable: the highest generation seen. Reported as `term`, so it never goes backwards. */
  private generation: number;

  // Volatile state.
  private role: BullyRole = 'follower';
  private leader: NodeId | null = null;
  /** The generation of this node's current reign as coordinator (meaningful while role is leader). */
  private reign = 0;
  private phase: Phase = 'awaiting-alive';
  /** In the current election: the generation last sent to each node asked (so no one is asked twice). */
  private asked = new Map<NodeId, number>();
  /** Follower: when the coordinator is presumed lost. Electing: when T or T' runs out. */
  private deadline: number;
  /** Coordinator: when the next heartbeat is due. */
  private heartbeatDeadline = Infinity;

  // Durable: the log. Every entry in it has been applied (reported `committed`) by this incarnation.
  /** The snapshot the host last handed over (`compact`), holding every entry up to its index. */
  private snapshotIndex: number;
  private snapshotTerm: number;
  private snapshotData: string;
  /** encodedLength(snapshotData), kept while the snapshot stands: a SyncRequest comes for each window of a chunked transfer, and measuring megabytes each time cost seconds. Null until measured; every change of snapshotData resets it. */
  private snapshotBytes: number | null = null;
  /** The entries after the snapshot: entries[i] is at index snapshotIndex + 1 + i. */
  private entries: BullyEntry[];
  /** Follower: the generation of the reign it follows (copies of other reigns are stale). */
  private followedGeneration = -1;
  /** Follower: when it last asked its coordinator for entries (at most once per heartbeat interval). */
  private syncRequestedAt = -Infinity;
  /** Follower: the pieces received so far of the snapshot its coordinator is sending (SnapshotChunk). */
  private assembly: SnapshotAssembly | null = null;

  constructor(config: NodeConfig, durable: BullyDurable, random: Random, now: number, options: BullyOptions) {
    if (!config.voters.includes(config.id)) throw new Error(`bully: node ${config.id} is not a member (bully has no non-voting members)`);
    if (config.observers.length > 0) throw new Error('bully: no non-voting members (observers) are supported');
    this.id = config.id;
    this.config = config;
    this.random = random;
    this.mode = options.mode;
    this.answerTimeoutMs = options.answerTimeoutMs ?? config.timing.heartbeatMs;
    this.victoryTimeoutMs = options.victoryTimeoutMs ?? 2 * this.answerTimeoutMs;
    this.higher = config.voters.filter((v) => v > config.id);
    this.lower = config.voters.filter((v) => v < config.id);
    this.others = config.voters.filter((v) => v !== config.id);
    this.generation = durable.generation;
    this.snapshotIndex = durable.snapshot?.index ?? 0;
    this.snapshotTerm = durable.snapshot?.term ?? 0;
    this.snapshotData = durable.snapshot?.data ?? '';
    this.entries = [...(durable.log ?? [])];
    // A new incarnation applies its log again (the interface: snapshot first, then every entry after it).
    if (durable.snapshot !== undefined) this.out.emit({ type: 'snapshot-installed', index: this.snapshotIndex, term: this.snapshotTerm, snapshot: this.snapshotData });
    this.entries.forEach((entry, i) => this.out.emit({ type: 'committed', index: this.snapshotIndex + 1 + i, term: entry.term, command: entry.command }));
    // Garcia-Molina: a node that starts or recovers holds an election at once; its deadline is now, so
    // the host's first tick starts it (the constructor itself sends nothing). In stable mode it first
    // listens for a live coordinator's heartbeat for one detection timeout.
    this.deadline = this.mode === 'preempt' ? now : now + this.detectionTimeout();
  }

  // ---- inputs -------------------------------------------------------------------------------------

  /** The single door (src/core/types.ts, Input): every host delivers messages and ticks here. */
  step(now: number, input: Input<BullyMessage>): void {
    applyInput(this, now, input);
  }

  receive(now: number, from: NodeId, message: BullyMessage): void {
    if (from === this.id || !this.others.includes(from)) return; // not a member: nothing to learn from it
    // Bounds (src/core/bounds.ts): no correct member is 2^32 generations ahead; such a claim is forged
    // or corrupt, and following it would spend the generation space. Drop it: Bully tolerates loss.
    if (!believable(message.generation, this.generation, MAX_TERM_STEP)) {
      this.out.emit({ type: 'message-ignored', counter: 'generation', value: message.generation });
      return;
    }
    // Every message says the highest generation its sender has seen; keep the highest (durably, since
    // it is our `term`, and the next reign we lead must exceed it).
    this.observeGeneration(message.generation);
    switch (message.type) {
      case 'Election':
        this.handleElection(now, from);
        break;
      case 'Alive':
        this.handleAlive(now, from);
        break;
      case 'Victory':
        this.handleClaim(now, from, message.generation);
        break;
      case 'Heartbeat':
        this.handleClaim(now, from, message.generation);
        this.compareLogs(now, from, message);
        break;
      case 'Copy':
        this.handleCopy(now, from, message);
        break;
      case 'SyncRequest':
        this.handleSyncRequest(from, message);
        break;
      case 'Sync':
        this.handleSync(from, message);
        break;
      case 'SnapshotChunk':
        this.handleSnapshotChunk(now, from, message);
        break;
    }
    // A coordinator whose reign is older than a generation it has just heard of declares again, above
    // it: its generation must stay the newest it knows, or it would be no fencing token.
    if (this.role === 'leader' && this.generation > this.reign) this.reassert(now);
  }

  /**
   * The connection to the coordinator closed: presumed dead at once, as its missing heartbeats would
   * say one timeout later (the election that follows is the one `tick` starts). Bully promises nothing
   * when the presumption is wrong (docs/algorithms/bully.md): a spurious reset is one more election.
   */
  peerDown(now: number, peer: NodeId): void {
    if (this.role === 'follower' && peer === this.leader) this.startElection(now, peer);
  }

  /**
   * A client's write: the coordinator appends, applies and acknowledges it at once, then copies it to
   * every other member without waiting (primary–backup with asynchronous copies). Anyone else refuses
   * and names the coordinator it follows.
   */
  propose(_now: number, id: number, command: Command): void {
    // A command longer than the cores' one bound could not travel in a Copy (src/core/limits.ts).
    if (this.role !== 'leader' || command.length > MAX_COMMAND_LENGTH) {
      this.out.emit({ type: 'request-refused', id, leader: this.leader });
      return;
    }
    const prevTerm = this.lastTerm();
    const index = this.lastIndex() + 1;
    this.entries.push({ term: this.reign, command });
    this.persist();
    this.out.emit({ type: 'proposed', id, index, term: this.reign });
    this.out.emit({ type: 'committed', index, term: this.reign, command });
    const entry = this.entries[this.entries.length - 1]!;
    for (const to of this.others) this.out.send(to, { type: 'Copy', generation: this.reign, index, prevTerm, entry });
  }

  /** Membership is fixed at start (Algorithm.membershipChange): every change is refused as such. */
  refuse(id: number, reason: MembershipRefusal): void {
    this.out.emit({ type: 'request-refused', id, leader: this.leader, reason });
  }

  /**
   * A client's read: the coordinator serves it from what it has applied, at once. It does not check
   * that it still leads (Bully has no quorum to ask), so across a split brain a read may miss writes
   * the other coordinator acknowledged: not linearizable, and the workload shows it.
   */
  read(_now: number, id: number): void {
    if (this.role === 'leader') this.out.emit({ type: 'read-ready', id, index: this.lastIndex() });
    else this.out.emit({ type: 'request-refused', id, leader: this.leader });
  }

  /** The host's state machine holds everything up to `index` in `snapshot`: drop those entries. */
  compact(_now: number, index: number, snapshot: string): void {
    if (this.compactionPreview(index, snapshot) === null) return;
    this.snapshotTerm = this.termAt(index)!;
    this.entries = this.entries.slice(index - this.snapshotIndex);
    this.snapshotIndex = index;
    this.snapshotData = snapshot;
    this.snapshotBytes = null;
    this.persist();
  }

  /** The durable `snapshot` that compact(index, snapshot) would hold now (ElectionNode.compactionPreview). */
  compactionPreview(index: number, snapshot: string): { readonly field: string; readonly value: unknown } | null {
    // A snapshot too large for one Sync travels in SnapshotChunks, up to their bound; a longer one is not taken (the log keeps its entries).
    if (index <= this.snapshotIndex || index > this.lastIndex() || snapshot.length > MAX_BULLY_SNAPSHOT_CHARS) return null;
    return { field: 'snapshot', value: { index, term: this.termAt(index)!, data: snapshot } };
  }

  tick(now: number): void {
    switch (this.role) {
      case 'leader':
        if (now >= this.heartbeatDeadline) this.sendHeartbeats(now);
        return;
      case 'follower':
        // The coordinator's heartbeats stopped (or none was ever heard): it is presumed dead, and so
        // not asked in the election (Garcia-Molina's best case: the next id down declares at once).
        if (now >= this.deadline) this.startElection(now, this.leader);
        return;
      case 'electing':
        if (now < this.deadline) return;
        // No Alive within T: no higher id is alive, so this node is the coordinator.
        if (this.phase === 'awaiting-alive') this.becomeCoordinator(now);
        // An Alive came but no Victory within T': the higher node failed meanwhile; elect again.
        else this.startElection(now, null);
        return;
    }
  }

  nextDeadline(): number {
    return this.role === 'leader' ? this.heartbeatDeadline : this.deadline;
  }

  takeOutput(): Output<BullyMessage, BullyDurable> {
    return this.out.take();
  }

  status(): Status {
    return { id: this.id, role: this.role, leader: this.leader, term: this.generation };
  }

  // ---- handlers -----------------------------------------------------------------------------------

  private handleElection(now: number, from: NodeId): void {
    if (from > this.id) return; // Elections go to higher ids only
    // Garcia-Molina: answer a lower id's Election: "I am alive and higher; I take over".
    this.out.send(from, { type: 'Alive', generation: this.generation });
    switch (this.role) {
      case 'leader':
        // Already coordinator (the asker missed our heartbeats, or just started): our election is won;
        // tell the asker. A newer generation in the Election makes `receive` declare a new reign to all.
        if (this.generation === this.reign) this.out.send(from, { type: 'Victory', generation: this.reign });
        return;
      case 'electing':
        return; // our own election is under way
      case 'follower':
        // Stable mode: a follower of a live coordinator leaves the answer to it (the asker gets its
        // Victory or heartbeat, or elects again after T'). Preempt mode: start our own election.
        if (this.mode === 'stable' && this.followsLiveCoordinator(now)) return;
        this.startElection(now, null);
        return;
    }
  }

  private handleAlive(now: number, from: NodeId): void {
    if (this.role !== 'electing' || this.phase !== 'awaiting-alive' || from < this.id) return; // stale
    // A higher id is alive and holds its own election: wait T' for its Victory.
    this.phase = 'awaiting-victory';
    this.deadline = now + this.victoryTimeoutMs;
  }

  /**
   * A Victory or a Heartbeat: `from` claims to be the coordinator of `generation`. Whether to follow it
   * depends on ids (Bully), on the mode (a lower coordinator is followed only when not preempting),
   * and on the generation (a claim older than one we have seen is stale: its sender must declare again).
   */
  private handleClaim(now: number, from: NodeId, generation: number): void {
    const stale = generation < this.generation;
    if (this.role === 'leader') {
      if (from > this.id) {
        // Two coordinators: the higher id wins (a healed partition, or a higher id came back).
        if (stale) this.challenge(now, from);
        else this.follow(now, from, generation);
      } else if (this.generation > this.reign) {
        // A lower coordinator with a newer generation than our reign: declare a new reign, above it
        // (done by `receive`), so that it and its followers come over to us.
      } else {
        // A lower coordinator, behind us: tell it alone (its followers hear our heartbeats). Answering
        // every claim with a broadcast would let duplicated claims multiply into a storm.
        this.out.send(from, { type: 'Victory', generation: this.reign });
      }
      return;
    }
    if (from > this.id || this.mode === 'stable') {
      if (!stale) this.follow(now, from, generation);
      // A stale claim while we follow a live coordinator: ignore it. Our coordinator hears the claimant
      // too and settles it (challenging it, or telling it to step down); if every follower challenged
      // every stale claim, two coordinators behind a one-way link failure would bump each other's
      // generations in a storm. (From our own coordinator, it is an older message overtaken: ignore.)
      else if (!this.followsLiveCoordinator(now)) this.challenge(now, from);
      return;
    }
    // Preempt mode, a lower id claims to coordinate while we are alive: bully it.
    if (this.role !== 'electing') this.startElection(now, null);
  }

  // ---- transitions --------------------------------------------------------------------------------

  /**
   * Start an election (Garcia-Molina): Election to every higher id except `suspect` (the coordinator
   * whose loss we detected), then wait T for an Alive; with nobody higher to ask, declare at once.
   */
  private startElection(now: number, suspect: NodeId | null): void {
    this.role = 'electing';
    this.heartbeatDeadline = Infinity;
    this.setLeader(null);
    this.out.emit({ type: 'election-started', term: this.generation });
    const targets = this.higher.filter((id) => id !== suspect);
    if (targets.length === 0) {
      this.becomeCoordinator(now);
      return;
    }
    this.asked.clear();
    for (const to of targets) this.askElection(to);
    this.phase = 'awaiting-alive';
    this.deadline = now + this.answerTimeoutMs;
  }

  /**
   * A new reign: a generation of our own above all we have seen, durable before any Victory announces it
   * (a restarted node must never lead this generation again). False at the ceiling: the node stalls.
   */
  private startReign(now: number): boolean {
    const generation = nextGeneration(this.generation, this.id, this.config.voters);
    if (generation > MAX_TERM) {
      this.stallAtCeiling(now);
      return false;
    }
    this.generation = generation;
    this.reign = generation;
    this.persist();
    return true;
  }

  /** Victory: a new reign with a generation of our own above all we have seen, announced to lower ids. */
  private becomeCoordinator(now: number): void {
    if (!this.startReign(now)) return;
    this.role = 'leader';
    this.deadline = Infinity;
    this.setLeader(this.id);
    this.announceVictory(now);
  }

  /** As coordinator, declare again (with a new reign if a newer generation is known): Victory to lower ids. */
  private reassert(now: number): void {
    if (this.generation > this.reign && !this.startReign(now)) return;
    this.announceVictory(now);
  }

  /**
   * No generation of ours is left below MAX_TERM: refuse to lead (a reign without a number of its own
   * would be no fencing token), step down if leading, and try again after a detection timeout.
   */
  private stallAtCeiling(now: number): void {
    this.role = 'electing';
    this.phase = 'awaiting-alive';
    this.heartbeatDeadline = Infinity;
    this.setLeader(null);
    this.out.emit({ type: 'ceiling-reached', counter: 'generation', value: this.generation });
    this.deadline = now + this.detectionTimeout();
  }

  private announceVictory(now: number): void {
    for (const to of this.lower) this.out.send(to, { type: 'Victory', generation: this.reign });
    this.heartbeatDeadline = now + this.config.timing.heartbeatMs;
  }

  private follow(now: number, coordinator: NodeId, generation: number): void {
    this.followedGeneration = generation;
    this.role = 'follower';
    this.heartbeatDeadline = Infinity;
    this.setLeader(coordinator);
    this.deadline = now + this.detectionTimeout();
  }

  /**
   * `claimant` is alive and higher (or, in stable mode, any coordinator) but its generation is behind
   * ours. Send it an Election carrying our generation: as coordinator it then declares a new reign
   * above it. If `claimant` is lower, our own election (to the ids above us) settles who leads.
   */
  private challenge(now: number, claimant: NodeId): void {
    if (this.role !== 'electing') this.startElection(now, null);
    else if (claimant > this.id && (this.asked.get(claimant) ?? -1) < this.generation) this.askElection(claimant);
  }

  /** Election to `to`, at most once per generation within one election: duplicates must not multiply. */
  private askElection(to: NodeId): void {
    this.asked.set(to, this.generation);
    this.out.send(to, { type: 'Election', generation: this.generation });
  }

  private sendHeartbeats(now: number): void {
    const heartbeat: Heartbeat = { type: 'Heartbeat', generation: this.reign, lastIndex: this.lastIndex(), lastTerm: this.lastTerm() };
    for (const to of this.others) this.out.send(to, heartbeat);
    this.heartbeatDeadline = now + this.config.timing.heartbeatMs;
  }

  // ---- replication (primary–backup) ---------------------------------------------------------------

  /** Whether `from` is the coordinator this node follows, in the reign `generation`. */
  private follows(from: NodeId, generation: number): boolean {
    return this.role === 'follower' && this.leader === from && generation === this.followedGeneration;
  }

  /** The coordinator's heartbeat names its last entry: a backup whose log ends elsewhere asks for entries. */
  private compareLogs(now: number, from: NodeId, heartbeat: Heartbeat): void {
    if (!this.follows(from, heartbeat.generation)) return;
    if (heartbeat.lastIndex !== this.lastIndex() || heartbeat.lastTerm !== this.lastTerm()) this.requestSync(now, from);
  }

  /** A copy from the coordinator: appended (and applied) only right after this log's last entry. */
  private handleCopy(now: number, from: NodeId, copy: Copy): void {
    if (!this.follows(from, copy.generation)) return; // another reign's copy: stale
    const last = this.lastIndex();
    if (copy.index <= last) return; // held already (a sync brought it, or a duplicate)
    if (copy.index !== last + 1 || copy.prevTerm !== this.lastTerm()) {
      this.requestSync(now, from); // a copy was lost or overtaken, or this log is another coordinator's
      return;
    }
    this.append([copy.entry]);
  }

  /** Asks the coordinator for what follows this log's last entry, at most once per heartbeat interval. */
  private requestSync(now: number, coordinator: NodeId): void {
    if (now - this.syncRequestedAt < this.config.timing.heartbeatMs) return;
    this.syncRequestedAt = now;
    const offset = this.assembly === null ? {} : { snapshotOffset: this.assembly.pieces.missing };
    this.out.send(coordinator, { type: 'SyncRequest', generation: this.generation, index: this.lastIndex(), term: this.lastTerm(), ...offset });
  }

  /**
   * The coordinator's log wins: if the backup's last entry is in it, the entries after that one;
   * otherwise (another coordinator's entries, or compacted away here) the snapshot and the log.
   */
  private handleSyncRequest(from: NodeId, request: SyncRequest): void {
    if (this.role !== 'leader') return;
    const { index, term } = request;
    if (index >= this.snapshotIndex && index <= this.lastIndex() && this.termAt(index) === term) {
      const start = index - this.snapshotIndex;
      this.out.send(from, { type: 'Sync', generation: this.reign, index, term, snapshot: [], entries: this.syncBatch(start, 0) });
    } else if (this.snapshotEncodedLength() > MAX_WHOLE_SNAPSHOT_BYTES) {
      this.sendSnapshotChunks(from, request.snapshotOffset ?? 0);
    } else {
      const entries = this.syncBatch(0, this.snapshotEncodedLength());
      this.out.send(from, { type: 'Sync', generation: this.reign, index: this.snapshotIndex, term: this.snapshotTerm, snapshot: [this.snapshotData], entries });
    }
  }

  private snapshotEncodedLength(): number {
    this.snapshotBytes ??= encodedLength(this.snapshotData);
    return this.snapshotBytes;
  }

  /**
   * The entries from position `start` that one Sync carries beside `usedBytes` of snapshot: at most
   * MAX_SYNC_ENTRIES, and only as many as keep the message within one frame (src/core/limits.ts) — but
   * at least one when there is no snapshot, so a backup always progresses. It asks again for the rest.
   */
  private syncBatch(start: number, usedBytes: number): BullyEntry[] {
    const budget = FRAME_BYTES - 1024; // the message's other fields and each entry's term take far less
    const batch: BullyEntry[] = [];
    let bytes = usedBytes;
    for (let i = start; i < this.entries.length && batch.length < MAX_SYNC_ENTRIES; i++) {
      const entry = this.entries[i]!;
      bytes += encodedLength(entry.command) + 32;
      if (bytes > budget && (batch.length > 0 || usedBytes > 0)) break;
      batch.push(entry);
    }
    return batch;
  }

  private handleSync(from: NodeId, sync: Sync): void {
    if (!this.follows(from, sync.generation)) return;
    const lastIndex = sync.index + sync.entries.length;
    const lastTerm = sync.entries.length > 0 ? sync.entries[sync.entries.length - 1]!.term : sync.term;
    // Already held (a duplicate, or copies came first): entries of one reign at one index are one prefix.
    if (this.termAt(lastIndex) === lastTerm) return;
    const [snapshot] = sync.snapshot;
    if (snapshot === undefined) {
      if (this.termAt(sync.index) !== sync.term || sync.index !== this.lastIndex()) return; // this log moved since it asked
      this.append(sync.entries);
      return;
    }
    this.install(sync.index, sync.term, snapshot, sync.entries);
  }

  /** The coordinator's log replaces this one: what this node applied beyond it is lost. */
  private install(index: number, term: number, snapshot: string, entries: readonly BullyEntry[] = []): void {
    this.snapshotIndex = index;
    this.snapshotTerm = term;
    this.snapshotData = snapshot;
    this.snapshotBytes = null;
    this.entries = [];
    this.assembly = null;
    this.out.emit({ type: 'snapshot-installed', index, term, snapshot });
    this.append(entries);
    if (entries.length === 0) this.persist();
    this.syncRequestedAt = -Infinity; // more may follow (MAX_SYNC_ENTRIES): ask again at the next heartbeat
  }

  /**
   * A snapshot too large for one Sync: SNAPSHOT_CHUNK_WINDOW pieces of it from the first one the backup
   * lacks (from the start when that offset is of no piece of ours: the backup then holds another
   * snapshot's pieces, which ours replace). The backup asks for the next window once it holds this
   * one, and again at its next heartbeat when a piece is lost. The entries after the snapshot follow
   * its next SyncRequest, answered as usual once its log ends at the snapshot.
   */
  private sendSnapshotChunks(to: NodeId, from: number): void {
    const { snapshotIndex: index, snapshotTerm: term, snapshotData: data } = this;
    for (const piece of windowPieces(data, isPieceOffset(data.length, from) ? from : 0)) {
      this.out.send(to, { type: 'SnapshotChunk', generation: this.reign, index, term, length: data.length, ...piece });
    }
  }

  /**
   * A piece of the coordinator's snapshot. Pieces may come in any order, duplicated, or not at all:
   * they are kept by offset for one snapshot at a time (a newer one of the same reign replaces it; a
   * piece of another reign is stale), and the snapshot is installed only once every piece is here.
   */
  private handleSnapshotChunk(now: number, from: NodeId, chunk: SnapshotChunk): void {
    if (!this.follows(from, chunk.generation)) return;
    const { index, term, length, offset, data } = chunk;
    // Fields that disagree are no piece of any snapshot a correct coordinator sends.
    if (!isPiece(length, offset, data.length)) return;
    if (index < this.snapshotIndex || this.termAt(index) === term) return; // held already, or older than what is held
    let assembly = this.assembly;
    if (assembly === null || assembly.generation !== chunk.generation || index > assembly.index) {
      assembly = { generation: chunk.generation, index, term, pieces: new SnapshotPieces(length) };
      this.assembly = assembly;
    } else if (index !== assembly.index || term !== assembly.term || length !== assembly.pieces.length) {
      return; // a piece of an older snapshot of this reign, overtaken
    }
    const added = assembly.pieces.add(offset, data);
    if (added === 'duplicate') return;
    if (!assembly.pieces.complete) {
      // Once the first piece it lacks passes the end of a window, it asks for the next window now.
      if (added === 'window-held') {
        this.syncRequestedAt = -Infinity;
        this.requestSync(now, from);
      }
      return;
    }
    this.install(index, term, assembly.pieces.assemble());
  }

  /** Appends entries after the last one, applies them (`committed`) and makes them durable. */
  private append(entries: readonly BullyEntry[]): void {
    if (entries.length === 0) return;
    for (const entry of entries) {
      this.entries.push(entry);
      this.out.emit({ type: 'committed', index: this.lastIndex(), term: entry.term, command: entry.command });
    }
    this.persist();
  }

  private lastIndex(): number {
    return this.snapshotIndex + this.entries.length;
  }

  private lastTerm(): number {
    return this.entries.length > 0 ? this.entries[this.entries.length - 1]!.term : this.snapshotTerm;
  }

  /** The generation of the entry at `index`, or undefined when it is not in the log (or compacted away). */
  private termAt(index: number): number | undefined {
    if (index === this.snapshotIndex) return this.snapshotTerm;
    if (index < this.snapshotIndex || index > this.lastIndex()) return undefined;
    return this.entries[index - this.snapshotIndex - 1]!.term;
  }

  // ---- helpers ------------------------------------------------------------------------------------

  /** Following a coordinator whose heartbeat came within the detection timeout. */
  private followsLiveCoordinator(now: number): boolean {
    return this.role === 'follower' && this.leader !== null && now < this.deadline;
  }

  private observeGeneration(generation: number): void {
    if (generation <= this.generation) return;
    this.generation = generation;
    this.persist();
  }

  /** The follower's leader-loss detection timeout, drawn anew each time from the election-timeout range. */
  private detectionTimeout(): number {
    const { electionTimeoutMinMs, electionTimeoutMaxMs } = this.config.timing;
    return uniform(this.random, electionTimeoutMinMs, electionTimeoutMaxMs);
  }

  private setLeader(leader: NodeId | null): void {
    this.leader = leader;
  }

  /** The whole durable state; the log's fields only once there is a log (a node that never replicated writes what it always did). */
  private persist(): void {
    const snapshot = this.snapshotIndex > 0 || this.snapshotData !== '' ? { snapshot: { index: this.snapshotIndex, term: this.snapshotTerm, data: this.snapshotData } } : {};
    const log = this.entries.length > 0 ? { log: this.entries } : {};
    this.out.persist({ generation: this.generation, ...snapshot, ...log });
  }
}
