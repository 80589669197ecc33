#!/usr/bin/env node
/**
 * Where a planned hand-off's time goes, trial by trial, from the members' own logs: run
 *
 *   ballot bench failover --algorithm raft --system etcd --nodes 5 --kind graceful --keep-data --json > run.json
 *   node scripts/handoff-breakdown.mjs run.json
 *
 * and for each kept trial of ballot-raft and etcd it prints, in ms from the old leader's log line that
 * starts the transfer (ballot 'transfer-started', etcd "starts to transfer leadership"): when the target
 * campaigned (ballot: logged once its new term and vote are persisted; its vote requests left before
 * that write, docs/runtime.md), when it led (a quorum voted, each after persisting its vote), and when the last survivor named it (the new leader's first
 * heartbeat reached it). `signal→start` is the rest of the trial's named time (TrialResult.namedMs):
 * the signal's delivery and the old leader's handling of it. Log times have 1 ms resolution.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

const file = process.argv[2];
if (!file) {
  process.stderr.write('usage: node scripts/handoff-breakdown.mjs RUN.json (a `ballot bench failover --kind graceful --keep-data --json` output)\n');
  process.exit(2);
}
const run = JSON.parse(readFileSync(file, 'utf8'));

function lines(path) {
  try {
    return readFileSync(path, 'utf8').split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l));
  } catch {
    return [];
  }
}

/** Per member: [{ at, kind, leader? }] in the shape both systems' logs reduce to. */
function ballotEvents(dir) {
  const byMember = new Map();
  for (const name of readdirSync(dir)) {
    const match = /^node-(\d+)\.log$/.exec(name);
    if (!match) continue;
    byMember.set(Number(match[1]), lines(join(dir, name)).flatMap((e) => {
      const at = Date.parse(e.time);
      if (e.event === 'transfer-started') return [{ at, kind: 'start', to: e.to }];
      if (e.event === 'leader-changed' && e.role === 'candidate') return [{ at, kind: 'campaign' }];
      if (e.event === 'leader-changed' && e.leader !== null) return [{ at, kind: 'named', leader: e.leader }];
      return [];
    }));
  }
  return byMember;
}

function etcdEvents(dir) {
  const ids = new Map(); // hex member id → member number, from "raft.node: <self> ..."
  const byMember = new Map();
  for (const name of readdirSync(dir)) {
    const match = /^n(\d+)\.log$/.exec(name);
    if (!match) continue;
    const member = Number(match[1]);
    const events = [];
    for (const e of lines(join(dir, name))) {
      const at = Date.parse(e.ts);
      const msg = String(e.msg ?? '');
      let m;
      if ((m = /^([0-9a-f]+) \[term \d+\] starts to transfer leadership to ([0-9a-f]+)/.exec(msg))) events.push({ at, kind: 'start', toHex: m[2] });
      else if (/became candidate at term/.test(msg)) events.push({ at, kind: 'campaign' });
      else if ((m = /^raft\.node: ([0-9a-f]+) (?:elected leader|changed leader from [0-9a-f]+ to) ([0-9a-f]+) at term/.exec(msg))) {
        ids.set(m[1], member);
        events.push({ at, kind: 'named', leaderHex: m[2] });
      }
    }
    byMember.set(member, events);
  }
  for (const events of byMember.values()) {
    for (const e of events) {
      if (e.leaderHex !== undefined) e.leader = ids.get(e.leaderHex);
      if (e.toHex !== undefined) e.to = ids.get(e.toHex);
    }
  }
  return byMember;
}

const median = (xs) => {
  const s = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  return s.length === 0 ? NaN : s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

for (const row of run.rows) {
  if (row.kind !== 'report') continue;
  const report = row.report;
  const events = report.system === 'ballot-raft' ? ballotEvents : report.system === 'etcd' ? etcdEvents : null;
  if (events === null || report.kind !== 'graceful') continue;
  const table = [];
  for (const trial of report.trials) {
    if (!trial.ok || trial.keptDataDir === null) continue;
    const byMember = events(trial.keptDataDir);
    const start = (byMember.get(trial.killed) ?? []).filter((e) => e.kind === 'start').at(-1);
    if (!start) continue;
    const target = trial.newLeader;
    const after = (member, kind, leader) => (byMember.get(member) ?? []).find((e) => e.at >= start.at && e.kind === kind && (leader === undefined || e.leader === leader));
    const campaign = after(target, 'campaign');
    const led = after(target, 'named', target);
    const survivors = [...byMember.keys()].filter((m) => m !== trial.killed);
    const named = survivors.map((m) => after(m, 'named', target)?.at ?? NaN);
    const lastNamed = Math.max(...named) - start.at;
    table.push({
      trial: trial.trial,
      load: trial.load,
      'signal→start': trial.namedMs !== null ? trial.namedMs - lastNamed : NaN,
      campaign: campaign ? campaign.at - start.at : NaN,
      led: led ? led.at - start.at : NaN,
      'all named': lastNamed,
      'named (bench)': trial.namedMs ?? NaN,
      'failover (polls)': trial.failoverMs,
    });
  }
  if (table.length === 0) continue;
  const columns = Object.keys(table[0]);
  const fmt = (v) => (typeof v === 'number' ? (Number.isInteger(v) ? String(v) : v.toFixed(1)) : String(v));
  process.stdout.write(`\n${report.system}, N=${report.nodes}, graceful (ms from the old leader's transfer start; signal→start from the bench's named time)\n`);
  process.stdout.write(`| ${columns.join(' | ')} |\n|${columns.map(() => '---:').join('|')}|\n`);
  for (const r of table) process.stdout.write(`| ${columns.map((c) => fmt(r[c])).join(' | ')} |\n`);
  process.stdout.write(`| median | ${columns.slice(1).map((c) => fmt(median(table.map((r) => r[c])))).join(' | ')} |\n`);
}
