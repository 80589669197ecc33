import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { WarmUp } from './warm-up.js';

const timing = { electionTimeoutMaxMs: 20, heartbeatMs: 5 };

/** Waits until `done` holds (checked every ms), failing after 10 s: a loaded machine may be slow. */
async function until(done: () => boolean, what: string): Promise<void> {
  for (const start = performance.now(); !done(); await sleep(1)) {
    if (performance.now() - start > 10_000) assert.fail(`not within 10 s: ${what}`);
  }
}

function warmUp(everyoneHeard: () => boolean, electionTimeoutMaxMs = timing.electionTimeoutMaxMs) {
  const rounds: number[] = [];
  /** How many samples the receive path had validated when each round began. */
  const validatedAtRound: number[] = [];
  let validated = 0;
  const warm = new WarmUp({
    validate: (value) => {
      validated++;
      return value as never;
    },
    samples: [{ type: 'Heartbeat', term: 1 }],
    timing: { ...timing, electionTimeoutMaxMs },
    everyoneHeard,
    rehearse: (round) => void (rounds.push(round), validatedAtRound.push(validated)),
    rehearsalIntervalMs: 15,
  });
  return { warm, rounds, validatedAtRound, validated: () => validated };
}

test('the warm-up runs three rehearsal rounds, then the receive path, then one round at each interval until stopped', async () => {
  const { warm, rounds, validatedAtRound, validated } = warmUp(() => true);
  warm.leaderKnown(performance.now() - timing.electionTimeoutMaxMs); // a leader that has stood an election timeout
  await until(() => rounds.length >= 5, 'rounds at the interval after the first three');
  assert.deepEqual(rounds.slice(0, 5), [0, 1, 2, 3, 4]);
  assert.deepEqual(validatedAtRound.slice(0, 4), [0, 0, 0, 1000], 'the rehearsal first, then 1000 rounds of the receive path');
  assert.equal(validated(), 1000);
  warm.stop();
  const stoppedAt = rounds.length;
  await sleep(40);
  assert.equal(rounds.length, stoppedAt, 'nothing runs after stop');
});

test('the warm-up waits for a leader to stand and every member to be heard (or five election timeouts)', async () => {
  let heard = false;
  // Five election timeouts of 400 ms: the warm-up starts only when heard, unless this test stalls 2 s.
  const { warm, rounds, validated } = warmUp(() => heard, 400);
  warm.leaderKnown(performance.now());
  await sleep(30);
  assert.equal(validated(), 0, 'not while a member is not heard yet');
  heard = true;
  await until(() => rounds.length >= 3 && validated() === 1000, 'the warm-up once every member is heard (and the leader stood 400 ms)');
  warm.stop();
});

test('a warm-up stopped before it started never runs', async () => {
  const { warm, rounds, validated } = warmUp(() => true);
  warm.stop();
  warm.leaderKnown(performance.now() - 1000);
  await sleep(20);
  assert.equal(validated(), 0);
  assert.equal(rounds.length, 0);
});
