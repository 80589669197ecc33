/**
 * Membership change on a real node (issue 15, item 6; docs/membership.md): the configuration the core
 * reports, the transport kept in step with it, and the clients' requests to change it.
 *
 * The core owns the configuration (Raft thesis §4.1: a server uses the latest configuration in its
 * log, committed or not) and reports every change as 'membership-changed'. This service keeps that
 * view, knows when it is committed (the 'committed' event at its index), and hands the host the peers
 * to connect to: the members the configuration in use names, each at the address carried in its entry,
 * AND those of the last configuration known committed (at first: the members the flags name). A member
 * is dropped only once the entry that removed it is committed: a leader that removes itself manages
 * the cluster until then (thesis §4.2.2), and its followers must still hear it and answer it. A node
 * started with --join, in no configuration yet, thus keeps accepting the members it was told of (the
 * leader that adds it dials it).
 *
 * A request is one MembershipChange (a 'change-membership' input), answered like a write: 'proposed'
 * gives the entry's index and term, and the change is done when that entry is committed in that term.
 * `add` of a voter is two changes, as the thesis asks (§4.2.1): add a learner, wait until it has caught
 * up, then promote it; the promotion is retried while the leader answers 'not-caught-up' (or
 * 'change-pending': the learner's entry, or the leader's first entry of its term, is not committed yet),
 * for at most `catchUpTimeoutMs`. A client thus makes one call.
 */
import type { Input, Membership, MembershipChange, MembershipRefusal, Message, NodeId, ReplicationEvent } from '../core/types.js';
import { ConfigError, formatAddress, parseAddress, type Address } from './config.js';
import { PendingRequests, type RequestIds } from './requests.js';

/** The configuration a node uses now. */
export interface MembershipView {
  /** The configuration entry's index; 0: the configuration the node was started with. */
  readonly index: number;
  readonly membership: Membership;
  /** Whether this node knows the entry at `index` is committed (index 0 always is). */
  readonly committed: boolean;
}

/**
 * Where this node stands in the configuration it uses (GET /status and GET /members, `member`): a
 * voter, an observer (a Raft learner), `joining` (started with --join and in no configuration yet: a
 * leader has not added it), or `removed` (it was a member, and the configuration in force no longer
 * names it). The core's role alone cannot tell the last three apart: each is a Raft 'learner'.
 */
export type MemberStanding = 'voter' | 'observer' | 'joining' | 'removed';

/**
 * How this node learned that the cluster removed it: a member it dialed answered its handshake with a
 * not-a-member frame (schema.ts, NotMember) naming the configuration at `index`.
 */
export interface Removal {
  readonly index: number;
  /** The member that said so. */
  readonly by: NodeId;
}

/** What a change request came to. */
export type ChangeOutcome =
  | { readonly type: 'done'; readonly index: number; readonly membership: Membership }
  /** This node does not lead: `leader` is the one it knows, for a redirect. */
  | { readonly type: 'not-leader'; readonly leader: NodeId | null }
  /** The leader refused the change (it would refuse it again: the client is not redirected). */
  | { readonly type: 'refused'; readonly reason: MembershipRefusal; readonly detail?: string }
  /** Another entry committed at the change's index: it did not take effect. */
  | { readonly type: 'lost' }
  /** No answer in time: the change may or may not take effect (GET /members tells). */
  | { readonly type: 'unknown' }
  | { readonly type: 'stopped' };

/** One request of a client (POST /members, `ballot member`): what users ask, before it becomes MembershipChanges. */
export type MemberRequest =
  | { readonly action: 'add'; readonly id: NodeId; readonly address: string; readonly learner: boolean }
  | { readonly action: 'promote'; readonly id: NodeId }
  | { readonly action: 'remove'; readonly id: NodeId };

export const DEFAULT_CHANGE_TIMEOUT_MS = 10_000;
/** How long an `add` waits for the new member to catch up before it gives up (it stays a learner). */
export const DEFAULT_CATCH_UP_TIMEOUT_MS = 60_000;
/** The pause between two promotions refused with 'not-caught-up' or 'change-pending'. */
const PROMOTE_RETRY_MS = 100;

export interface MembershipOptions {
  readonly id: NodeId;
  /** The configuration the node was started with (index 0), addresses included (its own too). */
  readonly initial: Membership;
  /** Started with --join: in no configuration until a leader adds it (`joining`, not `removed`). */
  readonly joining?: boolean;
  /** The peers the node's flags name (--peers, --observers), dialed while it has only `initial`. */
  readonly seeds: ReadonlyMap<NodeId, Address>;
  /** Hands an input to the node's host loop. */
  readonly submit: (input: Input<Message>) => void;
  /** The node's request ids, shared with the key-value service: the core answers both by id. */
  readonly ids: RequestIds;
  /** The peers to connect to changed (every other member, with its address). */
  readonly onPeers: (peers: ReadonlyMap<NodeId, Address>, view: MembershipView) => void;
  /** An address in a configuration entry that does not parse (never from a leader of this version). */
  readonly onBadAddress?: (member: NodeId, address: string) => void;
  readonly changeTimeoutMs?: number;
  readonly catchUpTimeoutMs?: number;
}

/** The numbers of /metrics (ballot_membership_*). */
export interface MembershipNumbers {
  readonly view: MembershipView;
  /** Answers to change requests, by outcome (done, not-leader, refused, lost, unknown, stopped). */
  readonly outcomes: ReadonlyMap<ChangeOutcome['type'], number>;
}

export class MembershipService {
  private current: MembershipView;
  /** The members of the last configuration known committed, with their addresses (at first: the flags'). */
  private committedPeers: ReadonlyMap<NodeId, Address>;
  /** The highest index this node knows is committed. */
  private committedIndex = 0;
  /** Whether a configuration this node used since it started named it (its flags' do, unless --join). */
  private wasMember: boolean;
  private readonly changes: PendingRequests<ChangeOutcome, object>;
  /** Set once a member said the cluster removed this node (notMember). */
  private removal: Removal | null = null;
  /** The pauses between promotions: each ends at once when the node stops. */
  private readonly pauses = new Map<NodeJS.Timeout, () => void>();

  constructor(private readonly options: MembershipOptions) {
    this.current = { index: 0, membership: options.initial, committed: true };
    this.wasMember = options.joining !== true || this.names(options.initial);
    this.committedPeers = options.seeds;
    this.changes = new PendingRequests<ChangeOutcome, object>(options.ids, options.changeTimeoutMs ?? DEFAULT_CHANGE_TIMEOUT_MS, { type: 'unknown' }, { type: 'stopped' });
  }

  view(): MembershipView {
    return this.current;
  }

  /** Where this node stands in the configuration in use (see MemberStanding). */
  standing(): MemberStanding {
    if (this.removal !== null) return 'removed';
    const { voters, observers } = this.current.membership;
    if (voters.includes(this.options.id)) return 'voter';
    if (observers.includes(this.options.id)) return 'observer';
    return this.wasMember ? 'removed' : 'joining';
  }

  /**
   * A member this node dialed (and, with TLS, authenticated) refused it: its configuration in force, at
   * `index`, leaves this node out. Believed — returned as the Removal, once — only when it tells of a
   * removal this node has not seen, which is the only removal a member can tell:
   * - this node was a member (a node started with --join and never added is refused the same way
   *   until a leader adds it: that is no news);
   * - `index` is beyond the configuration this node uses, or equal to it while that one already leaves
   *   this node out. A member that lags (its configuration predates the entry that added this node)
   *   refuses it too, with a lower index: ignored. A member refuses a node only once the configuration
   *   that leaves it out is committed (its links keep the last committed configuration's members,
   *   peers()), so an uncommitted removal that a new leader might drop is never told.
   * Without TLS the frame is as trustworthy as the address dialed (docs/membership.md, "Limits").
   */
  notMember(by: NodeId, index: number): Removal | null {
    if (this.removal !== null || !this.wasMember) return null;
    const stillNamed = this.names(this.current.membership);
    if (index < this.current.index || (index === this.current.index && stillNamed)) return null;
    this.removal = { index, by };
    return this.removal;
  }

  /** How this node learned it was removed (notMember); null while it has not. */
  removedBy(): Removal | null {
    return this.removal;
  }

  /** The voters of the configuration in use. */
  voters(): readonly NodeId[] {
    return this.current.membership.voters;
  }

  numbers(): MembershipNumbers {
    return { view: this.current, outcomes: this.changes.outcomes };
  }

  /** The core's replication events (the host hands every one here as well as to the key-value service). */
  onEvent(event: ReplicationEvent): void {
    switch (event.type) {
      case 'membership-changed': {
        this.current = { index: event.index, membership: event.membership, committed: event.index <= this.committedIndex };
        if (this.names(event.membership)) this.wasMember = true;
        // Index 0 is the configuration of the flags: the flags' peers stay (a joiner's are the members it was told of).
        if (this.current.committed && event.index > 0) this.committedPeers = this.peersOf(this.current.membership);
        this.options.onPeers(this.peers(), this.current);
        return;
      }
      case 'proposed':
        this.changes.proposed(event.id, event.index, event.term);
        return;
      case 'request-refused': {
        const change = this.changes.get(event.id);
        if (!change) return;
        this.changes.finish(change, event.reason === undefined ? { type: 'not-leader', leader: event.leader } : { type: 'refused', reason: event.reason });
        return;
      }
      case 'committed': {
        this.committedUpTo(event.index);
        const waiting = this.changes.committed(event.index, event.term);
        if (waiting) this.changes.finish(waiting.request, waiting.same ? { type: 'done', index: event.index, membership: this.current.membership } : { type: 'lost' });
        return;
      }
      case 'snapshot-installed':
        this.committedUpTo(event.index);
        this.changes.coveredBy(event.index);
        return;
      case 'read-ready':
        return;
      default: {
        const unreachable: never = event;
        return unreachable;
      }
    }
  }

  /** One change, answered once its entry is committed (or refused, redirected, lost, timed out). */
  change(change: MembershipChange): Promise<ChangeOutcome> {
    return this.changes.start({}, (id) => this.options.submit({ type: 'change-membership', id, change }));
  }

  /** A client's request: `add` of a voter is add-learner, then promote once it has caught up. */
  async request(request: MemberRequest): Promise<ChangeOutcome> {
    switch (request.action) {
      case 'remove':
        return this.change({ type: 'remove', peer: request.id });
      case 'promote':
        return this.promote(request.id);
      case 'add': {
        const added = await this.change({ type: 'add-learner', peer: request.id, address: request.address });
        const membership = this.current.membership;
        // A retry of an add that went through (its answer was lost): the member is there already.
        const already = added.type === 'refused' && added.reason === 'already-a-member' && membership.addresses[String(request.id)] === request.address;
        if (added.type !== 'done' && !already) return added;
        if (request.learner) return already ? this.done() : added;
        if (already && membership.voters.includes(request.id)) return this.done();
        return this.promote(request.id);
      }
    }
  }

  /** Promotes `peer`, retried while the leader says it lags or an earlier change is pending. */
  private async promote(peer: NodeId): Promise<ChangeOutcome> {
    const deadline = performance.now() + (this.options.catchUpTimeoutMs ?? DEFAULT_CATCH_UP_TIMEOUT_MS);
    for (;;) {
      const outcome = await this.change({ type: 'promote', peer });
      const retry = outcome.type === 'refused' && (outcome.reason === 'not-caught-up' || outcome.reason === 'change-pending');
      if (!retry || this.changes.isClosed) return outcome;
      if (performance.now() >= deadline) {
        return { ...outcome, detail: `node ${peer} did not catch up within ${Math.round((this.options.catchUpTimeoutMs ?? DEFAULT_CATCH_UP_TIMEOUT_MS) / 1000)} s; it stays a learner (promote it later)` };
      }
      await this.sleep(PROMOTE_RETRY_MS);
    }
  }

  /** The node stops: every waiting client is answered 'stopped'. */
  close(): void {
    this.changes.close();
    for (const [timer, wake] of [...this.pauses]) {
      clearTimeout(timer);
      wake();
    }
    this.pauses.clear();
  }

  /** Every other member of the configuration in use and of the last one known committed (see the file comment). */
  private peers(): Map<NodeId, Address> {
    const peers = this.peersOf(this.current.membership);
    for (const [member, address] of this.committedPeers) if (!peers.has(member) && member !== this.options.id) peers.set(member, address);
    return peers;
  }

  private names(membership: Membership): boolean {
    return membership.voters.includes(this.options.id) || membership.observers.includes(this.options.id);
  }

  /** Every member of `membership` but this node, at the address its entry carries. */
  private peersOf(membership: Membership): Map<NodeId, Address> {
    const peers = new Map<NodeId, Address>();
    const { voters, observers, addresses } = membership;
    for (const member of [...voters, ...observers]) {
      if (member === this.options.id) continue;
      const text = addresses[String(member)];
      const address = text === undefined ? undefined : addressOf(text);
      if (address === undefined) {
        // A member without a usable address: keep the one the flags gave, if any.
        const seed = this.options.seeds.get(member);
        if (seed) peers.set(member, seed);
        else this.options.onBadAddress?.(member, text ?? '');
        continue;
      }
      peers.set(member, address);
    }
    return peers;
  }

  private committedUpTo(index: number): void {
    if (index <= this.committedIndex) return;
    this.committedIndex = index;
    if (this.current.committed || this.current.index > index) return;
    this.current = { ...this.current, committed: true };
    // The members it removed are dropped now (and a joiner forgets the addresses its flags gave).
    this.committedPeers = this.peersOf(this.current.membership);
    this.options.onPeers(this.peers(), this.current);
  }

  private done(): ChangeOutcome {
    return this.changes.count({ type: 'done', index: this.current.index, membership: this.current.membership });
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.pauses.delete(timer);
        resolve();
      }, ms);
      this.pauses.set(timer, resolve);
    });
  }

}

/** A peer address from a configuration entry, or undefined when it does not parse. */
function addressOf(text: string): Address | undefined {
  try {
    return parseAddress(text, 'address');
  } catch (error) {
    if (error instanceof ConfigError) return undefined;
    throw error;
  }
}

/** The configuration a node starts with: its flags' voters and observers, each with its address (its own too). */
export function startMembership(voters: readonly NodeId[], observers: readonly NodeId[], own: { readonly id: NodeId; readonly address: Address }, others: ReadonlyMap<NodeId, Address>): Membership {
  const addresses: Record<string, string> = {};
  for (const member of [...voters, ...observers]) {
    const address = member === own.id ? own.address : others.get(member);
    if (address !== undefined) addresses[String(member)] = formatAddress(address);
  }
  return { voters: [...voters], observers: [...observers], addresses };
}

/** The longest POST /members body read (a request is a few dozen bytes). */
export const MAX_MEMBER_REQUEST_BYTES = 1024;
/** The longest address a request may carry ("HOST:PORT"; a DNS name is at most 253 characters). */
const MAX_ADDRESS_LENGTH = 300;
const ACTIONS = ['add', 'remove', 'promote'] as const;

/**
 * A client's request as POST /members takes it (JSON), checked: the request, or what is wrong with it
 * in one line. `{"action":"add","id":4,"address":"127.0.0.1:7004"}` (`"learner":true` to stay a
 * learner), `{"action":"remove","id":1}`, `{"action":"promote","id":4}`.
 */
export function parseMemberRequest(value: unknown): MemberRequest | string {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return 'the body must be a JSON object like {"action":"add","id":4,"address":"HOST:PORT"}';
  const fields = value as Record<string, unknown>;
  const { action, id } = fields;
  if (typeof action !== 'string' || !(ACTIONS as readonly string[]).includes(action)) return `"action" must be one of ${ACTIONS.join(', ')}`;
  const allowed = action === 'add' ? ['action', 'id', 'address', 'learner'] : ['action', 'id'];
  const unknown = Object.keys(fields).find((key) => !allowed.includes(key));
  if (unknown !== undefined) return `unknown field ${JSON.stringify(unknown.slice(0, 40))} for "${action}" (fields: ${allowed.join(', ')})`;
  if (typeof id !== 'number' || !Number.isSafeInteger(id) || id < 1) return '"id" must be a positive integer (a node id)';
  if (action === 'remove' || action === 'promote') return { action, id };
  const { address, learner } = fields;
  if (typeof address !== 'string' || address.length > MAX_ADDRESS_LENGTH) return `"address" must be the new member's peer address, HOST:PORT (at most ${MAX_ADDRESS_LENGTH} characters)`;
  if (learner !== undefined && typeof learner !== 'boolean') return '"learner" must be true or false';
  let parsed: Address;
  try {
    parsed = parseAddress(address, 'address');
  } catch (error) {
    if (error instanceof ConfigError) return error.message;
    throw error;
  }
  return { action: 'add', id, address: formatAddress(parsed), learner: learner === true };
}
