/**
 * The visualizer's one HTML page: markup and styles inline, scripts from the server's own /dist and
 * /vendor paths (no CDN: it works offline). The import map lets the simulator's `import 'zod'` resolve
 * in the browser to the copy the server serves from node_modules.
 */
export function pageHtml(): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="icon" href="data:,">
<title>ballot — leader election, simulated in the browser</title>
<script type="importmap">{ "imports": { "zod": "/vendor/zod/index.js" } }</script>
<style>
  :root { --bg: #f6f7f9; --panel: #fff; --ink: #1d2330; --muted: #6a7282; --line: #dde1e7; --accent: #2f6fde; }
  * { box-sizing: border-box; }
  body { margin: 0; font: 14px/1.4 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--ink); background: var(--bg); }
  header { padding: 10px 18px; background: #1d2330; color: #fff; display: flex; align-items: baseline; gap: 14px; }
  header h1 { font-size: 18px; margin: 0; }
  header span { color: #b8c0cc; font-size: 13px; }
  main { display: grid; grid-template-columns: 300px minmax(420px, 1fr) 360px; gap: 12px; padding: 12px; }
  section { background: var(--panel); border: 1px solid var(--line); border-radius: 8px; padding: 12px; }
  h2 { font-size: 13px; text-transform: uppercase; letter-spacing: .04em; color: var(--muted); margin: 0 0 8px; }
  label { display: flex; justify-content: space-between; align-items: center; margin: 6px 0; gap: 8px; }
  select, input { font: inherit; padding: 3px 6px; border: 1px solid var(--line); border-radius: 4px; width: 150px; }
  button { font: inherit; padding: 5px 10px; border: 1px solid var(--line); border-radius: 5px; background: #fff; cursor: pointer; }
  button:hover { border-color: var(--accent); }
  button.primary { background: var(--accent); color: #fff; border-color: var(--accent); }
  .row { display: flex; flex-wrap: wrap; gap: 6px; margin: 8px 0; }
  .hint { color: var(--muted); font-size: 12px; }
  #clock { font: 600 20px/1.2 ui-monospace, SFMono-Regular, Menlo, monospace; }
  #leader { font-weight: 600; margin-top: 4px; }
  #stage { width: 100%; height: auto; display: block; }
  .legend { display: flex; flex-wrap: wrap; gap: 4px 14px; font-size: 12px; margin-top: 6px; }
  .legend i { display: inline-block; width: 10px; height: 10px; border-radius: 50%; margin-right: 5px; vertical-align: -1px; }
  #timeline { list-style: none; margin: 0; padding: 0; max-height: 430px; overflow-y: auto; font-size: 13px; }
  #timeline li { padding: 3px 4px; border-bottom: 1px solid #eef0f3; display: flex; gap: 8px; }
  #timeline li time { color: var(--muted); font-family: ui-monospace, monospace; min-width: 66px; text-align: right; }
  #timeline li.leader { background: #fff8e0; }
  #timeline li.fault { background: #fdecec; }
  #timeline li.agree { background: #e9f7ee; font-weight: 600; }
  #timeline li.violation { background: #ffd6d6; font-weight: 700; }
  table { border-collapse: collapse; width: 100%; font-size: 12px; }
  th, td { text-align: right; padding: 2px 4px; border-bottom: 1px solid #eef0f3; }
  th { color: var(--muted); font-weight: 500; }
  #error { color: #b00020; white-space: pre-wrap; }
  svg text { font-family: system-ui, sans-serif; pointer-events: none; }
  svg .node { cursor: pointer; }
</style>
</head>
<body>
<header><h1>ballot</h1><span>Bully, Raft and ZAB — the real core algorithms in the deterministic simulator, running in this page</span></header>
<main>
  <section id="setup">
    <h2>Run</h2>
    <label>Algorithm <select id="algorithm"></select></label>
    <label>Nodes <input id="nodes" type="number" min="3" max="9" value="5"></label>
    <label>Seed <input id="seed" type="number" min="0" value="1"></label>
    <label>Scenario <select id="scenario"></select></label>
    <label>Latency <select id="latency">
      <option value="1-5">1–5 ms (sim default)</option>
      <option value="10-30">10–30 ms</option>
      <option value="40-80">40–80 ms</option>
    </select></label>
    <div class="row"><button id="start" class="primary">New run</button></div>
    <h2 style="margin-top:14px">Playback</h2>
    <div id="clock">0.0 ms</div>
    <div class="row">
      <button id="play">Pause</button>
      <button id="step" title="process one event (pauses)">Step</button>
    </div>
    <label>Speed <select id="speed">
      <option value="0.01">0.01×</option>
      <option value="0.03">0.03×</option>
      <option value="0.1" selected>0.1×</option>
      <option value="0.3">0.3×</option>
      <option value="1">1× (real time)</option>
      <option value="3">3×</option>
      <option value="10">10×</option>
    </select></label>
    <h2 style="margin-top:14px">Faults</h2>
    <div class="hint">Click a node to crash it; click a crashed node to restart it.</div>
    <div class="row">
      <button id="crash-leader">Crash leader</button>
      <button id="isolate-leader">Isolate leader</button>
      <button id="split">Partition (leader in minority)</button>
      <button id="heal">Heal network</button>
      <button id="restart-all">Restart all</button>
    </div>
    <div id="error"></div>
  </section>
  <section>
    <h2>Cluster</h2>
    <div id="leader" data-leader="">no leader yet</div>
    <svg id="stage" viewBox="0 0 600 520" role="img" aria-label="the cluster"></svg>
    <div class="legend" id="roles"></div>
    <div class="legend" id="messages"></div>
    <div class="hint" id="network">network: whole</div>
  </section>
  <section>
    <h2>Timeline</h2>
    <ul id="timeline"></ul>
    <h2 style="margin-top:12px">Elections (failover)</h2>
    <table><thead><tr><th>from ms</th><th>to ms</th><th>took</th><th>leader</th><th>term</th><th>msgs</th></tr></thead><tbody id="elections"></tbody></table>
  </section>
</main>
<script type="module" src="/dist/ui/app.js"></script>
</body>
</html>
`;
}
