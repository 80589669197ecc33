/**
 * ballot_has_leader and ballot_election_duration_seconds on real nodes (real sockets on 127.0.0.1,
 * scraped over HTTP): they appear from the start, and move when the leader fails over.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { agreedLeader } from '../core/agreement.js';
import { algorithms } from '../core/algorithms.js';
import { electionDurationBuckets } from './metrics.js';
import { startNode, type NodeHandle } from './node.js';
import { freePorts, metricValue, waitFor } from './testing.js';

async function scrape(node: NodeHandle): Promise<string> {
  const response = await fetch(`http://127.0.0.1:${node.httpPort}/metrics`);
  assert.equal(response.status, 200);
  return response.text();
}

const count = (text: string): number | undefined => metricValue(text, 'ballot_election_duration_seconds_count');
const sum = (text: string): number | undefined => metricValue(text, 'ballot_election_duration_seconds_sum');

for (const algorithm of Object.values(algorithms)) {
  test(`${algorithm.name}: ballot_has_leader and the election-duration histogram follow a failover`, { timeout: 30_000 }, async () => {
    const dir = mkdtempSync(join(tmpdir(), `ballot-election-metrics-${algorithm.name}-`));
    const ports = await freePorts(3);
    const peers = new Map(ports.map((port, i) => [i + 1, `127.0.0.1:${port}`]));
    const nodes: NodeHandle[] = [];
    try {
      // One node first, alone: Raft and ZAB know no leader without a quorum (Bully may name itself).
      const first = await startNode({ id: 1, algorithm, peers, dataDir: join(dir, 'n1'), http: '127.0.0.1:0' });
      nodes.push(first);
      const leaderBefore = first.status().leader;
      const alone = await scrape(first);
      if (first.status().leader === leaderBefore) {
        const known = leaderBefore === null ? 0 : 1;
        assert.equal(metricValue(alone, 'ballot_has_leader'), known);
        assert.equal(count(alone), known);
      }
      if (algorithm.name !== 'bully') assert.equal(metricValue(alone, 'ballot_has_leader'), 0);
      for (const bound of electionDurationBuckets) assert.match(alone, new RegExp(`^ballot_election_duration_seconds_bucket\\{le="${bound}"\\} \\d+$`, 'm'));

      nodes.push(...(await Promise.all([2, 3].map((id) => startNode({ id, algorithm, peers, dataDir: join(dir, `n${id}`), http: '127.0.0.1:0' })))));
      // Agreement and metrics read together until they match: on a loaded machine an early leader may
      // be replaced once before the cluster settles.
      const settled = async (members: readonly NodeHandle[], not: number | null): Promise<Map<number, string> | undefined> => {
        const leader = agreedLeader(members.map((node) => node.status()))?.leader;
        if (leader === undefined || leader === not) return undefined;
        const texts = new Map<number, string>();
        for (const node of members) texts.set(node.id, await scrape(node));
        if (agreedLeader(members.map((node) => node.status()))?.leader !== leader) return undefined;
        return [...texts.values()].every((text) => metricValue(text, 'ballot_has_leader') === 1) ? texts : undefined;
      };
      const before = await waitFor('an agreed leader, shown in /metrics', 15_000, () => settled(nodes, null));
      for (const [id, text] of before) {
        assert.ok((count(text) ?? 0) >= 1, `node ${id} observed its first election`);
        assert.ok((sum(text) ?? 0) > 0, `node ${id}: the first election took time`);
      }

      const leaderId = agreedLeader(nodes.map((node) => node.status()))!.leader;
      const leader = nodes.find((node) => node.id === leaderId)!;
      await leader.stop();
      const survivors = nodes.filter((node) => node !== leader);
      const after = await waitFor('a new leader among the survivors, shown in /metrics', 15_000, () => settled(survivors, leaderId));
      // A survivor that heard the new leader before it noticed the old one's failure (Bully's
      // Coordinator can arrive first) went from one leader to the next without waiting: no election
      // to observe. The new leader itself at least campaigned, and observed one.
      const observed = survivors.filter((node) => count(after.get(node.id)!)! > count(before.get(node.id)!)!);
      assert.ok(observed.length >= 1, 'a survivor observed the failover election');
      if (algorithm.name !== 'bully') assert.equal(observed.length, survivors.length, 'every survivor lost its leader, then knew a new one');
      for (const node of observed) {
        const added = sum(after.get(node.id)!)! - sum(before.get(node.id)!)!;
        // Bully's highest survivor notices the failure and wins in the same instant (no one to ask): 0 s.
        assert.ok(added >= (algorithm.name === 'bully' ? 0 : 0.001) && added < 15, `node ${node.id}: the failover took ${added} s`);
      }
    } finally {
      await Promise.all(nodes.map((node) => node.stop()));
      rmSync(dir, { recursive: true, force: true });
    }
  });
}
