/**
 * NodeMetrics writes the Prometheus text itself (metrics.ts says why). These tests hold it to what
 * prom-client, the library it replaced on the run-time path, writes for the same samples: the same
 * families, the same lines, byte for byte. prom-client stays a dev dependency for this.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { algorithms } from '../core/algorithms.js';
import { METRICS_CONTENT_TYPE, NodeMetrics, electionDurationBuckets } from './metrics.js';

interface Family {
  readonly name: string;
  readonly help: string;
  readonly type: string;
  readonly samples: { readonly name: string; readonly labels: Record<string, string>; readonly value: number }[];
}

/** Reads a text exposition back (only what NodeMetrics writes: no timestamps, no exemplars). */
function parse(text: string): Family[] {
  const unescape = (value: string): string => value.replace(/\\(["\\n])/g, (_, c: string) => (c === 'n' ? '\n' : c));
  return text
    .trimEnd()
    .split('\n\n')
    .map((block) => {
      const [helpLine, typeLine, ...lines] = block.split('\n');
      const help = /^# HELP (\S+) (.*)$/.exec(helpLine!)!;
      const type = /^# TYPE (\S+) (\S+)$/.exec(typeLine!)!;
      const samples = lines.map((line) => {
        const match = /^([a-z_]+)(?:\{(.*)\})? (\S+)$/.exec(line);
        assert.ok(match, `a sample line: ${line}`);
        const labels: Record<string, string> = {};
        for (const [, name, value] of (match[2] ?? '').matchAll(/([a-z_]+)="((?:[^"\\]|\\.)*)"/g)) labels[name!] = unescape(value!);
        return { name: match[1]!, labels, value: Number(match[3]) };
      });
      return { name: help[1]!, help: unescape(help[2]!), type: type[2]!, samples };
    });
}

/** The same families, written by prom-client: gauges set, counters incremented, the histogram fed the same observations. */
async function promClientText(families: readonly Family[], observations: readonly number[]): Promise<string> {
  const registry = new Registry();
  for (const family of families) {
    const labelNames = [...new Set(family.samples.flatMap((sample) => Object.keys(sample.labels)))];
    const options = { name: family.name, help: family.help, labelNames, registers: [registry] };
    if (family.type === 'gauge') {
      const gauge = new Gauge(options);
      for (const { labels, value } of family.samples) gauge.set(labels, value);
    } else if (family.type === 'counter') {
      const counter = new Counter(options);
      for (const { labels, value } of family.samples) counter.inc(labels, value);
    } else {
      const histogram = new Histogram({ name: family.name, help: family.help, buckets: [...electionDurationBuckets], registers: [registry] });
      for (const seconds of observations) histogram.observe(seconds);
    }
  }
  return registry.metrics();
}

test('a fresh node: the families in their documented order, each at zero, exactly as prom-client writes them', async () => {
  const metrics = new NodeMetrics(algorithms.raft, 1, 'ballot', [1, 2, 3]);
  const text = await metrics.text();
  const families = parse(text);
  assert.deepEqual(
    families.map((family) => family.name),
    [
      'ballot_info',
      'ballot_is_leader',
      'ballot_term',
      'ballot_leader_changes_total',
      'ballot_has_leader',
      'ballot_election_duration_seconds',
      'ballot_elections_started_total',
      'ballot_messages_sent_total',
      'ballot_messages_received_total',
      'ballot_frames_rejected_total',
      'ballot_frames_rejected_by_reason_total',
      'ballot_messages_dropped_total',
      'ballot_messages_ignored_total',
      'ballot_counter_at_ceiling',
      'ballot_peer_connected',
      'ballot_connections_rejected_total',
      'ballot_peer_link_timeouts_total',
    ],
  );
  assert.equal(text, await promClientText(families, []));
  assert.match(text, /^ballot_peer_connected\{peer="2",direction="inbound"\} 0$/m);
  assert.match(text, /^ballot_election_duration_seconds_bucket\{le="\+Inf"\} 0$/m);
});

test('after traffic, elections and odd label values: the same text as prom-client, byte for byte', async () => {
  // A programmatic algorithm may be named anything: its name is a label value and must be escaped.
  const odd = { ...algorithms.zab, name: 'zab "v2" \\ test\nline' };
  const metrics = new NodeMetrics(odd, 2, 'c.1', [1, 2, 3, 4]);
  const observations: number[] = [];
  // Durations across the buckets, and one past the last bound (10 s), which only +Inf counts.
  let waitingSince = 0;
  let at = 0;
  for (let round = 0; round < 7; round++) {
    const duration = 37 + round * 211 + (round === 5 ? 12_000 : 0);
    at += duration;
    metrics.electionStarted(at - duration / 2); // already waiting: the wait still counts from waitingSince
    metrics.leaderChanged((round % 3) + 1, at);
    observations.push((at - waitingSince) / 1000);
    metrics.observeStatus({ id: 2, role: 'follower', leader: (round % 3) + 1, term: round + 1 });
    metrics.leaderChanged(null, at + 1);
    waitingSince = at + 1;
  }
  for (const type of odd.messageTypes) for (let i = 0; i < odd.messageTypes.indexOf(type) + 3; i++) metrics.messageSent(type);
  metrics.messageSent('not-a-type');
  metrics.messageReceived(odd.messageTypes[0]!);
  metrics.frameRejected('bad-json');
  metrics.frameRejected('bad-json');
  metrics.messageDropped('too-large');
  metrics.messageIgnored(odd.boundedCounters[0]!);
  assert.equal(metrics.ceilingReached(odd.boundedCounters[0]!), true);
  assert.equal(metrics.ceilingReached(odd.boundedCounters[0]!), false, 'once per counter');
  metrics.connectionRejected('handshake-timeout');
  metrics.linkTimedOut('outbound');
  metrics.connection(3, 'outbound', true);
  metrics.connection(4, 'inbound', true);
  metrics.connection(4, 'inbound', false);
  const text = await metrics.text();
  const families = parse(text);
  const histogram = families.find((family) => family.type === 'histogram')!;
  const count = histogram.samples.find((sample) => sample.name === 'ballot_election_duration_seconds_count')!.value;
  // The observations the histogram got are the ones the test computed: the text must agree with them.
  assert.equal(count, observations.length);
  assert.equal(text, await promClientText(families, observations));
  assert.match(text, /^ballot_info\{node="2",algorithm="zab \\"v2\\" \\\\ test\\nline",cluster="c\.1"\} 1$/m);
  assert.match(text, /^ballot_frames_rejected_total 2$/m);
  assert.doesNotMatch(text, /not-a-type/, 'a message type outside the closed set is not counted');
});

test("the Content-Type is prom-client's for the text format 0.0.4", () => {
  assert.equal(METRICS_CONTENT_TYPE, Registry.PROMETHEUS_CONTENT_TYPE);
  assert.equal(new NodeMetrics(algorithms.bully, 1, 'ballot', [1]).contentType, METRICS_CONTENT_TYPE);
});
