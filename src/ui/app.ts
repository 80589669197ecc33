/// <reference lib="dom" />
/**
 * The browser visualizer (DESIGN.md's third host: the simulator compiled for the page). It drives the
 * very same core algorithms and simulator engine as `ballot sim`, through the stepping API
 * (createRun): each animation frame advances virtual time by wall time × speed, then draws a snapshot.
 * Nothing here decides anything about elections; it only shows what the simulator did.
 */
import { algorithms, findAlgorithm } from '../core/algorithms.js';
import type { AnyAlgorithm, NodeId } from '../core/types.js';
import { createRun, scenarioNames, isScenarioName, type Action, type RunSnapshot, type SimRun, type TimelineEntry } from '../sim/index.js';

const SVG = 'http://www.w3.org/2000/svg';
const W = 600;
const H = 520;
const CX = W / 2;
const CY = H / 2 + 6;
const RING = 190;
const NODE_R = 34;
/** Timeline entries kept on the page (a long random run at 10× would otherwise grow without bound). */
const MAX_TIMELINE = 1000;

/** Role colours: the leader stands out, those electing are warm, followers cool, observers muted. */
function roleColour(role: string, believesLeader: boolean, up: boolean): string {
  if (!up) return '#b9bec7';
  if (believesLeader) return '#f2b705';
  switch (role) {
    case 'leader':
    case 'leading':
      return '#f7d46b'; // says leader but not (yet) established (ZAB before NEWLEADER is acked)
    case 'precandidate':
    case 'candidate':
    case 'electing':
    case 'looking':
      return '#f08a4b';
    case 'follower':
    case 'following':
      return '#5b8def';
    case 'learner':
    case 'observing':
      return '#9b7fd1';
    default:
      return '#8fa0b5';
  }
}

/** Okabe–Ito first (colour-blind friendly), then distinct extras: one colour per message type (ZAB has 10). */
const palette = ['#0072b2', '#d55e00', '#009e73', '#cc79a7', '#e69f00', '#56b4e9', '#7f3c8d', '#000000', '#a6761d', '#e7298a', '#66a61e', '#808080'];

const $ = <T extends HTMLElement>(id: string): T => {
  const element = document.getElementById(id);
  if (!element) throw new Error(`missing #${id}`);
  return element as T;
};

const ui = {
  algorithm: $<HTMLSelectElement>('algorithm'),
  nodes: $<HTMLInputElement>('nodes'),
  seed: $<HTMLInputElement>('seed'),
  scenario: $<HTMLSelectElement>('scenario'),
  latency: $<HTMLSelectElement>('latency'),
  start: $<HTMLButtonElement>('start'),
  play: $<HTMLButtonElement>('play'),
  step: $<HTMLButtonElement>('step'),
  speed: $<HTMLSelectElement>('speed'),
  clock: $('clock'),
  leader: $('leader'),
  stage: document.getElementById('stage') as unknown as SVGSVGElement,
  roles: $('roles'),
  messages: $('messages'),
  network: $('network'),
  timeline: $<HTMLUListElement>('timeline'),
  elections: $('elections'),
  error: $('error'),
};

for (const name of Object.keys(algorithms)) ui.algorithm.add(new Option(name, name, name === 'raft', name === 'raft'));
for (const name of scenarioNames) ui.scenario.add(new Option(name, name, name === 'leader-crash', name === 'leader-crash'));

// Settings from the address (?algorithm=raft&nodes=5&seed=1&scenario=leader-crash&speed=10), so a run can be linked.
const query = new URLSearchParams(location.search);
for (const key of ['algorithm', 'nodes', 'seed', 'scenario', 'latency', 'speed'] as const) {
  const value = query.get(key);
  if (value !== null) ui[key].value = value;
}

interface Current {
  readonly algorithm: AnyAlgorithm;
  readonly run: SimRun;
  readonly size: number;
  readonly colours: ReadonlyMap<string, string>;
  readonly positions: ReadonlyMap<NodeId, { x: number; y: number }>;
  /** Drawn once per run and updated in place, so a click is never lost to a redraw. */
  readonly figures: ReadonlyMap<NodeId, NodeFigure>;
  readonly links: SVGGElement;
  readonly dots: SVGGElement;
  readonly caption: SVGTextElement;
  shownTimeline: number;
  shownElections: number;
}

interface NodeFigure {
  readonly group: SVGGElement;
  readonly ring: SVGCircleElement;
  readonly body: SVGCircleElement;
  readonly role: SVGTextElement;
  readonly detail: SVGTextElement;
  up: boolean;
}

let current: Current | null = null;
let playing = true;
let lastFrame = performance.now();

function newRun(): void {
  ui.error.textContent = '';
  const algorithm = findAlgorithm(ui.algorithm.value);
  const size = Number(ui.nodes.value);
  const seed = Number(ui.seed.value);
  const scenario = ui.scenario.value;
  const [minMs, maxMs] = ui.latency.value.split('-').map(Number);
  if (!algorithm) return fail(`unknown algorithm ${ui.algorithm.value}`);
  if (!Number.isInteger(size) || size < 3 || size > 9) return fail('nodes: a whole number from 3 to 9');
  if (!Number.isSafeInteger(seed) || seed < 0) return fail('seed: a whole number, 0 or more');
  if (!isScenarioName(scenario)) return fail(`unknown scenario ${scenario}`);
  const run = createRun({
    algorithm,
    nodes: size,
    seed,
    scenario,
    timeline: true,
    latency: { minMs: minMs ?? 1, maxMs: maxMs ?? 5 },
  });
  const colours = new Map(algorithm.messageTypes.map((type, i) => [type, palette[i % palette.length]!]));
  const positions = new Map<NodeId, { x: number; y: number }>();
  for (let i = 0; i < size; i++) {
    const angle = -Math.PI / 2 + (2 * Math.PI * i) / size;
    positions.set(i + 1, { x: CX + RING * Math.cos(angle), y: CY + RING * Math.sin(angle) });
  }
  const links = svg('g', {});
  const dots = svg('g', {});
  const caption = svg('text', { x: 8, y: 16, 'font-size': 13, fill: '#6a7282' });
  const figures = new Map<NodeId, NodeFigure>();
  const nodeLayer = svg('g', {});
  for (const [id, p] of positions) {
    const group = svg('g', { class: 'node', 'data-node': id });
    const ring = svg('circle', { cx: p.x, cy: p.y, r: NODE_R + 7, fill: 'none', stroke: '#f2b705', 'stroke-width': 3 });
    const body = svg('circle', { cx: p.x, cy: p.y, r: NODE_R, 'stroke-width': 1.5 });
    const role = svg('text', { x: p.x, y: p.y + 14, 'text-anchor': 'middle', 'font-size': 11, fill: '#1d2330' });
    const below = p.y > CY ? NODE_R + 18 : -NODE_R - 10;
    const detail = svg('text', { x: p.x, y: p.y + below, 'text-anchor': 'middle', 'font-size': 12, fill: '#4a5263' });
    const label = svg('text', { x: p.x, y: p.y - 4, 'text-anchor': 'middle', 'font-size': 20, 'font-weight': 700, fill: '#1d2330' }, String(id));
    group.append(ring, body, label, role, detail);
    const figure: NodeFigure = { group, ring, body, role, detail, up: true };
    group.addEventListener('click', () => inject(figure.up ? { atMs: 0, do: 'crash', node: id } : { atMs: 0, do: 'restart', node: id }));
    figures.set(id, figure);
    nodeLayer.append(group);
  }
  ui.stage.replaceChildren(links, caption, dots, nodeLayer);
  current = { algorithm, run, size, colours, positions, figures, links, dots, caption, shownTimeline: 0, shownElections: 0 };
  ui.timeline.replaceChildren();
  ui.elections.replaceChildren();
  drawLegend(current);
  draw(current);
}

function fail(message: string): void {
  ui.error.textContent = message;
}

function drawLegend(c: Current): void {
  const item = (colour: string, text: string) => {
    const span = document.createElement('span');
    const dot = document.createElement('i');
    dot.style.background = colour;
    span.append(dot, text);
    return span;
  };
  ui.roles.replaceChildren(
    item(roleColour('', true, true), 'leader'),
    ...c.algorithm.roles.filter((r) => r !== 'leader' && r !== 'leading').map((r) => item(roleColour(r, false, true), r)),
    item(roleColour('', false, false), 'crashed'),
  );
  ui.messages.replaceChildren(...[...c.colours].map(([type, colour]) => item(colour, type)));
}

function svg<K extends keyof SVGElementTagNameMap>(tag: K, attrs: Record<string, string | number>, text?: string): SVGElementTagNameMap[K] {
  const element = document.createElementNS(SVG, tag);
  for (const [key, value] of Object.entries(attrs)) element.setAttribute(key, String(value));
  if (text !== undefined) element.textContent = text;
  return element;
}

function draw(c: Current): void {
  const snap = c.run.snapshot();
  const end = c.run.durationMs;
  // The scenario's faults and the convergence check are planned within durationMs; the run may go on.
  ui.clock.textContent = `${snap.nowMs.toFixed(1)} ms${snap.nowMs >= end ? ' (scenario over)' : ` of ${end}`}`;
  const group = new Map<NodeId, number>();
  snap.components.forEach((members, i) => members.forEach((id) => group.set(id, i)));
  // Links between every pair; a cut link (different partition groups) is drawn dashed red.
  const links: SVGElement[] = [];
  for (let a = 1; a <= c.size; a++) {
    for (let b = a + 1; b <= c.size; b++) {
      const p = c.positions.get(a)!;
      const q = c.positions.get(b)!;
      const cut = group.get(a) !== group.get(b);
      links.push(svg('line', { x1: p.x, y1: p.y, x2: q.x, y2: q.y, stroke: cut ? '#f0a0a2' : '#e6e9ee', 'stroke-width': cut ? 1 : 1.2, 'stroke-dasharray': cut ? '3 5' : '' }));
    }
  }
  c.links.replaceChildren(...links);
  // Messages in flight: a dot moving from sender to receiver, at the fraction of its latency elapsed.
  const dots: SVGElement[] = [];
  for (const m of snap.inFlight) {
    const p = c.positions.get(m.from);
    const q = c.positions.get(m.to);
    if (!p || !q) continue;
    const span = m.deliverMs - m.sentMs;
    const f = span > 0 ? Math.min(1, Math.max(0, (snap.nowMs - m.sentMs) / span)) : 1;
    // Dropped on arrival: across a partition, or to a node that is down.
    const doomed = group.get(m.from) !== group.get(m.to) || snap.nodes.find((n) => n.node === m.to)?.up === false;
    dots.push(
      svg('circle', {
        cx: p.x + (q.x - p.x) * f,
        cy: p.y + (q.y - p.y) * f,
        r: 5,
        fill: c.colours.get(m.type) ?? '#444',
        opacity: doomed ? 0.3 : 0.9,
        class: 'message',
        'data-type': m.type,
      }),
    );
  }
  c.dots.replaceChildren(...dots);
  for (const n of snap.nodes) {
    const figure = c.figures.get(n.node);
    if (!figure) continue;
    const believes = n.up && n.leader === n.node;
    figure.up = n.up;
    figure.group.dataset['role'] = n.up ? n.role : 'crashed';
    figure.group.dataset['up'] = String(n.up);
    figure.ring.setAttribute('visibility', believes ? 'visible' : 'hidden');
    figure.body.setAttribute('fill', roleColour(n.role, believes, n.up));
    figure.body.setAttribute('stroke', n.up ? '#1d2330' : '#8a919c');
    figure.body.setAttribute('stroke-dasharray', n.up ? '' : '4 3');
    figure.role.textContent = n.up ? n.role : 'crashed';
    figure.detail.textContent = `term ${n.term} · leader ${n.leader ?? '–'}`;
  }
  c.caption.textContent = `${c.algorithm.name} · ${snap.inFlight.length} in flight`;

  const leader = snap.agreedLeader;
  const term = snap.nodes.find((n) => n.node === leader)?.term;
  ui.leader.dataset['leader'] = leader === null ? '' : String(leader);
  // The simulator's agreement covers the largest group of live nodes that can talk to each other; under
  // a partition the others may still name someone else (a stale leader), so say which nodes agree.
  const partitioned = snap.components.length > 1;
  ui.leader.textContent =
    leader === null
      ? 'no agreed leader'
      : `leader: node ${leader} (term ${term}), agreed by every live node${partitioned ? ' on the larger side' : ''}`;
  ui.network.textContent = snap.components.length > 1 ? `network: partitioned ${snap.components.map((g) => `[${g.join(',')}]`).join(' ')}` : 'network: whole';
  drawTimeline(c, snap);
}

/** How a timeline line is highlighted (the page's CSS classes), by its kind. */
function timelineClass(entry: TimelineEntry): 'violation' | 'leader' | 'agree' | 'fault' | '' {
  switch (entry.kind) {
    case 'violation':
      return 'violation';
    case 'became-leader':
      return 'leader';
    case 'agreed':
      return 'agree';
    case 'crash':
    case 'isolate':
    case 'partition':
    case 'cut':
    case 'leader-lost':
    case 'dual-leaders':
      return 'fault';
    case 'restart':
    case 'heal':
    case 'loss':
    case 'duplicate':
    case 'latency':
    case 'skipped':
    case 'one-leader':
      return '';
  }
}

function drawTimeline(c: Current, snap: RunSnapshot): void {
  for (; c.shownTimeline < snap.timeline.length; c.shownTimeline++) {
    const entry = snap.timeline[c.shownTimeline]!;
    const li = document.createElement('li');
    const kind = timelineClass(entry);
    if (kind) li.className = kind;
    const time = document.createElement('time');
    time.textContent = entry.atMs.toFixed(1);
    const text = document.createElement('span');
    text.textContent = entry.text;
    li.append(time, text);
    ui.timeline.prepend(li);
    if (ui.timeline.childElementCount > MAX_TIMELINE) ui.timeline.lastElementChild?.remove();
  }
  for (; c.shownElections < snap.elections.length; c.shownElections++) {
    const e = snap.elections[c.shownElections]!;
    const tr = document.createElement('tr');
    for (const cell of [e.startMs.toFixed(0), e.endMs.toFixed(0), `${(e.endMs - e.startMs).toFixed(1)} ms`, String(e.leader), String(e.term), String(e.messages)]) {
      const td = document.createElement('td');
      td.textContent = cell;
      tr.append(td);
    }
    ui.elections.append(tr);
  }
}

function inject(action: Action): void {
  if (!current) return;
  current.run.inject(action);
  current.run.stepUntil(current.run.nowMs); // carry it out now, so the picture changes even while paused
  draw(current);
}

/** Each frame advances virtual time by the wall time since the last frame × speed (at most 100 ms of wall time). */
function frame(t: number): void {
  const wall = Math.min(100, t - lastFrame);
  lastFrame = t;
  if (current && playing) {
    const speed = Number(ui.speed.value) || 0.1;
    current.run.stepUntil(current.run.nowMs + wall * speed);
    draw(current);
  }
  requestAnimationFrame(frame);
}

ui.start.addEventListener('click', newRun);
ui.play.addEventListener('click', () => {
  playing = !playing;
  ui.play.textContent = playing ? 'Pause' : 'Play';
});
ui.step.addEventListener('click', () => {
  playing = false;
  ui.play.textContent = 'Play';
  if (current && current.run.step()) draw(current);
});
$('crash-leader').addEventListener('click', () => inject({ atMs: 0, do: 'crash', node: 'leader' }));
$('isolate-leader').addEventListener('click', () => inject({ atMs: 0, do: 'isolate', node: 'leader' }));
$('split').addEventListener('click', () => inject({ atMs: 0, do: 'split', minority: Math.max(1, Math.ceil((current?.size ?? 3) / 2) - 1) }));
$('heal').addEventListener('click', () => inject({ atMs: 0, do: 'heal' }));
$('restart-all').addEventListener('click', () => inject({ atMs: 0, do: 'restart', node: 'all' }));

newRun();
requestAnimationFrame(frame);
document.body.dataset['ready'] = 'true';
