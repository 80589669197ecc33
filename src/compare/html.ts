/**
 * `ballot compare --html FILE`: one self-contained page — inline CSS and inline SVG drawn here, no
 * script, no fonts or libraries from the network — so it opens offline and can be mailed around.
 */
import { quantile } from '../core/index.js';
import type { ScenarioName } from '../sim/index.js';
import { CellIndex, comparisonTables, escapeHtml, headlineSize, oddEvenAnswer, renderHtmlTable, textbookMessages } from './report.js';
import type { CompareResult } from './run.js';

/** Colour-blind-safe colours (Okabe–Ito), stable per algorithm name. */
const palette: Record<string, string> = { bully: '#D55E00', raft: '#009E73', zab: '#0072B2' };
const fallback = ['#CC79A7', '#E69F00', '#56B4E9', '#000000'];
function colour(name: string, index: number): string {
  return palette[name] ?? fallback[index % fallback.length]!;
}

const fmt = (v: number): string => (Math.abs(v) >= 100 || Number.isInteger(v) ? String(Math.round(v)) : v.toFixed(1));

/** About `count` round tick values covering [0, max]. */
function ticks(max: number, count = 5): number[] {
  if (!(max > 0)) return [0, 1];
  const raw = max / count;
  const magnitude = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * magnitude).find((s) => s >= raw) ?? 10 * magnitude;
  const out: number[] = [];
  for (let v = 0; v <= max + step * 1e-9; v += step) out.push(Number(v.toPrecision(12)));
  if (out[out.length - 1]! < max) out.push(Number((out[out.length - 1]! + step).toPrecision(12)));
  return out;
}

interface Series {
  readonly name: string;
  readonly colour: string;
  readonly dash?: string;
  readonly points: readonly (readonly [number, number])[];
}

/** A line chart with numeric x (cluster sizes) and y from 0. */
function lineChart(title: string, xLabel: string, yLabel: string, xs: readonly number[], series: readonly Series[]): string {
  const width = 580;
  const height = 300;
  const m = { left: 56, right: 176, top: 30, bottom: 42 };
  const plotW = width - m.left - m.right;
  const plotH = height - m.top - m.bottom;
  const xMin = Math.min(...xs);
  const xMax = Math.max(...xs);
  const yValues = series.flatMap((s) => s.points.map(([, y]) => y)).filter(Number.isFinite);
  const yTicks = ticks(Math.max(1, ...yValues));
  const yMax = yTicks[yTicks.length - 1]!;
  const x = (v: number) => m.left + (xMax === xMin ? plotW / 2 : ((v - xMin) / (xMax - xMin)) * plotW);
  const y = (v: number) => m.top + plotH - (v / yMax) * plotH;
  const parts: string[] = [];
  parts.push(`<text x="${m.left}" y="18" class="title">${escapeHtml(title)}</text>`);
  for (const t of yTicks) {
    parts.push(`<line x1="${m.left}" x2="${m.left + plotW}" y1="${y(t)}" y2="${y(t)}" class="grid"/>`);
    parts.push(`<text x="${m.left - 6}" y="${y(t) + 4}" text-anchor="end">${fmt(t)}</text>`);
  }
  for (const v of xs) parts.push(`<text x="${x(v)}" y="${m.top + plotH + 16}" text-anchor="middle">${v}</text>`);
  parts.push(`<line x1="${m.left}" x2="${m.left + plotW}" y1="${m.top + plotH}" y2="${m.top + plotH}" class="axis"/>`);
  parts.push(`<text x="${m.left + plotW / 2}" y="${height - 6}" text-anchor="middle">${escapeHtml(xLabel)}</text>`);
  parts.push(`<text transform="translate(14 ${m.top + plotH / 2}) rotate(-90)" text-anchor="middle">${escapeHtml(yLabel)}</text>`);
  series.forEach((s, i) => {
    const pts = s.points.filter(([, v]) => Number.isFinite(v));
    if (pts.length > 0) {
      const d = pts.map(([a, b], j) => `${j === 0 ? 'M' : 'L'}${x(a).toFixed(1)},${y(b).toFixed(1)}`).join(' ');
      parts.push(`<path d="${d}" fill="none" stroke="${s.colour}" stroke-width="2"${s.dash ? ` stroke-dasharray="${s.dash}"` : ''}/>`);
      for (const [a, b] of pts) parts.push(`<circle cx="${x(a).toFixed(1)}" cy="${y(b).toFixed(1)}" r="3" fill="${s.colour}"><title>${escapeHtml(`${s.name}, n=${a}: ${fmt(b)}`)}</title></circle>`);
    }
    const ly = m.top + 8 + i * 18;
    const lx = m.left + plotW + 14;
    parts.push(`<line x1="${lx}" x2="${lx + 22}" y1="${ly}" y2="${ly}" stroke="${s.colour}" stroke-width="2"${s.dash ? ` stroke-dasharray="${s.dash}"` : ''}/>`);
    parts.push(`<text x="${lx + 28}" y="${ly + 4}">${escapeHtml(s.name)}</text>`);
  });
  return svg(width, height, parts);
}

/**
 * Election-time histograms, one panel per algorithm on a shared x axis, with p50 and p99 marked.
 * Values beyond the axis (above the largest p99, rounded up) are counted in the last bin's label.
 */
function histograms(title: string, groups: readonly { name: string; colour: string; values: readonly number[] }[]): string {
  const width = 720;
  const panelH = 86;
  const m = { left: 70, right: 20, top: 30, bottom: 40 };
  const height = m.top + m.bottom + groups.length * panelH;
  const plotW = width - m.left - m.right;
  const xTop = Math.max(1, ...groups.filter((g) => g.values.length > 0).map((g) => quantile(g.values, 0.99)));
  const xTicks = ticks(xTop * 1.05, 8);
  const xMax = xTicks[xTicks.length - 1]!;
  const bins = 48;
  const binW = xMax / bins;
  const x = (v: number) => m.left + (v / xMax) * plotW;
  const parts: string[] = [`<text x="${m.left}" y="18" class="title">${escapeHtml(title)}</text>`];
  groups.forEach((g, i) => {
    const top = m.top + i * panelH;
    const counts = new Array<number>(bins).fill(0);
    let beyond = 0;
    for (const v of g.values) {
      if (v > xMax) beyond++;
      else counts[Math.min(bins - 1, Math.floor(v / binW))]!++;
    }
    const peak = Math.max(1, ...counts);
    const h = panelH - 16;
    parts.push(`<text x="${m.left - 8}" y="${top + h / 2}" text-anchor="end" class="label">${escapeHtml(g.name)}</text>`);
    parts.push(`<text x="${m.left - 8}" y="${top + h / 2 + 14}" text-anchor="end" class="small">n=${g.values.length}</text>`);
    parts.push(`<line x1="${m.left}" x2="${m.left + plotW}" y1="${top + h}" y2="${top + h}" class="axis"/>`);
    counts.forEach((c, b) => {
      if (c === 0) return;
      const bh = (c / peak) * (h - 4);
      parts.push(
        `<rect x="${x(b * binW).toFixed(1)}" y="${(top + h - bh).toFixed(1)}" width="${Math.max(1, (plotW / bins) - 1).toFixed(1)}" height="${bh.toFixed(1)}" fill="${g.colour}"><title>${fmt(b * binW)}–${fmt((b + 1) * binW)} ms: ${c}</title></rect>`,
      );
    });
    if (g.values.length > 0) {
      // p50 labelled at the top, p99 a line lower, so the two never overprint when they are close.
      for (const [p, label, dy] of [[0.5, 'p50', 9], [0.99, 'p99', 21]] as const) {
        const v = quantile(g.values, p);
        if (v > xMax) continue;
        parts.push(`<line x1="${x(v).toFixed(1)}" x2="${x(v).toFixed(1)}" y1="${top}" y2="${top + h}" class="mark"/>`);
        parts.push(`<text x="${(x(v) + 3).toFixed(1)}" y="${top + dy}" class="small">${label} ${fmt(v)}</text>`);
      }
    } else {
      parts.push(`<text x="${m.left + 8}" y="${top + h / 2}" class="small">no elections measured</text>`);
    }
    if (beyond > 0) parts.push(`<text x="${m.left + plotW}" y="${top + 9}" text-anchor="end" class="small">+${beyond} beyond ${fmt(xMax)} ms</text>`);
  });
  const bottom = m.top + groups.length * panelH;
  for (const t of xTicks) parts.push(`<text x="${x(t).toFixed(1)}" y="${bottom + 2}" text-anchor="middle">${fmt(t)}</text>`);
  parts.push(`<text x="${m.left + plotW / 2}" y="${height - 8}" text-anchor="middle">election time, ms</text>`);
  return svg(width, height, parts);
}

/** Each SVG carries its own style, so it also stands alone as a file (`--svg DIR`). */
const svgStyle = `
text { font: 11px system-ui, -apple-system, "Segoe UI", sans-serif; fill: #333; }
text.title { font-size: 13px; font-weight: 600; }
text.label { font-size: 12px; font-weight: 600; }
text.small { font-size: 10px; fill: #555; }
.grid { stroke: #eee; } .axis { stroke: #888; } .mark { stroke: #222; stroke-dasharray: 3 3; }
`;

function svg(width: number, height: number, parts: readonly string[]): string {
  return (
    `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${width} ${height}" width="${width}" height="${height}" role="img">\n` +
    `<style>${svgStyle}</style>\n<rect width="100%" height="100%" fill="#fff"/>\n${parts.join('\n')}\n</svg>\n`
  );
}

const style = `
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; margin: 24px auto; max-width: 1200px; padding: 0 16px; color: #222; }
h1 { font-size: 22px; } h2 { font-size: 17px; margin-top: 28px; }
code { background: #f2f2f2; padding: 1px 4px; border-radius: 3px; }
table { border-collapse: collapse; margin: 8px 0; display: block; overflow-x: auto; }
th, td { border-bottom: 1px solid #ddd; padding: 3px 10px; text-align: right; white-space: nowrap; }
thead th { border-bottom: 2px solid #999; } tbody th { text-align: left; font-weight: 600; }
ul.notes { color: #555; font-size: 12.5px; margin-top: 4px; }
.charts { display: flex; flex-wrap: wrap; gap: 16px; }
svg { border: 1px solid #e4e4e4; max-width: 100%; height: auto; }
`;

export interface Chart {
  /** A stable file name for `--svg DIR`. */
  readonly file: string;
  readonly section: 'distributions' | 'messages' | 'time';
  readonly title: string;
  readonly svg: string;
}

/** Every chart of the report: election-time distributions, messages and election time against size. */
export function charts(result: CompareResult): Chart[] {
  const { grid } = result;
  const cells = new CellIndex(result);
  const n = headlineSize(grid.sizes);
  const names = result.algorithms.map((a) => a.name);
  const colours = new Map(names.map((name, i) => [name, colour(name, i)]));
  const sizes = [...grid.sizes].sort((a, b) => a - b);
  const out: Chart[] = [];

  for (const scenario of grid.scenarios) {
    const title = `Election time, ${scenario}, ${n} nodes (${grid.trials} runs per algorithm)`;
    const groups = names.map((name) => ({
      name,
      colour: colours.get(name)!,
      values: result.cells
        .find((c) => c.summary.algorithm === name && c.summary.nodes === n && c.summary.scenario === scenario)!
        .trials.flatMap((t) => t.elections.map((e) => e.ms)),
    }));
    out.push({ file: `election-time-${scenario}-n${n}.svg`, section: 'distributions', title, svg: histograms(title, groups) });
  }

  for (const scenario of (['cold-start', 'leader-crash'] as const satisfies readonly ScenarioName[]).filter((s) => grid.scenarios.includes(s))) {
    const series: Series[] = [];
    for (const name of names) {
      const c = colours.get(name)!;
      series.push({ name: `${name}: all`, colour: c, points: sizes.map((k) => [k, cells.get(name, k, scenario)!.messages.mean] as const) });
      series.push({ name: `${name}: election types`, colour: c, dash: '6 4', points: sizes.map((k) => [k, cells.get(name, k, scenario)!.electionMessages.mean] as const) });
      if (textbookMessages(name, sizes[0]!)) {
        series.push({ name: `${name}: textbook`, colour: c, dash: '1 4', points: sizes.map((k) => [k, textbookMessages(name, k)!.value] as const) });
      }
    }
    const title = `Messages per election against cluster size (${scenario}, mean)`;
    out.push({ file: `messages-${scenario}.svg`, section: 'messages', title, svg: lineChart(title, 'nodes', 'messages', sizes, series) });
  }

  for (const scenario of grid.scenarios) {
    const series: Series[] = [];
    for (const name of names) {
      series.push({ name: `${name} p50`, colour: colours.get(name)!, points: sizes.map((k) => [k, cells.get(name, k, scenario)!.electionMs.p50] as const) });
      series.push({ name: `${name} p99`, colour: colours.get(name)!, dash: '6 4', points: sizes.map((k) => [k, cells.get(name, k, scenario)!.electionMs.p99] as const) });
    }
    const title = `Election time against cluster size (${scenario})`;
    out.push({ file: `election-time-by-size-${scenario}.svg`, section: 'time', title, svg: lineChart(title, 'nodes', 'ms', sizes, series) });
  }
  return out;
}

export function renderHtml(result: CompareResult, command: string): string {
  const { grid } = result;
  const names = result.algorithms.map((a) => a.name);
  const all = charts(result);
  const section = (name: Chart['section']) => `<div class="charts">${all.filter((c) => c.section === name).map((c) => c.svg).join('\n')}</div>`;
  const [headline, ...details] = comparisonTables(result).map(renderHtmlTable);
  const answer = oddEvenAnswer(result);
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>ballot compare: ${escapeHtml(names.join(', '))}</title>
<style>${style}</style>
</head>
<body>
<h1>Leader election, measured: ${escapeHtml(names.join(', '))}</h1>
<p>${result.runs} simulated runs: algorithms ${escapeHtml(names.join(', '))}; cluster sizes ${escapeHtml(grid.sizes.join(', '))};
scenarios ${escapeHtml(grid.scenarios.join(', '))}; ${grid.trials} trials each, trial <i>k</i> with seed <i>k</i>.
Produced by <code>${escapeHtml(command)}</code>. Replay any run with
<code>ballot sim --algorithm A --nodes N --scenario S --seed K${grid.durationMs !== undefined ? ` --duration ${grid.durationMs}` : ''}</code>.</p>
${headline ?? ''}
${answer.length > 0 ? `<h2>4 or 5 nodes?</h2><ul>${answer.map((a) => `<li>${escapeHtml(a)}</li>`).join('')}</ul>` : ''}
<h2>Election-time distributions</h2>
${section('distributions')}
<h2>Messages against cluster size</h2>
<p class="notes">Solid: every message sent during the election period; dashed: only the message types a settled cluster never sends; dotted: the textbook figure.</p>
${section('messages')}
<h2>Election time against cluster size</h2>
${section('time')}
${details.join('\n')}
</body>
</html>
`;
}
