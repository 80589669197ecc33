/**
 * Membership on the node's HTTP port (issue 15, item 6; docs/membership.md):
 *
 *   GET  /members   200 {"id","index","committed","voters","observers","addresses","leader","member"}: this node's view
 *                   (`member`: where this node stands in it, MemberStanding)
 *   POST /members   {"action":"add","id":4,"address":"HOST:PORT"[,"learner":true]}
 *                   {"action":"remove","id":1}   {"action":"promote","id":4}
 *                   200 {"action","id","index","voters","observers","addresses"} once the change is committed
 *
 * A change goes to the leader: a member that does not lead answers 307 to the leader's advertised url,
 * or 503 (as /kv does, kv-http.ts). 409 with `reason` when the leader refuses (MembershipRefusal: a
 * change pending, a learner not caught up, a wrong id, the last voter); 501 with reason 'unsupported'
 * on an algorithm whose membership is fixed (ZAB, Bully: Algorithm.membershipChange); 400 for a body
 * that is not a request, 413 for one too long; 503 "lost" and 504 "outcome unknown" as for writes.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { MembershipRefusal, NodeId } from '../core/types.js';
import { isLoopback, parseAddress } from './config.js';
import { notLeader, readBody, send, unsettled } from './kv-http.js';
import type { LeaderInfo } from './leadership.js';
import { MAX_MEMBER_REQUEST_BYTES, parseMemberRequest, type ChangeOutcome, type MemberRequest, type MembershipService } from './membership.js';

export interface MembersHttpContext {
  readonly id: NodeId;
  readonly membership: MembershipService;
  /** Whether this node leads now. */
  readonly leads: () => boolean;
  readonly leader: () => LeaderInfo | null;
  /** Algorithm.membershipChange: false for ZAB and Bully, whose membership is fixed at start. */
  readonly changes: boolean;
  readonly algorithm: string;
  /** The peer port speaks plaintext without --insecure: every member must be on loopback. */
  readonly plaintext: boolean;
}

export const MEMBERS_PATH = '/members';

/** Answers one request to /members (never throws; every failure is an HTTP answer). */
export function handleMembers(request: IncomingMessage, response: ServerResponse, context: MembersHttpContext): void {
  const method = request.method ?? 'GET';
  if (method === 'GET' || method === 'HEAD') return send(response, 200, viewBody(context));
  if (method !== 'POST') return send(response, 405, { error: `method ${method} not allowed on /members (GET, POST)` }, { allow: 'GET, POST' });
  readBody(
    request,
    (body) => {
      if (body.type === 'aborted') return;
      if (body.type === 'too-large') return send(response, 413, { error: `the body is longer than ${MAX_MEMBER_REQUEST_BYTES} bytes` }, { connection: 'close' });
      if (body.type === 'not-utf8') return send(response, 400, { error: 'the body is not UTF-8' });
      let json: unknown;
      try {
        json = JSON.parse(body.text);
      } catch {
        return send(response, 400, { error: 'the body is not JSON (expected e.g. {"action":"add","id":4,"address":"HOST:PORT"})' });
      }
      const parsed = parseMemberRequest(json);
      if (typeof parsed === 'string') return send(response, 400, { error: parsed });
      if (!context.changes) return send(response, 501, { error: fixedMembership(context.algorithm), reason: 'unsupported' });
      if (parsed.action === 'add' && context.plaintext && !isLoopback(parseAddress(parsed.address, 'address').host)) {
        return send(response, 400, { error: `${parsed.address} is not a loopback address, and the peer port speaks plaintext: run the members with --tls-cert, --tls-key and --tls-ca (or --insecure)` });
      }
      if (!context.leads()) return notLeader(response, context.leader()?.id ?? null, context, request.url ?? MEMBERS_PATH);
      void context.membership.request(parsed).then((outcome) => answer(response, parsed, outcome, context, request.url ?? MEMBERS_PATH));
    },
    MAX_MEMBER_REQUEST_BYTES,
  );
}

/** The one line ZAB and Bully answer with (docs/membership.md says why). */
export function fixedMembership(algorithm: string): string {
  return `${algorithm}'s membership is fixed at start: it has no membership change here (ZooKeeper 3.5's dynamic reconfiguration is a separate protocol, not implemented; see docs/membership.md)`;
}

function viewBody(context: MembersHttpContext): object {
  const { index, committed, membership } = context.membership.view();
  return {
    id: context.id, index, committed, voters: membership.voters, observers: membership.observers, addresses: membership.addresses, leader: context.leader()?.id ?? null,
    member: context.membership.standing(),
  };
}

function answer(response: ServerResponse, request: MemberRequest, outcome: ChangeOutcome, context: MembersHttpContext, url: string): void {
  switch (outcome.type) {
    case 'done':
      return send(response, 200, { action: request.action, id: request.id, index: outcome.index, ...outcome.membership });
    case 'refused':
      if (outcome.reason === 'unsupported') return send(response, 501, { error: fixedMembership(context.algorithm), reason: outcome.reason });
      return send(response, 409, { error: refusal(outcome.reason, request, outcome.detail), reason: outcome.reason });
    case 'not-leader':
      return notLeader(response, outcome.leader, context, url);
    case 'lost':
    case 'unknown':
    case 'stopped':
      return unsettled(response, outcome.type, 'GET /members shows whether it took effect');
  }
}

/** The leader's refusal in words (the `reason` field carries the MembershipRefusal itself). */
function refusal(reason: Exclude<MembershipRefusal, 'unsupported'>, request: MemberRequest, detail: string | undefined): string {
  const node = `node ${request.id}`;
  switch (reason) {
    case 'change-pending':
      return 'another membership change is not committed yet (or the leader has not committed an entry of its term yet); retry shortly';
    case 'not-caught-up':
      return detail ?? `${node} has not caught up with the leader's log yet; it stays a learner (retry the promotion)`;
    case 'not-a-member':
      return `${node} is not a member${request.action === 'promote' ? ' (add it as a learner first)' : ''}`;
    case 'already-a-member':
      return `${node} is already a member${request.action === 'add' ? ' (at another address, or as a voter already)' : ''}`;
    case 'last-voter':
      return `removing ${node} would leave no voter`;
  }
}
