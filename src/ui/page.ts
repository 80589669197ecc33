/**
 * The visualizer's one HTML page: markup and styles inline, scripts from the server's own /dist and
 * /vendor paths (no CDN: it works offline). The import map lets the simulator's `import 'zod'` resolve
 * in the browser to the copy the server serves from node_modules. The panes themselves are built by
 * app.ts, one per registered algorithm.
 */
export function pageHtml(): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="icon" href="data:,">
<title>ballot — Bully, Raft and ZAB side by side, simulated in the browser</title>
<script type="importmap">{ "imports": { "zod": "/vendor/zod/index.js" } }</script>
<style>
  :root { --bg: #f6f7f9; --panel: #fff; --ink: #1d2330; --muted: #6a7282; --line: #dde1e7; --accent: #2f6fde; }
  * { box-sizing: border-box; }
  body { margin: 0; min-width: 1000px; font: 13px/1.4 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--ink); background: var(--bg); }
  header { padding: 8px 14px; background: #1d2330; color: #fff; display: flex; align-items: baseline; gap: 12px; }
  header h1 { font-size: 17px; margin: 0; }
  header span { color: #b8c0cc; font-size: 12px; }
  .bar { display: flex; flex-wrap: wrap; align-items: center; gap: 6px 14px; padding: 8px 12px; background: var(--panel); border-bottom: 1px solid var(--line); }
  .bar .group { display: flex; flex-wrap: wrap; align-items: center; gap: 6px; }
  .bar .title { color: var(--muted); font-size: 11px; text-transform: uppercase; letter-spacing: .04em; }
  label { display: inline-flex; align-items: center; gap: 4px; }
  select, input { font: inherit; padding: 2px 4px; border: 1px solid var(--line); border-radius: 4px; }
  input[type=number] { width: 58px; }
  button { font: inherit; padding: 3px 9px; border: 1px solid var(--line); border-radius: 5px; background: #fff; cursor: pointer; }
  button:hover { border-color: var(--accent); }
  button.primary { background: var(--accent); color: #fff; border-color: var(--accent); }
  #scrub { display: flex; align-items: center; gap: 10px; padding: 6px 12px; }
  #clock { font: 600 16px/1.2 ui-monospace, SFMono-Regular, Menlo, monospace; min-width: 170px; }
  #scrubber { flex: 1; }
  #link { width: 260px; color: var(--muted); }
  #panes { display: grid; grid-template-columns: repeat(auto-fit, minmax(300px, 1fr)); gap: 8px; padding: 0 8px; }
  .pane { background: var(--panel); border: 1px solid var(--line); border-radius: 8px; padding: 8px; min-width: 0; }
  .pane h2 { font-size: 14px; margin: 0; display: flex; justify-content: space-between; gap: 8px; }
  .pane h2 .leader { font-weight: 500; color: var(--muted); font-size: 12px; }
  .pane svg { width: 100%; height: auto; display: block; }
  .caption { min-height: 2.8em; margin: 2px 0 4px; font-size: 13px; background: #f2f5fa; border-radius: 5px; padding: 4px 6px; }
  .legend { display: flex; flex-wrap: wrap; gap: 2px 10px; font-size: 11px; color: #333; }
  .legend b { font-weight: 600; color: var(--muted); }
  .legend i { display: inline-block; width: 9px; height: 9px; border-radius: 50%; margin-right: 3px; vertical-align: -1px; }
  .legend i.ring { background: none !important; border: 2px solid #f2b705; }
  section.wide { background: var(--panel); border: 1px solid var(--line); border-radius: 8px; margin: 8px; padding: 8px; }
  h3 { font-size: 12px; text-transform: uppercase; letter-spacing: .04em; color: var(--muted); margin: 0 0 6px; }
  table { border-collapse: collapse; width: 100%; font-size: 12px; }
  th, td { text-align: right; padding: 2px 6px; border-bottom: 1px solid #eef0f3; }
  th:first-child, td:first-child { text-align: left; }
  th { color: var(--muted); font-weight: 500; }
  #timelines { display: grid; grid-template-columns: repeat(auto-fit, minmax(300px, 1fr)); gap: 8px; }
  .timeline { list-style: none; margin: 0; padding: 0; max-height: 220px; overflow-y: auto; font-size: 12px; }
  .timeline li { padding: 1px 4px; border-bottom: 1px solid #eef0f3; display: flex; gap: 6px; }
  .timeline li time { color: var(--muted); font-family: ui-monospace, monospace; min-width: 58px; text-align: right; }
  .timeline li.leader { background: #fff8e0; }
  .timeline li.fault { background: #fdecec; }
  .timeline li.agree { background: #e9f7ee; font-weight: 600; }
  .timeline li.violation { background: #ffd6d6; font-weight: 700; }
  .hint { color: var(--muted); font-size: 12px; }
  #error { color: #b00020; white-space: pre-wrap; }
  svg text { font-family: system-ui, sans-serif; pointer-events: none; }
  svg .node { cursor: pointer; }
</style>
</head>
<body>
<header><h1>ballot</h1><span>Bully, Raft and ZAB side by side on the same seed and the same faults — the real core algorithms in the deterministic simulator, running in this page</span></header>
<div class="bar">
  <div class="group"><span class="title">Run</span>
    <label>Nodes <input id="nodes" type="number" min="3" max="9" value="5"></label>
    <label>Seed <input id="seed" type="number" min="0" value="1"></label>
    <label>Scenario <select id="scenario"></select></label>
    <label>Latency <select id="latency">
      <option value="10-30">10–30 ms (for watching)</option>
      <option value="1-5">1–5 ms (sim default)</option>
      <option value="40-80">40–80 ms</option>
    </select></label>
    <button id="start" class="primary">New run</button>
  </div>
  <div class="group"><span class="title">Faults, in every pane at once</span>
    <button id="crash-leader">Crash leader</button>
    <button id="isolate-leader">Isolate leader</button>
    <button id="split">Partition</button>
    <button id="heal">Heal</button>
    <button id="restart-all">Restart all</button>
  </div>
</div>
<div id="scrub" class="bar">
  <button id="play">Pause</button>
  <button id="step" title="10 ms of virtual time (pauses)">+10 ms</button>
  <label>Speed <select id="speed">
    <option value="0.01">0.01×</option>
    <option value="0.03">0.03×</option>
    <option value="0.1" selected>0.1×</option>
    <option value="0.3">0.3×</option>
    <option value="1">1× (real time)</option>
    <option value="3">3×</option>
    <option value="10">10×</option>
  </select></label>
  <div id="clock" data-now="0">0.0 ms</div>
  <input id="scrubber" type="range" min="0" max="10000" step="1" value="0" aria-label="virtual time: drag to go back or forward">
  <button id="share" title="a link to this moment: seed, size, scenario, clicks and time">Link</button>
  <input id="link" readonly aria-label="link to this moment">
</div>
<div id="error"></div>
<div id="panes"></div>
<section class="wide">
  <h3>Comparison so far</h3>
  <table><thead><tr><th>algorithm</th><th>leader</th><th>first election</th><th>last failover</th><th>electing for</th><th>elections</th><th>leader changes</th><th>messages</th><th>dual-leader time</th></tr></thead><tbody id="strip"></tbody></table>
  <div class="hint">Click a node to crash it in every pane (click a crashed node to restart it). The arc around a node is its timer running down: orange, the election timeout or failure detector (when it runs out the node starts an election); blue, a leader's next heartbeat.</div>
</section>
<section class="wide">
  <h3>Timelines (newest first)</h3>
  <div id="timelines"></div>
</section>
<script type="module" src="/dist/ui/app.js"></script>
</body>
</html>
`;
}
