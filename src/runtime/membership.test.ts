/**
 * The membership service on its own (membership.ts): where a node stands in the configuration it uses,
 * as GET /status and GET /members report it (`member`). The cluster side is membership-processes.test.ts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Membership, NodeId } from '../core/types.js';
import { MembershipService } from './membership.js';
import { RequestIds } from './requests.js';

const config = (voters: NodeId[], observers: NodeId[] = []): Membership => ({
  voters,
  observers,
  addresses: Object.fromEntries([...voters, ...observers].map((id) => [String(id), `127.0.0.1:${7000 + id}`])),
});

function service(id: NodeId, initial: Membership, joining = false): MembershipService {
  return new MembershipService({ id, initial, joining, seeds: new Map(), submit: () => {}, ids: new RequestIds(), onPeers: () => {} });
}

test('a member started from its flags: voter, observer when demoted to one, removed once the configuration in force leaves it out', () => {
  const node = service(3, config([1, 2, 3]));
  assert.equal(node.standing(), 'voter');
  node.onEvent({ type: 'membership-changed', index: 7, membership: config([1, 2], [3]) });
  assert.equal(node.standing(), 'observer');
  node.onEvent({ type: 'membership-changed', index: 9, membership: config([1, 2]) });
  assert.equal(node.standing(), 'removed', 'not yet committed: the node uses its newest configuration (thesis §4.1)');
  node.onEvent({ type: 'committed', index: 9, term: 2, command: '' });
  assert.equal(node.standing(), 'removed');
  // A removed node restarted with its usual flags: its log's configuration (reported at start) leaves it out.
  const restarted = service(3, config([1, 2, 3]));
  restarted.onEvent({ type: 'membership-changed', index: 9, membership: config([1, 2]) });
  assert.equal(restarted.standing(), 'removed');
});

test('a node started with --join is joining until a configuration names it; removed after that only if one leaves it out again', () => {
  const node = service(4, config([]), true);
  assert.equal(node.standing(), 'joining');
  // Catching up, it may meet configurations from before its addition: still joining, not removed.
  node.onEvent({ type: 'membership-changed', index: 5, membership: config([1, 2, 3]) });
  assert.equal(node.standing(), 'joining');
  node.onEvent({ type: 'membership-changed', index: 9, membership: config([1, 2, 3], [4]) });
  assert.equal(node.standing(), 'observer');
  node.onEvent({ type: 'membership-changed', index: 10, membership: config([1, 2, 3, 4]) });
  assert.equal(node.standing(), 'voter');
  node.onEvent({ type: 'membership-changed', index: 12, membership: config([1, 2, 3]) });
  assert.equal(node.standing(), 'removed');
});

test('a not-a-member answer is believed only when it tells of a removal this node has not seen', () => {
  // A voter at the flags' configuration (index 0): a member at configuration 9 no longer counts it.
  const follower = service(3, config([1, 2, 3]));
  assert.equal(follower.notMember(1, 0), null, 'index 0: the flags of a member that does not list this node; no removal');
  assert.deepEqual(follower.notMember(1, 9), { index: 9, by: 1 });
  assert.equal(follower.standing(), 'removed');
  assert.deepEqual(follower.removedBy(), { index: 9, by: 1 });
  assert.equal(follower.notMember(2, 10), null, 'once');

  // A member at configuration 12 that names it, refused by a member lagging at 8 (before it was added): no news.
  const added = service(4, config([]), true);
  added.onEvent({ type: 'membership-changed', index: 12, membership: config([1, 2, 3, 4]) });
  assert.equal(added.notMember(1, 8), null);
  assert.equal(added.notMember(1, 12), null, 'the same index that names this node: a disagreement, not a removal it missed');
  assert.equal(added.standing(), 'voter');
  assert.deepEqual(added.notMember(2, 13), { index: 13, by: 2 });

  // A joiner not added yet is refused by every member: it was never a member, so nothing is believed.
  const joiner = service(5, config([]), true);
  assert.equal(joiner.notMember(1, 20), null);
  assert.equal(joiner.standing(), 'joining');

  // A removed leader appended its own removal (index 15): a member that committed it refuses it at 15.
  const leader = service(1, config([1, 2, 3]));
  leader.onEvent({ type: 'membership-changed', index: 15, membership: config([2, 3]) });
  assert.equal(leader.notMember(2, 14), null, 'a lagging member');
  assert.deepEqual(leader.notMember(2, 15), { index: 15, by: 2 });
});
