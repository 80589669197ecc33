/**
 * The real-browser test: headless Chromium loads the page from `ballot ui`'s server at 1,024 px wide,
 * lets Bully, Raft and ZAB elect side by side, crashes the leader of all three with one click, checks
 * the crash happened at the same virtual time in every pane, clicks a node, goes back with the
 * scrubber, and checks that the moment's URL, opened in a fresh page (a fresh run to that time), shows
 * exactly the same state. In CI Chromium comes from Debian (.ci/run installs it).
 *
 * Set BALLOT_UI_SCREENSHOT=path.png to keep a screenshot of the page at 1,024 px (to judge the layout).
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { requires } from '../testing/requires.js';
import { startUiServer, type UiServer } from './server.js';

const CHROMIUM = '/usr/bin/chromium';

const chromiumMissing = `needs Chromium at ${CHROMIUM} (apt-get install -y chromium)`;

const PANES = ['bully', 'raft', 'zab'] as const;

/** What each pane shows: its nodes' roles, terms and leaders, the messages in flight, its caption. */
async function paneStates(page: Page): Promise<Record<string, { state: string; caption: string; leader: string }>> {
  return page.evaluate(() => {
    const states: Record<string, { state: string; caption: string; leader: string }> = {};
    for (const pane of Array.from(document.querySelectorAll<HTMLElement>('.pane'))) {
      states[pane.dataset['algorithm']!] = {
        state: pane.dataset['state'] ?? '',
        caption: pane.querySelector('.caption')?.textContent ?? '',
        leader: pane.dataset['leader'] ?? '',
      };
    }
    return states;
  });
}

const paneLeader = (page: Page, algorithm: string) => page.getAttribute(`.pane[data-algorithm="${algorithm}"]`, 'data-leader');

test('three panes elect, one click crashes every leader at once, the scrubber and a URL bring a moment back', { ...requires(existsSync(CHROMIUM), chromiumMissing, 'browser'), timeout: 180_000 }, async () => {
  assert.ok(existsSync(CHROMIUM), `the browser test ${chromiumMissing}`);
  const userDataDir = mkdtempSync(join(tmpdir(), 'ballot-ui-chromium-'));
  let server: UiServer | null = null;
  let context: BrowserContext | null = null;
  try {
    server = await startUiServer({ port: 0, host: '127.0.0.1' });
    context = await chromium.launchPersistentContext(userDataDir, {
      executablePath: CHROMIUM,
      headless: true,
      timeout: 60_000,
      viewport: { width: 1024, height: 900 },
      args: ['--headless=new', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
    });
    const page = context.pages()[0] ?? (await context.newPage());
    page.setDefaultTimeout(60_000);
    const errors: string[] = [];
    page.on('pageerror', (error) => errors.push(error.message));
    await page.goto(`${server.url}?nodes=5&seed=7&scenario=cold-start`);
    await page.waitForSelector('body[data-ready="true"]');
    assert.deepEqual(await page.locator('.pane').evaluateAll((panes) => panes.map((p) => (p as HTMLElement).dataset['algorithm'])), [...PANES]);
    // At 1,024 px nothing is cut off or scrolls sideways.
    assert.ok((await page.evaluate(() => document.documentElement.scrollWidth)) <= 1024, 'no horizontal scrolling at 1,024 px');
    // Messages are visible in flight at the default speed and latency.
    await page.waitForFunction(() => document.querySelectorAll('circle.message').length > 0);
    // Every node shows a timer running down before the first election.
    await page.waitForSelector('.pane[data-algorithm="raft"] circle.timer[data-purpose="timeout"]');

    await page.selectOption('#speed', '10');
    await page.waitForFunction(() => Array.from(document.querySelectorAll<HTMLElement>('.pane')).every((p) => p.dataset['leader'] !== ''));
    await page.click('#play'); // pause
    assert.equal(await page.textContent('#play'), 'Play', 'paused');
    const leaders = Object.fromEntries(await Promise.all(PANES.map(async (a) => [a, await paneLeader(page, a)] as const)));
    for (const a of PANES) assert.match(leaders[a] ?? '', /^[1-5]$/, a);
    // The Raft leader's timer is its heartbeat.
    assert.equal(await page.getAttribute(`.pane[data-algorithm="raft"] g.node[data-node="${leaders['raft']}"] circle.timer`, 'data-purpose'), 'heartbeat');

    await page.click('#crash-leader');
    const crashTimes: string[] = [];
    for (const a of PANES) {
      const pane = `.pane[data-algorithm="${a}"]`;
      assert.equal(await page.getAttribute(`${pane} g.node[data-node="${leaders[a]}"]`, 'data-up'), 'false', `${a}: its leader ${leaders[a]} is down: ${JSON.stringify(await paneStates(page))}`);
      assert.match((await page.textContent(`${pane} .caption`)) ?? '', new RegExp(`^Leader ${leaders[a]} crashed: `), a);
      crashTimes.push((await page.locator(`.timeline li[data-kind="crash"] time`).nth(PANES.indexOf(a)).textContent()) ?? '');
    }
    assert.equal(new Set(crashTimes).size, 1, `one instant for all: ${crashTimes.join(', ')}`);
    const crashAtMs = Number(crashTimes[0]);
    if (process.env['BALLOT_UI_SCREENSHOT']) await page.screenshot({ path: process.env['BALLOT_UI_SCREENSHOT'], fullPage: true });

    // Every pane fails over to a new leader.
    await page.click('#play');
    await page.waitForFunction(
      (old) => Array.from(document.querySelectorAll<HTMLElement>('.pane')).every((p) => p.dataset['leader'] !== '' && p.dataset['leader'] !== old[p.dataset['algorithm']!]),
      leaders,
    );
    await page.click('#play');
    assert.equal(await page.textContent('#play'), 'Play', 'paused again');
    const rows = await page.locator('#strip tr').evaluateAll((trs) => trs.map((tr) => Array.from(tr.children).map((td) => td.textContent)));
    assert.equal(rows.length, 3);
    for (const row of rows) assert.ok(Number(row[5]) >= 2, `two elections at least: ${row.join(' | ')}`);

    // Clicking a node crashes it in every pane; clicking it again restarts it everywhere.
    const raftLeader = (await paneLeader(page, 'raft'))!;
    await page.click(`.pane[data-algorithm="raft"] g.node[data-node="${raftLeader}"]`);
    for (const a of PANES) assert.equal(await page.getAttribute(`.pane[data-algorithm="${a}"] g.node[data-node="${raftLeader}"]`, 'data-up'), 'false', `${a} ${raftLeader} ${JSON.stringify(await paneStates(page))} ${await page.textContent('.timeline')}`);
    await page.click(`.pane[data-algorithm="zab"] g.node[data-node="${raftLeader}"]`);
    for (const a of PANES) assert.equal(await page.getAttribute(`.pane[data-algorithm="${a}"] g.node[data-node="${raftLeader}"]`, 'data-up'), 'true', a);

    // Back with the scrubber to just after the first crash: the crash is still there, later ones are not yet.
    const back = Math.ceil(crashAtMs) + 40;
    await page.evaluate((value) => {
      const scrubber = document.getElementById('scrubber') as HTMLInputElement;
      scrubber.value = String(value);
      scrubber.dispatchEvent(new Event('input'));
    }, back);
    assert.equal(Number(await page.getAttribute('#clock', 'data-now')), back);
    for (const a of PANES) {
      assert.equal(await page.getAttribute(`.pane[data-algorithm="${a}"] g.node[data-node="${leaders[a]}"]`, 'data-up'), 'false', `${a}: still crashed at ${back}`);
    }
    const scrubbed = await paneStates(page);

    // The moment's URL, opened in a fresh page, runs the simulation afresh to that time: the same state.
    await page.click('#share');
    const link = await page.inputValue('#link');
    assert.match(link, new RegExp(`[?&]t=${back}(&|$)`));
    assert.match(link, /clicks=\d+-crash-leader%7E\d+-crash-\d%7E\d+-restart-\d/);
    const fresh = await context.newPage();
    fresh.setDefaultTimeout(60_000);
    fresh.on('pageerror', (error) => errors.push(error.message));
    await fresh.goto(link);
    await fresh.waitForSelector('body[data-ready="true"]');
    assert.equal(Number(await fresh.getAttribute('#clock', 'data-now')), back);
    assert.equal(await fresh.textContent('#play'), 'Play', 'a shared moment opens paused');
    assert.deepEqual(await paneStates(fresh), scrubbed);
    assert.deepEqual(errors, []);
  } finally {
    await context?.close();
    await server?.close();
    rmSync(userDataDir, { recursive: true, force: true });
  }
});
