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
} from '../types.js';
import type { BullyDurable, BullyMessage } from './messages.js';

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
      case 'Heartbeat':
        this.handleClaim(now, from, message.generation);
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
        else this.follow(now, from);
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
      if (!stale) this.follow(now, from);
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

  private follow(now: number, coordinator: NodeId): void {
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
    for (const to of this.others) this.out.send(to, { type: 'Heartbeat', generation: this.reign });
    this.heartbeatDeadline = now + this.config.timing.heartbeatMs;
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

  private persist(): void {
    this.out.persist({ generation: this.generation });
  }
}
