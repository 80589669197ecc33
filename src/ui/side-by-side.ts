/**
 * The visualizer's model, without the DOM: every registered algorithm (Bully, Raft, ZAB) run on the same
 * seed, cluster size, scenario and clicked faults, on one shared virtual clock; rewinding by re-running
 * the deterministic simulation; a moment written as a URL and read back; and the words the page shows
 * (captions, message groups, the comparison strip), all derived from typed simulator data — timeline
 * kinds, role words, snapshots — never from English text. Node's test runner exercises it directly
 * (side-by-side.test.ts); the browser test checks that the page shows it.
 */
import { algorithms } from '../core/algorithms.js';
import type { AnyAlgorithm, NodeId } from '../core/types.js';
import {
  actionNames,
  createRun,
  isScenarioName,
  parseSchedule,
  type Action,
  type LatencyRange,
  type NodeView,
  type RunSnapshot,
  type ScenarioName,
  type SimRun,
  type TimelineEntry,
} from '../sim/index.js';

/** What every pane shares. */
export interface Setup {
  readonly nodes: number;
  readonly seed: number;
  readonly scenario: ScenarioName;
  readonly latency: LatencyRange;
}

/**
 * The latency the page starts with: slow enough that a message is seen crossing the screen at the
 * default 0.1× (a 20 ms hop takes 200 ms), still well under the 150–300 ms election timeouts.
 */
export const watchingLatency: LatencyRange = { minMs: 10, maxMs: 30 };

export const defaultSetup: Setup = { nodes: 5, seed: 1, scenario: 'leader-crash', latency: watchingLatency };

/** A fault clicked on the page, at the virtual time it was applied to every pane. */
export interface Click {
  readonly atMs: number;
  readonly action: Action;
}

/** Clicks are applied on a 1 ms grid, so a moment's URL stays short and replays exactly. */
export const clickGridMs = 1;

export interface Pane {
  readonly algorithm: AnyAlgorithm;
  readonly run: SimRun;
}

/** The algorithms side by side: every one the registry holds (a fourth gets a fourth pane). */
export const paneAlgorithms: readonly AnyAlgorithm[] = Object.values(algorithms);

/**
 * The panes on one clock. Clicks are recorded as a schedule: going back rebuilds the runs and replays
 * the clicks made before the target time, so the state at any time is that of a fresh run with the
 * same setup and clicks (the simulator is deterministic: a seed replays exactly).
 */
export class SideBySide {
  panes: Pane[];
  private clickList: Click[];
  /** How many clicks of `clickList` the runs have carried out. */
  private applied = 0;
  private now = 0;

  constructor(
    readonly setup: Setup,
    clicks: readonly Click[] = [],
  ) {
    this.clickList = [...clicks].sort((a, b) => a.atMs - b.atMs);
    this.panes = this.freshPanes();
  }

  get nowMs(): number {
    return this.now;
  }

  get clicks(): readonly Click[] {
    return this.clickList;
  }

  /** The latest time of interest: the scenario's end, or later if the clock or a click went past it. */
  get endMs(): number {
    return Math.max(this.panes[0]?.run.durationMs ?? 0, this.now, ...this.clickList.map((c) => c.atMs));
  }

  /** Advances every pane to `timeMs` (never back: see `seek`), carrying out the recorded clicks on the way. */
  advanceTo(timeMs: number): void {
    if (timeMs < this.now) return;
    for (; this.applied < this.clickList.length && this.clickList[this.applied]!.atMs <= timeMs; this.applied++) {
      const click = this.clickList[this.applied]!;
      for (const { run } of this.panes) {
        run.stepUntil(click.atMs);
        run.inject(click.action);
        run.stepUntil(click.atMs); // carries it out now, so every pane changes at the same instant
      }
    }
    for (const { run } of this.panes) run.stepUntil(timeMs);
    this.now = timeMs;
  }

  /** Goes to `timeMs`: forward by stepping, back by re-running from the start (the clicks are kept). */
  seek(timeMs: number): void {
    const target = Math.max(0, timeMs);
    if (target < this.now) {
      this.panes = this.freshPanes();
      this.applied = 0;
      this.now = 0;
    }
    this.advanceTo(target);
  }

  /**
   * Applies a fault to every pane now (rounded up to the click grid). Clicks recorded after now are
   * forgotten: after a rewind, a new click starts a new history.
   */
  click(action: Action): Click {
    // Never below now (advanceTo does not go back): ceil, with no tolerance for a clock a hair past the grid.
    const atMs = Math.ceil(this.now / clickGridMs) * clickGridMs;
    this.clickList = this.clickList.filter((c) => c.atMs <= this.now);
    this.applied = Math.min(this.applied, this.clickList.length);
    const click = { atMs, action };
    this.clickList.push(click);
    this.advanceTo(atMs);
    return click;
  }

  private freshPanes(): Pane[] {
    const { nodes, seed, scenario, latency } = this.setup;
    return paneAlgorithms.map((algorithm) => ({ algorithm, run: createRun({ algorithm, nodes, seed, scenario, latency, timeline: true }) }));
  }
}

// ---- clicks on the page ---------------------------------------------------------------------------

/** The faults the page offers; `pause` only where the simulator knows it (checked at run time). */
export type ClickKind = 'crash' | 'restart' | 'isolate' | 'split' | 'heal' | 'pause';

/**
 * The action for a click, validated by the simulator's own schedule parser (so a fault the simulator
 * does not know, or knows with other fields, is refused rather than guessed): null when refused.
 * `target` is a node id, 'leader' or 'all' (restart); `split` puts the leader in a minority.
 */
export function clickAction(kind: ClickKind, target: NodeId | 'leader' | 'all' | null, nodes: number): Action | null {
  const raw: Record<string, unknown> = { atMs: 0, do: kind };
  if (kind === 'split') raw['minority'] = Math.max(1, Math.ceil(nodes / 2) - 1);
  else if (kind !== 'heal') raw['node'] = target;
  return validAction(raw, nodes);
}

function validAction(raw: Record<string, unknown>, nodes: number): Action | null {
  if (!(actionNames as readonly string[]).includes(String(raw['do']))) return null;
  try {
    return parseSchedule([raw], Array.from({ length: nodes }, (_, i) => i + 1))[0] ?? null;
  } catch {
    return null;
  }
}

// ---- a moment as a URL ----------------------------------------------------------------------------

/** Everything needed to rebuild a moment: the setup, the clicks and the time. */
export interface Moment {
  readonly setup: Setup;
  readonly clicks: readonly Click[];
  readonly atMs: number;
}

/** One click as text: `2000.5-crash-leader`, `3000-heal`, `2500-split-2` (the split's minority). */
function clickText({ atMs, action }: Click): string {
  const arg = action.do === 'split' ? action.minority : 'node' in action ? action.node : null;
  return [String(atMs), action.do, ...(arg === null ? [] : [String(arg)])].join('-');
}

function parseClick(text: string, nodes: number): Click | null {
  const [at, kind, arg, ...rest] = text.split('-');
  const atMs = Number(at);
  if (at === '' || !Number.isFinite(atMs) || atMs < 0 || rest.length > 0) return null;
  const raw: Record<string, unknown> = { atMs: 0, do: kind };
  const value = arg === 'leader' || arg === 'all' ? arg : Number(arg);
  if (kind === 'split') raw['minority'] = value;
  else if (arg !== undefined) raw['node'] = value;
  const action = validAction(raw, nodes);
  return action ? { atMs, action } : null;
}

/** The query string of a moment: `?nodes=5&seed=1&scenario=leader-crash&latency=10-30&t=2450&clicks=…`. */
export function momentQuery(moment: Moment): string {
  const { setup } = moment;
  const params = new URLSearchParams({
    nodes: String(setup.nodes),
    seed: String(setup.seed),
    scenario: setup.scenario,
    latency: `${setup.latency.minMs}-${setup.latency.maxMs}`,
    t: String(Math.round(moment.atMs * 10) / 10),
  });
  if (moment.clicks.length > 0) params.set('clicks', moment.clicks.map(clickText).join('~'));
  return `?${params.toString()}`;
}

/** Reads a moment from a query string; what is missing takes the default, what is wrong is an error line. */
export function parseMoment(query: string): { moment: Moment } | { error: string } {
  const params = new URLSearchParams(query);
  const number = (key: string, fallback: number) => {
    const text = params.get(key);
    return text === null || text === '' ? fallback : Number(text);
  };
  const nodes = number('nodes', defaultSetup.nodes);
  const seed = number('seed', defaultSetup.seed);
  const scenario = params.get('scenario') ?? defaultSetup.scenario;
  const [minMs, maxMs] = (params.get('latency') ?? `${watchingLatency.minMs}-${watchingLatency.maxMs}`).split('-').map(Number);
  const atMs = number('t', 0);
  if (!Number.isInteger(nodes) || nodes < 3 || nodes > 9) return { error: 'nodes: a whole number from 3 to 9' };
  if (!Number.isSafeInteger(seed) || seed < 0) return { error: 'seed: a whole number, 0 or more' };
  if (!isScenarioName(scenario)) return { error: `unknown scenario ${scenario}` };
  if (!(Number.isFinite(minMs) && Number.isFinite(maxMs) && minMs! >= 0 && minMs! <= maxMs!)) return { error: 'latency: MIN-MAX in ms' };
  if (!Number.isFinite(atMs) || atMs < 0) return { error: 't: a time in ms, 0 or more' };
  const clicks: Click[] = [];
  for (const text of (params.get('clicks') ?? '').split('~').filter((t) => t !== '')) {
    const click = parseClick(text, nodes);
    if (!click) return { error: `clicks: cannot read "${text}"` };
    clicks.push(click);
  }
  return { moment: { setup: { nodes, seed, scenario, latency: { minMs: minMs!, maxMs: maxMs! } }, clicks, atMs } };
}

// ---- roles, message groups, captions --------------------------------------------------------------

/** What a role word means, whatever the algorithm calls it. */
export type RoleKind = 'leading' | 'electing' | 'following' | 'observing' | 'other';

export function roleKind(role: string): RoleKind {
  switch (role) {
    case 'leader':
    case 'leading':
      return 'leading';
    case 'precandidate':
    case 'candidate':
    case 'electing':
    case 'looking':
      return 'electing';
    case 'follower':
    case 'following':
      return 'following';
    case 'learner':
    case 'observing':
      return 'observing';
    default:
      return 'other';
  }
}

/** Message types by purpose: asking for and answering votes, taking office, and the leader's heartbeat. */
export type MessageGroup = 'election' | 'office' | 'heartbeat';

/** The types that elect (everything else but the heartbeat is the winner taking office). */
const electionTypes: ReadonlySet<string> = new Set(['PreVote', 'PreVoteResponse', 'RequestVote', 'RequestVoteResponse', 'TimeoutNow', 'Election', 'Alive', 'Notification']);

export function messageGroup(algorithm: AnyAlgorithm, type: string): MessageGroup {
  if (algorithm.heartbeatTypes.includes(type)) return 'heartbeat';
  return electionTypes.has(type) ? 'election' : 'office';
}

export const groupNames: Record<MessageGroup, string> = { election: 'electing', office: 'taking office', heartbeat: 'heartbeat' };

/** Colours per group (warm: electing; purple: taking office; blue: heartbeat), shades within a group. */
const groupShades: Record<MessageGroup, readonly string[]> = {
  election: ['#d55e00', '#e69f00', '#b8860b', '#a6611a', '#f4a582'],
  office: ['#7f3c8d', '#cc79a7', '#9b59b6', '#e7298a', '#5e2a84', '#b07aa1', '#c51b7d', '#8e0152'],
  // The heartbeat and replication (log entries, snapshots, ZAB's broadcast, Bully's copies): blues and teals.
  heartbeat: ['#0072b2', '#56b4e9', '#2c7fb8', '#a6cee3', '#009e73', '#66c2a5', '#1b9e77', '#b3e2cd'],
};

/** A colour per message type of the algorithm, its group's hue. */
export function messageColours(algorithm: AnyAlgorithm): Map<string, { group: MessageGroup; colour: string }> {
  const used: Record<MessageGroup, number> = { election: 0, office: 0, heartbeat: 0 };
  const colours = new Map<string, { group: MessageGroup; colour: string }>();
  for (const type of algorithm.messageTypes) {
    const group = messageGroup(algorithm, type);
    const shades = groupShades[group];
    colours.set(type, { group, colour: shades[used[group]++ % shades.length]! });
  }
  return colours;
}

/** What a node's term is called in the algorithm's own words. */
export function termWord(algorithm: AnyAlgorithm): string {
  switch (algorithm.name) {
    case 'zab':
      return 'epoch';
    case 'bully':
      return 'generation';
    default:
      return 'term';
  }
}

/** What an electing node does, in the algorithm's words (a verb phrase for one node). */
function electingWords(algorithm: AnyAlgorithm, term: number): string {
  switch (algorithm.name) {
    case 'raft':
      return `asks for votes in term ${term}`;
    case 'bully':
      return 'challenges every higher id';
    case 'zab':
      return 'trades votes until a quorum backs one history';
    default:
      return `runs an election (${termWord(algorithm)} ${term})`;
  }
}

function winningWords(algorithm: AnyAlgorithm, node: NodeId, term: number): string {
  switch (algorithm.name) {
    case 'raft':
      return `${node} won a majority of votes: it leads term ${term}`;
    case 'bully':
      return `${node} heard from no higher id: it declares itself coordinator (generation ${term})`;
    case 'zab':
      return `${node} is leading epoch ${term}: a quorum of followers synced with it`;
    default:
      return `${node} leads, ${termWord(algorithm)} ${term}`;
  }
}

/** Why a node's timer matters, in the algorithm's words: what it waits for. */
function waitingWords(algorithm: AnyAlgorithm): string {
  switch (algorithm.name) {
    case 'raft':
      return 'election timers run down with no heartbeat to reset them';
    case 'bully':
      return 'failure detectors run down with no heartbeat';
    case 'zab':
      return 'followers wait out their session timeouts with no ping';
    default:
      return 'timers run down';
  }
}

const list = (ids: readonly NodeId[]): string => (ids.length <= 1 ? ids.join('') : `${ids.slice(0, -1).join(', ')} and ${ids.at(-1)}`);

/**
 * One line: what just happened in this pane and why. From the typed state only: the latest timeline
 * entry (by its kind) and who is electing now (by role word), so it is the same after a rewind.
 */
export function caption(algorithm: AnyAlgorithm, snap: RunSnapshot): string {
  const last = snap.timeline.at(-1);
  if (snap.agreedLeader === null && (last === undefined || !isNews(last))) {
    const electing = snap.nodes.filter((n) => n.up && roleKind(n.role) === 'electing');
    if (electing.length > 0) return electingCaption(algorithm, electing, snap);
    // ZAB's prospective leader: it says "leading" but serves only once a quorum has synced with it.
    const establishing = snap.nodes.find((n) => n.up && roleKind(n.role) === 'leading' && n.leader !== n.node);
    if (establishing) return `${establishing.node} is ${establishing.role}: it must sync a quorum of followers before it leads ${termWord(algorithm)} ${establishing.term}`;
  }
  if (last === undefined) return 'No leader yet: every node waits for its timer (the arc) to run out';
  return entryCaption(algorithm, last, snap);
}

/** Entries that outrank an election in progress (a fault just clicked must be seen). */
function isNews(entry: TimelineEntry): boolean {
  return entry.kind === 'crash' || entry.kind === 'isolate' || entry.kind === 'partition' || entry.kind === 'violation';
}

function electingCaption(algorithm: AnyAlgorithm, electing: readonly NodeView[], snap: RunSnapshot): string {
  // A Raft precandidate (PreVote, thesis §9.6) asks about the term after its own, which it keeps until a majority would vote.
  const asksFor = (n: NodeView): number => (n.role === 'precandidate' ? n.term + 1 : n.term);
  const top = Math.max(...electing.map(asksFor));
  const aheadNodes = electing.filter((n) => asksFor(n) === top);
  const ahead = aheadNodes.map((n) => n.node);
  const does = aheadNodes.every((n) => n.role === 'precandidate') ? `asks whether a majority would vote for it in term ${top} (PreVote)` : electingWords(algorithm, top);
  if (algorithm.name === 'raft') {
    // A Raft candidate exists only because its election timeout ran out (§5.2); a term past the one
    // after the last leader's means an earlier vote split or stalled.
    const retry = top > (snap.leaders.at(-1)?.term ?? 0) + 1;
    if (ahead.length === 1) return `${ahead[0]} timed out ${retry ? 'again (the last vote split or stalled)' : 'first'}: it ${does}`;
    return `${list(ahead)} timed out together: each ${does}, so the vote may split`;
  }
  // Bully and ZAB nodes also join an election because another node's message told them to.
  const role = electing[0]!.role;
  if (ahead.length === 1 && electing.length === 1) return `${ahead[0]} is ${role}: it ${does}`;
  return `${list(electing.map((n) => n.node))} are ${role}: each ${does}`;
}

function entryCaption(algorithm: AnyAlgorithm, entry: TimelineEntry, snap: RunSnapshot): string {
  switch (entry.kind) {
    case 'became-leader':
      return winningWords(algorithm, entry.node, entry.term);
    case 'agreed':
      return `Every live node follows ${entry.leader} (${termWord(algorithm)} ${entry.term}), ${entry.afterMs.toFixed(0)} ms after the election began`;
    case 'crash':
      // The leader's crash is followed by 'leader-lost' at the same instant, which says more.
      return `${entry.node} crashed: it answers nothing until it restarts`;
    case 'restart':
      return `${entry.node} restarted from its durable state`;
    case 'pause':
      return `${entry.node} is frozen for ${entry.forMs.toFixed(0)} ms: its clock runs on, its messages wait`;
    case 'resume':
      return `${entry.node} resumes and reads what arrived while it was frozen`;
    case 'drift':
      return `${entry.node}'s clock now runs at ${entry.rate}× real time`;
    case 'isolate':
      return `${entry.node} is cut off from everyone: the others hear nothing from it`;
    case 'partition':
      return `The network splits into ${entry.groups.map((g) => `[${g.join(',')}]`).join(' ')}: only a side with a majority can elect`;
    case 'cut':
      return `Messages from ${entry.from} to ${entry.to} are lost`;
    case 'heal':
      return 'The network heals: every node hears every other again';
    case 'loss':
    case 'duplicate':
    case 'latency':
    case 'membership-changed':
    case 'membership-committed':
      return entry.text;
    case 'skipped':
      return 'No leader to fault right now: skipped';
    case 'leader-lost': {
      // Say what happened to it when a fault at this instant did it.
      const cause = [...snap.timeline].reverse().find((e) => e.atMs === entry.atMs && (e.kind === 'crash' || e.kind === 'isolate') && e.node === entry.leader);
      const how = cause?.kind === 'crash' ? 'crashed' : cause?.kind === 'isolate' ? 'is cut off' : 'is gone';
      return `Leader ${entry.leader} ${how}: the ${waitingWords(algorithm)}`;
    }
    case 'dual-leaders':
      return `${list(entry.leaders.map((l) => l.node))} each believe they lead (${entry.leaders.map((l) => `${termWord(algorithm)} ${l.term}`).join(' vs ')})`;
    case 'one-leader':
      return `One leader again, after ${entry.afterMs.toFixed(0)} ms of two`;
    case 'violation':
      return `Invariant broken: ${entry.invariant}`;
  }
}

// ---- the comparison strip -------------------------------------------------------------------------

export interface Comparison {
  readonly algorithm: string;
  readonly leader: NodeId | null;
  /** The first election's duration, ms (null while none has finished). */
  readonly firstElectionMs: number | null;
  /** The latest failover's duration (an election after the first), ms. */
  readonly lastFailoverMs: number | null;
  /** Time since the agreed leader was lost, while an election is under way. */
  readonly electingForMs: number | null;
  readonly elections: number;
  readonly leaderChanges: number;
  readonly messages: number;
  /** Time two or more nodes believed they led, so far (including a stretch still going on). */
  readonly dualLeaderMs: number;
  // Lease-overlap time joins here once snapshots carry leases (Raft): the time two nodes held one.
}

export function compare(algorithm: AnyAlgorithm, snap: RunSnapshot): Comparison {
  const { elections, timeline } = snap;
  let dualLeaderMs = 0;
  let dualSince: number | null = null;
  let lostAt: number | null = snap.leaders.length === 0 ? 0 : null;
  for (const entry of timeline) {
    if (entry.kind === 'dual-leaders') dualSince = entry.atMs;
    if (entry.kind === 'one-leader') {
      dualLeaderMs += entry.afterMs;
      dualSince = null;
    }
    if (entry.kind === 'leader-lost') lostAt = entry.atMs;
    if (entry.kind === 'agreed') lostAt = null;
  }
  if (dualSince !== null) dualLeaderMs += snap.nowMs - dualSince;
  const took = (i: number) => (elections[i] ? elections[i].endMs - elections[i].startMs : null);
  return {
    algorithm: algorithm.name,
    leader: snap.agreedLeader,
    firstElectionMs: took(0),
    lastFailoverMs: elections.length > 1 ? took(elections.length - 1) : null,
    electingForMs: snap.agreedLeader === null && lostAt !== null ? snap.nowMs - lostAt : null,
    elections: elections.length,
    leaderChanges: snap.leaders.length,
    messages: snap.messagesSent,
    dualLeaderMs,
  };
}
