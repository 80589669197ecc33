/**
 * One real-browser test: headless Chromium loads the page from `ballot ui`'s server, runs Raft's
 * leader-crash scenario through the page's own controls at 10× speed, and reads from the DOM that a
 * leader was elected, crashed, and replaced. In CI Chromium comes from Debian (.ci/run installs it).
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { chromium, type BrowserContext } from 'playwright-core';
import { requires } from '../testing/requires.js';
import { startUiServer, type UiServer } from './server.js';

const CHROMIUM = '/usr/bin/chromium';

const chromiumMissing = `needs Chromium at ${CHROMIUM} (apt-get install -y chromium)`;

test('the page elects a raft leader, shows its crash and a new leader', { ...requires(existsSync(CHROMIUM), chromiumMissing), timeout: 30_000 }, async () => {
  assert.ok(existsSync(CHROMIUM), `the browser test ${chromiumMissing}`);
  const userDataDir = mkdtempSync(join(tmpdir(), 'ballot-ui-chromium-'));
  let server: UiServer | null = null;
  let context: BrowserContext | null = null;
  try {
    server = await startUiServer({ port: 0, host: '127.0.0.1' });
    context = await chromium.launchPersistentContext(userDataDir, {
      executablePath: CHROMIUM,
      headless: true,
      timeout: 15_000,
      args: ['--headless=new', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
    });
    const page = context.pages()[0] ?? (await context.newPage());
    page.setDefaultTimeout(10_000);
    const errors: string[] = [];
    page.on('pageerror', (error) => errors.push(error.message));
    await page.goto(server.url);
    await page.waitForSelector('body[data-ready="true"]');

    await page.selectOption('#algorithm', 'raft');
    await page.fill('#nodes', '5');
    await page.fill('#seed', '7');
    await page.selectOption('#scenario', 'leader-crash');
    await page.selectOption('#speed', '10');
    await page.click('#start');

    const leaderNow = () => page.getAttribute('#leader', 'data-leader');
    await page.waitForFunction(() => document.getElementById('leader')?.dataset['leader'] !== '');
    const first = await leaderNow();
    assert.match(first ?? '', /^[1-5]$/);
    // The scenario crashes the leader at 2 s of virtual time; the others must agree on a new one.
    await page.waitForFunction((old) => {
      const now = document.getElementById('leader')?.dataset['leader'];
      return now !== '' && now !== old;
    }, first);
    const second = await leaderNow();
    assert.match(second ?? '', /^[1-5]$/);
    assert.notEqual(second, first);

    const timeline = await page.locator('#timeline li').allTextContents();
    assert.ok(timeline.some((line) => line.includes(`crash ${first}`)), timeline.join('\n'));
    assert.ok(timeline.some((line) => line.includes(`${second} becomes leader`)), timeline.join('\n'));
    assert.equal(await page.getAttribute(`g.node[data-node="${first}"]`, 'data-up'), 'false');
    assert.ok((await page.locator('#elections tr').count()) >= 2, 'the initial election and the failover are listed');
    // Clicking a node crashes it; clicking it again restarts it.
    const node = page.locator(`g.node[data-node="${second}"]`);
    await node.click();
    assert.equal(await node.getAttribute('data-up'), 'false');
    await node.click();
    assert.equal(await node.getAttribute('data-up'), 'true');
    assert.deepEqual(errors, []);
  } finally {
    await context?.close();
    await server?.close();
    rmSync(userDataDir, { recursive: true, force: true });
  }
});
