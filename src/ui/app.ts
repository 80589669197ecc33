/// <reference lib="dom" />
/**
 * The browser visualizer (DESIGN.md's third host: the simulator compiled for the page). It drives the
 * very same core algorithms and simulator engine as `ballot sim`, through the stepping API, one pane
 * per algorithm on one shared clock (side-by-side.ts holds the model: clicks, rewind, URLs, captions).
 * Each animation frame advances virtual time by wall time × speed, then draws the snapshots. Nothing
 * here decides anything about elections; it only shows what the simulator did.
 */
import type { AnyAlgorithm, NodeId } from '../core/types.js';
import { scenarioNames, type NodeView, type RunSnapshot, type TimelineEntry } from '../sim/index.js';
import {
  SideBySide,
  caption,
  clickAction,
  compare,
  groupNames,
  messageColours,
  momentQuery,
  parseMoment,
  roleKind,
  termWord,
  type ClickKind,
  type MessageGroup,
  type Moment,
  type Pane,
} from './side-by-side.js';

const SVG = 'http://www.w3.org/2000/svg';
const W = 360;
const H = 330;
const CX = W / 2;
const CY = H / 2 + 4;
const RING = 118;
const NODE_R = 25;
const TIMER_R = NODE_R + 6;
const TIMER_LENGTH = 2 * Math.PI * TIMER_R;
/** Timeline entries kept per pane (a long run at 10× would otherwise grow without bound). */
const MAX_TIMELINE = 300;

/** Role colours by what the role means: the leader stands out, those electing are warm, followers cool. */
function roleColour(role: string, believesLeader: boolean, up: boolean): string {
  if (!up) return '#b9bec7';
  if (believesLeader) return '#f2b705';
  switch (roleKind(role)) {
    case 'leading':
      return '#f7d46b'; // says it leads but is not (yet) established (ZAB before NEWLEADER is acked)
    case 'electing':
      return '#f08a4b';
    case 'following':
      return '#5b8def';
    case 'observing':
      return '#9b7fd1';
    case 'other':
      return '#8fa0b5';
  }
}

const $ = <T extends HTMLElement>(id: string): T => {
  const element = document.getElementById(id);
  if (!element) throw new Error(`missing #${id}`);
  return element as T;
};

const ui = {
  nodes: $<HTMLInputElement>('nodes'),
  seed: $<HTMLInputElement>('seed'),
  scenario: $<HTMLSelectElement>('scenario'),
  latency: $<HTMLSelectElement>('latency'),
  start: $<HTMLButtonElement>('start'),
  play: $<HTMLButtonElement>('play'),
  step: $<HTMLButtonElement>('step'),
  speed: $<HTMLSelectElement>('speed'),
  clock: $('clock'),
  scrubber: $<HTMLInputElement>('scrubber'),
  share: $<HTMLButtonElement>('share'),
  link: $<HTMLInputElement>('link'),
  panes: $('panes'),
  strip: $<HTMLTableSectionElement>('strip'),
  timelines: $('timelines'),
  error: $('error'),
};

for (const name of scenarioNames) ui.scenario.add(new Option(name, name));

interface NodeFigure {
  readonly group: SVGGElement;
  readonly ring: SVGCircleElement;
  readonly timer: SVGCircleElement;
  readonly lease: SVGCircleElement;
  readonly body: SVGCircleElement;
  readonly role: SVGTextElement;
  readonly detail: SVGTextElement;
}

/** A pane's drawing, built once per run and updated in place (so a click is never lost to a redraw). */
interface PaneView {
  readonly pane: () => Pane;
  readonly algorithm: AnyAlgorithm;
  readonly element: HTMLElement;
  readonly leader: HTMLElement;
  readonly caption: HTMLElement;
  readonly links: SVGGElement;
  readonly dots: SVGGElement;
  readonly figures: ReadonlyMap<NodeId, NodeFigure>;
  readonly colours: ReadonlyMap<string, { group: MessageGroup; colour: string }>;
  readonly timeline: HTMLUListElement;
  shownTimeline: number;
}

let model: SideBySide | null = null;
let views: PaneView[] = [];
let positions = new Map<NodeId, { x: number; y: number }>();
let playing = true;
let lastFrame = performance.now();

function svg<K extends keyof SVGElementTagNameMap>(tag: K, attrs: Record<string, string | number>, text?: string): SVGElementTagNameMap[K] {
  const element = document.createElementNS(SVG, tag);
  for (const [key, value] of Object.entries(attrs)) element.setAttribute(key, String(value));
  if (text !== undefined) element.textContent = text;
  return element;
}

function html<K extends keyof HTMLElementTagNameMap>(tag: K, className: string, text?: string): HTMLElementTagNameMap[K] {
  const element = document.createElement(tag);
  if (className) element.className = className;
  if (text !== undefined) element.textContent = text;
  return element;
}

function legendItem(colour: string, text: string, ring = false): HTMLElement {
  const span = html('span', '');
  const dot = html('i', ring ? 'ring' : '');
  if (!ring) dot.style.background = colour;
  span.append(dot, text);
  return span;
}

/** Starts the moment: a fresh model for the setup and clicks, at `atMs` (0: from the start, playing). */
function load(moment: Moment): void {
  ui.error.textContent = '';
  const { setup } = moment;
  ui.nodes.value = String(setup.nodes);
  ui.seed.value = String(setup.seed);
  ui.scenario.value = setup.scenario;
  const latency = `${setup.latency.minMs}-${setup.latency.maxMs}`;
  if (!Array.from(ui.latency.options).some((o) => o.value === latency)) ui.latency.add(new Option(`${latency} ms`, latency));
  ui.latency.value = latency;
  model = new SideBySide(setup, moment.clicks);
  positions = new Map();
  for (let i = 0; i < setup.nodes; i++) {
    const angle = -Math.PI / 2 + (2 * Math.PI * i) / setup.nodes;
    positions.set(i + 1, { x: CX + RING * Math.cos(angle), y: CY + RING * Math.sin(angle) });
  }
  const current = model;
  views = current.panes.map((pane, index) => buildPane(() => current.panes[index]!, pane.algorithm));
  ui.panes.replaceChildren(...views.map((v) => v.element));
  ui.timelines.replaceChildren(
    ...views.map((v) => {
      const column = html('div', '');
      column.append(html('h3', '', v.algorithm.name), v.timeline);
      return column;
    }),
  );
  current.seek(moment.atMs);
  if (moment.atMs > 0) setPlaying(false); // a shared moment is shown still
  draw();
}

function buildPane(pane: () => Pane, algorithm: AnyAlgorithm): PaneView {
  const element = html('div', 'pane');
  element.dataset['algorithm'] = algorithm.name;
  const title = html('h2', '', algorithm.name === 'zab' ? 'ZAB' : algorithm.name[0]!.toUpperCase() + algorithm.name.slice(1));
  const leader = html('span', 'leader', 'no leader yet');
  title.append(leader);
  const stage = svg('svg', { viewBox: `0 0 ${W} ${H}`, role: 'img', 'aria-label': `the ${algorithm.name} cluster` });
  const links = svg('g', {});
  const dots = svg('g', {});
  const nodeLayer = svg('g', {});
  const figures = new Map<NodeId, NodeFigure>();
  for (const [id, p] of positions) {
    const group = svg('g', { class: 'node', 'data-node': id });
    const lease = svg('circle', { cx: p.x, cy: p.y, r: TIMER_R + 5, fill: 'none', stroke: '#2e9d5b', 'stroke-width': 2, 'stroke-dasharray': '2 3', visibility: 'hidden' });
    const ring = svg('circle', { cx: p.x, cy: p.y, r: TIMER_R, fill: 'none', stroke: '#f2b705', 'stroke-width': 6, opacity: 0.45 });
    // The timer: an arc that shrinks as the deadline nears, starting at 12 o'clock.
    const timer = svg('circle', { cx: p.x, cy: p.y, r: TIMER_R, fill: 'none', 'stroke-width': 3.5, transform: `rotate(-90 ${p.x} ${p.y})`, class: 'timer' });
    const body = svg('circle', { cx: p.x, cy: p.y, r: NODE_R, 'stroke-width': 1.5 });
    const label = svg('text', { x: p.x, y: p.y - 2, 'text-anchor': 'middle', 'font-size': 16, 'font-weight': 700, fill: '#1d2330' }, String(id));
    const role = svg('text', { x: p.x, y: p.y + 11, 'text-anchor': 'middle', 'font-size': 9, fill: '#1d2330' });
    const below = p.y > CY ? TIMER_R + 13 : -TIMER_R - 6;
    const detail = svg('text', { x: p.x, y: p.y + below, 'text-anchor': 'middle', 'font-size': 10.5, fill: '#4a5263' });
    group.append(lease, ring, timer, body, label, role, detail);
    group.addEventListener('click', () => {
      const up = pane().run.snapshot().nodes.find((n) => n.node === id)?.up ?? true;
      applyClick(up ? 'crash' : 'restart', id);
    });
    figures.set(id, { group, ring, timer, lease, body, role, detail });
    nodeLayer.append(group);
  }
  stage.append(links, dots, nodeLayer);
  const captionLine = html('p', 'caption');
  const colours = messageColours(algorithm);
  const roles = html('div', 'legend');
  roles.append(
    legendItem('', 'believes it leads', true),
    ...algorithm.roles.map((r) => legendItem(roleColour(r, false, true), r)),
    legendItem(roleColour('', false, false), 'crashed'),
  );
  const messages = html('div', 'legend');
  for (const group of ['election', 'office', 'heartbeat'] as const) {
    const types = [...colours].filter(([, c]) => c.group === group);
    if (types.length === 0) continue;
    messages.append(html('b', '', `${groupNames[group]}:`), ...types.map(([type, c]) => legendItem(c.colour, type)));
  }
  element.append(title, stage, captionLine, roles, messages);
  return { pane, algorithm, element, leader, caption: captionLine, links, dots, figures, colours, timeline: html('ul', 'timeline'), shownTimeline: 0 };
}

function draw(): void {
  if (!model) return;
  const now = model.nowMs;
  const end = model.endMs;
  ui.clock.textContent = `${now.toFixed(1)} ms`;
  ui.clock.dataset['now'] = String(now);
  ui.scrubber.max = String(Math.ceil(end));
  if (document.activeElement !== ui.scrubber) ui.scrubber.value = String(now);
  const rows: HTMLTableRowElement[] = [];
  for (const view of views) {
    const snap = view.pane().run.snapshot();
    drawPane(view, snap);
    const c = compare(view.algorithm, snap);
    const ms = (value: number | null) => (value === null ? '–' : `${value.toFixed(0)} ms`);
    const tr = html('tr', '');
    tr.dataset['algorithm'] = c.algorithm;
    for (const cell of [c.algorithm, c.leader === null ? '–' : String(c.leader), ms(c.firstElectionMs), ms(c.lastFailoverMs), ms(c.electingForMs), String(c.elections), String(c.leaderChanges), String(c.messages), ms(c.dualLeaderMs)]) {
      tr.append(html('td', '', cell));
    }
    rows.push(tr);
  }
  ui.strip.replaceChildren(...rows);
}

function drawPane(view: PaneView, snap: RunSnapshot): void {
  const group = new Map<NodeId, number>();
  snap.components.forEach((members, i) => members.forEach((id) => group.set(id, i)));
  // Links between every pair; a cut link (different partition groups) is drawn dashed red.
  const links: SVGElement[] = [];
  for (const [a, p] of positions) {
    for (const [b, q] of positions) {
      if (b <= a) continue;
      const cut = group.get(a) !== group.get(b);
      links.push(svg('line', { x1: p.x, y1: p.y, x2: q.x, y2: q.y, stroke: cut ? '#f0a0a2' : '#e6e9ee', 'stroke-width': 1.2, 'stroke-dasharray': cut ? '3 5' : '' }));
    }
  }
  view.links.replaceChildren(...links);
  const up = new Map(snap.nodes.map((n) => [n.node, n.up]));
  // Messages in flight: a dot moving from sender to receiver, at the fraction of its latency elapsed.
  const dots: SVGElement[] = [];
  for (const m of snap.inFlight) {
    const p = positions.get(m.from);
    const q = positions.get(m.to);
    if (!p || !q) continue;
    const span = m.deliverMs - m.sentMs;
    const f = span > 0 ? Math.min(1, Math.max(0, (snap.nowMs - m.sentMs) / span)) : 1;
    // Dropped on arrival: across a partition, or to a node that is down.
    const doomed = group.get(m.from) !== group.get(m.to) || up.get(m.to) === false;
    dots.push(svg('circle', { cx: p.x + (q.x - p.x) * f, cy: p.y + (q.y - p.y) * f, r: 4.5, fill: view.colours.get(m.type)?.colour ?? '#444', opacity: doomed ? 0.3 : 0.95, class: 'message', 'data-type': m.type }));
  }
  view.dots.replaceChildren(...dots);
  const timing = view.algorithm.defaultTiming;
  for (const n of snap.nodes) drawNode(view, n, snap.nowMs, timing.electionTimeoutMaxMs, timing.heartbeatMs);

  const leader = snap.agreedLeader;
  view.element.dataset['leader'] = leader === null ? '' : String(leader);
  view.element.dataset['state'] = snap.nodes.map((n) => `${n.node}:${n.up ? n.role : 'down'}:${n.term}:${n.leader ?? '-'}`).join(' ') + ` | ${snap.inFlight.length} in flight | ${snap.messagesSent} sent`;
  const term = snap.nodes.find((n) => n.node === leader)?.term;
  view.leader.textContent = leader === null ? 'no agreed leader' : `leader ${leader} · ${termWord(view.algorithm)} ${term}`;
  view.caption.textContent = caption(view.algorithm, snap);
  drawTimeline(view, snap.timeline);
}

function drawNode(view: PaneView, n: NodeView, nowMs: number, timeoutScaleMs: number, heartbeatMs: number): void {
  const figure = view.figures.get(n.node);
  if (!figure) return;
  const believes = n.up && n.leader === n.node;
  figure.group.dataset['role'] = n.up ? n.role : 'crashed';
  figure.group.dataset['up'] = String(n.up);
  figure.ring.setAttribute('visibility', believes ? 'visible' : 'hidden');
  figure.body.setAttribute('fill', roleColour(n.role, believes, n.up));
  figure.body.setAttribute('stroke', n.up ? '#1d2330' : '#8a919c');
  figure.body.setAttribute('stroke-dasharray', n.up ? '' : '4 3');
  figure.role.textContent = n.up ? n.role : 'crashed';
  // The timer runs down to its deadline: a full circle is the longest election timeout (or one
  // heartbeat interval for a leader), so two followers' arcs show who will time out first.
  const timer = n.timer;
  let remaining = '';
  if (timer) {
    const left = Math.max(0, timer.atMs - nowMs);
    const scale = timer.purpose === 'heartbeat' ? heartbeatMs : timeoutScaleMs;
    const fraction = Math.min(1, left / scale);
    figure.timer.setAttribute('stroke', timer.purpose === 'heartbeat' ? '#2f6fde' : '#e8590c');
    figure.timer.setAttribute('stroke-dasharray', `${(fraction * TIMER_LENGTH).toFixed(1)} ${TIMER_LENGTH.toFixed(1)}`);
    figure.timer.setAttribute('visibility', 'visible');
    figure.timer.dataset['purpose'] = timer.purpose;
    figure.timer.dataset['leftMs'] = left.toFixed(1);
    remaining = ` · ${left.toFixed(0)} ms`;
  } else {
    figure.timer.setAttribute('visibility', 'hidden');
  }
  // Leases (Raft, once they exist) are drawn when the snapshot carries them.
  const lease = (n as NodeView & { readonly lease?: unknown }).lease;
  figure.lease.setAttribute('visibility', n.up && lease ? 'visible' : 'hidden');
  figure.detail.textContent = `${termWord(view.algorithm).replace('generation', 'gen')} ${n.term} · → ${n.leader ?? '–'}${remaining}`;
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
    case 'pause':
    case 'drift':
    case 'leader-lost':
    case 'dual-leaders':
      return 'fault';
    case 'resume':
    case 'restart':
    case 'heal':
    case 'loss':
    case 'duplicate':
    case 'latency':
    case 'skipped':
    case 'one-leader':
    case 'membership-changed':
    case 'membership-committed':
      return '';
  }
}

function drawTimeline(view: PaneView, timeline: readonly TimelineEntry[]): void {
  if (timeline.length < view.shownTimeline) {
    // Rewound: the run was rebuilt.
    view.timeline.replaceChildren();
    view.shownTimeline = 0;
  }
  for (view.shownTimeline = Math.max(view.shownTimeline, timeline.length - MAX_TIMELINE); view.shownTimeline < timeline.length; view.shownTimeline++) {
    const entry = timeline[view.shownTimeline]!;
    const li = html('li', timelineClass(entry));
    li.dataset['kind'] = entry.kind;
    li.append(html('time', '', entry.atMs.toFixed(1)), html('span', '', entry.text));
    view.timeline.prepend(li);
    if (view.timeline.childElementCount > MAX_TIMELINE) view.timeline.lastElementChild?.remove();
  }
}

function applyClick(kind: ClickKind, target: NodeId | 'leader' | 'all' | null): void {
  if (!model) return;
  const action = clickAction(kind, target, model.setup.nodes);
  if (!action) return;
  model.click(action);
  draw();
}

function setPlaying(on: boolean): void {
  playing = on;
  ui.play.textContent = playing ? 'Pause' : 'Play';
}

function setupFromForm(): Moment | null {
  const query = new URLSearchParams({ nodes: ui.nodes.value, seed: ui.seed.value, scenario: ui.scenario.value, latency: ui.latency.value });
  const parsed = parseMoment(query.toString());
  if ('error' in parsed) {
    ui.error.textContent = parsed.error;
    return null;
  }
  return parsed.moment;
}

/** Each frame advances virtual time by the wall time since the last frame × speed (at most 100 ms of wall time). */
function frame(t: number): void {
  const wall = Math.min(100, t - lastFrame);
  lastFrame = t;
  if (model && playing) {
    const speed = Number(ui.speed.value) || 0.1;
    model.advanceTo(model.nowMs + wall * speed);
    draw();
  }
  requestAnimationFrame(frame);
}

ui.start.addEventListener('click', () => {
  const moment = setupFromForm();
  if (!moment) return;
  load(moment);
  setPlaying(true);
});
ui.play.addEventListener('click', () => setPlaying(!playing));
ui.step.addEventListener('click', () => {
  setPlaying(false);
  model?.advanceTo(model.nowMs + 10);
  draw();
});
ui.scrubber.addEventListener('input', () => {
  setPlaying(false);
  model?.seek(Number(ui.scrubber.value));
  draw();
});
// Let go of the scrubber once dragged, so it follows the clock again when playing.
ui.scrubber.addEventListener('change', () => ui.scrubber.blur());
ui.share.addEventListener('click', () => {
  if (!model) return;
  const query = momentQuery({ setup: model.setup, clicks: model.clicks, atMs: model.nowMs });
  history.replaceState(null, '', query);
  ui.link.value = location.href;
  ui.link.select();
});
$('crash-leader').addEventListener('click', () => applyClick('crash', 'leader'));
$('isolate-leader').addEventListener('click', () => applyClick('isolate', 'leader'));
$('split').addEventListener('click', () => applyClick('split', null));
$('heal').addEventListener('click', () => applyClick('heal', null));
$('restart-all').addEventListener('click', () => applyClick('restart', 'all'));
// A process pause exists only if the simulator knows it (the parser accepts it); else no button.
if (clickAction('pause', 'leader', 3)) {
  const pause = html('button', '', 'Pause leader');
  pause.id = 'pause-leader';
  pause.addEventListener('click', () => applyClick('pause', 'leader'));
  $('restart-all').after(pause);
}

// The speed is the viewer's, not the moment's, but an address may still set it (?speed=0.3).
const speed = new URLSearchParams(location.search).get('speed');
if (speed !== null && Array.from(ui.speed.options).some((o) => o.value === speed)) ui.speed.value = speed;
const initial = parseMoment(location.search);
if ('error' in initial) {
  ui.error.textContent = initial.error;
  const fallback = parseMoment('');
  if ('moment' in fallback) load(fallback.moment);
} else {
  load(initial.moment);
}
requestAnimationFrame(frame);
document.body.dataset['ready'] = 'true';
