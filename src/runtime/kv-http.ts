/**
 * The key-value API on the node's HTTP port (issue 15; docs/reference.md):
 *
 *   PUT    /kv/:key              body = the value         200 {"key","version"}
 *   GET    /kv/:key[?stale=1]                            200 {"key","value","version"}; 404 when absent
 *   DELETE /kv/:key                                      200 {"key","version"}
 *   POST   /kv/:key?cas=VERSION  body = the new value     200 {"key","ok","version"}
 *
 * A GET is linearizable (a read barrier through the leader) unless `?stale=1`, which any member serves
 * from its own store at once. A member that does not lead answers 307 with a Location on the leader's
 * advertised `url` (`--advertise '{"url":"http://…"}'`), or 503 with Retry-After and the leader it
 * knows when it cannot build one. A write whose index another term's entry took answers 503 "lost, not
 * applied" (it certainly did not take effect); one not answered in time, 504 "outcome unknown".
 * Mistakes are 400 (bad key, bad cas version, body not UTF-8), 413 (value or body too long), 405
 * (another method); every answer is JSON with an `error` line when it is not a result.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { NodeId } from '../core/types.js';
import { keyProblem, MAX_VALUE_LENGTH, valueProblem } from '../kv/store.js';
import type { KvOutcome, KvService } from './kv.js';
import type { LeaderInfo } from './leadership.js';

/** The longest body read: every UTF-16 unit of the longest value as 3 bytes of UTF-8 (a longer one is 413 before it is read). */
export const MAX_KV_BODY_BYTES = 3 * MAX_VALUE_LENGTH;

/** Seconds a client should wait before retrying a 503 (an election takes a few hundred ms). */
const RETRY_AFTER_SECONDS = 1;

export interface KvHttpContext {
  /** This node's id. */
  readonly id: NodeId;
  readonly kv: KvService;
  /** Whether this node leads now (status().leader === status().id). */
  readonly leads: () => boolean;
  /** The leader this node knows, with its advertised meta. */
  readonly leader: () => LeaderInfo | null;
}

const ALLOW = 'GET, PUT, DELETE, POST';

/** Whether `path` belongs to this API (the node's router hands such requests here). */
export function isKvPath(path: string): boolean {
  return path === '/kv' || path.startsWith('/kv/');
}

/** Answers one request to /kv/… (never throws; every failure is an HTTP answer). */
export function handleKv(request: IncomingMessage, response: ServerResponse, context: KvHttpContext): void {
  const url = request.url ?? '/';
  const question = url.indexOf('?');
  const path = question === -1 ? url : url.slice(0, question);
  const query = new URLSearchParams(question === -1 ? '' : url.slice(question + 1));
  const method = request.method ?? 'GET';
  if (method !== 'GET' && method !== 'PUT' && method !== 'DELETE' && method !== 'POST') {
    return send(response, 405, { error: `method ${method} not allowed on /kv/:key (${ALLOW})` }, { allow: ALLOW });
  }
  // Keys never hold '%' (keyProblem), so the path segment is the key as it is: no decoding to get wrong.
  const key = path.slice('/kv/'.length);
  const badKey = path.startsWith('/kv/') ? keyProblem(key) : 'the key is empty';
  if (badKey !== null) return send(response, 400, { error: `bad key: ${badKey}` });
  let expect: number | null = null;
  if (method === 'POST') {
    const cas = query.get('cas');
    if (cas === null) return send(response, 400, { error: 'POST /kv/:key needs ?cas=VERSION (compare-and-set); use PUT to write unconditionally' });
    if (!/^\d{1,16}$/.test(cas) || !Number.isSafeInteger(Number(cas))) return send(response, 400, { error: `bad cas version ${JSON.stringify(cas)}: expected a non-negative integer (0: the key is absent)` });
    expect = Number(cas);
  }
  readBody(request, (body) => {
    if (body.type === 'too-large') return send(response, 413, { error: `the body is longer than ${MAX_KV_BODY_BYTES} bytes (a value holds at most ${MAX_VALUE_LENGTH} characters)` }, { connection: 'close' });
    if (body.type === 'not-utf8') return send(response, 400, { error: 'the body is not UTF-8' });
    if (body.type === 'aborted') return;
    const value = body.text;
    const stale = query.get('stale');
    if (method === 'GET' && stale !== null && stale !== '0') {
      return answer(response, key, { type: 'done', output: context.kv.readStale(key) }, context, url);
    }
    if ((method === 'PUT' || method === 'POST') && valueProblem(value) !== null) return send(response, 413, { error: `value too long: ${valueProblem(value)}` });
    // A member that does not lead redirects at once; the leader's core may still refuse (a hand-over).
    if (!context.leads()) return answer(response, key, { type: 'not-leader', leader: context.leader()?.id ?? null }, context, url);
    const pending =
      method === 'GET'
        ? context.kv.read(key)
        : method === 'PUT'
          ? context.kv.write({ op: 'put', key, value })
          : method === 'DELETE'
            ? context.kv.write({ op: 'delete', key })
            : context.kv.write({ op: 'cas', key, expect: expect!, value });
    void pending.then((outcome) => answer(response, key, outcome, context, url));
  });
}

export type Body = { readonly type: 'text'; readonly text: string } | { readonly type: 'too-large' } | { readonly type: 'not-utf8' } | { readonly type: 'aborted' };

/** Reads the body, at most `maxBytes` of it: a longer one stops the reading (413). */
export function readBody(request: IncomingMessage, done: (body: Body) => void, maxBytes = MAX_KV_BODY_BYTES): void {
  const declared = Number(request.headers['content-length'] ?? 0);
  if (declared > maxBytes) {
    request.resume();
    return done({ type: 'too-large' });
  }
  const chunks: Buffer[] = [];
  let length = 0;
  let over = false;
  request.on('data', (chunk: Buffer) => {
    if (over) return;
    length += chunk.length;
    if (length > maxBytes) {
      over = true;
      chunks.length = 0;
      done({ type: 'too-large' });
      return;
    }
    chunks.push(chunk);
  });
  request.once('end', () => {
    if (over) return;
    try {
      done({ type: 'text', text: utf8.decode(chunks.length === 1 ? chunks[0] : Buffer.concat(chunks)) });
    } catch {
      done({ type: 'not-utf8' });
    }
  });
  request.once('aborted', () => done({ type: 'aborted' }));
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

function answer(response: ServerResponse, key: string, outcome: KvOutcome, context: KvHttpContext, url: string): void {
  switch (outcome.type) {
    case 'done': {
      const output = outcome.output;
      const version = output.version ?? 0;
      switch (output.op) {
        case 'get':
          return send(response, output.value === null ? 404 : 200, { key, value: output.value, version });
        case 'put':
        case 'delete':
          return send(response, 200, { key, version });
        case 'cas':
          return send(response, 200, { key, ok: output.ok, version });
      }
      return;
    }
    case 'not-leader':
      return notLeader(response, outcome.leader, context, url);
    case 'full':
      // 507 Insufficient Storage (RFC 4918): the request is fine, the store has no room for it.
      return send(response, 507, {
        error: `the store is full: this write would make its snapshot longer than ${outcome.limit} characters (${outcome.snapshotLength} now, writes in flight included); delete keys or write shorter values`,
        key,
      });
    case 'lost':
    case 'unknown':
    case 'stopped':
      return unsettled(response, outcome.type, 'the write may or may not have taken effect');
    default: {
      const unreachable: never = outcome;
      return unreachable;
    }
  }
}

/**
 * A request the node could not see through, as /kv and /members answer it: 503 when it certainly did not
 * take effect ('lost': another leader's entry took its index) or the node stops, 504 when nobody knows.
 */
export function unsettled(response: ServerResponse, outcome: 'lost' | 'unknown' | 'stopped', unknownHint: string): void {
  switch (outcome) {
    case 'lost':
      return send(response, 503, { error: 'lost, not applied: another leader’s entry took its place in the log; retry' }, { 'retry-after': String(RETRY_AFTER_SECONDS) });
    case 'unknown':
      return send(response, 504, { error: `outcome unknown: no answer in time (the leader may have changed); ${unknownHint}` });
    case 'stopped':
      return send(response, 503, { error: 'the node is stopping' }, { 'retry-after': String(RETRY_AFTER_SECONDS) });
  }
}

/** 307 to the leader's advertised url when known, else 503 naming the leader (or none). Shared with /members (members-http.ts). */
export function notLeader(response: ServerResponse, leader: NodeId | null, context: Pick<KvHttpContext, 'id' | 'leader'>, url: string): void {
  if (leader === context.id) {
    // This node leads but its core refused: it is handing its leadership over, or does not replicate.
    return send(response, 503, { error: 'the leader cannot take requests now (a leadership transfer, or an algorithm without replication)', leader }, { 'retry-after': String(RETRY_AFTER_SECONDS) });
  }
  const known = context.leader();
  const base = known !== null && known.id === leader && typeof known.meta?.url === 'string' ? known.meta.url : null;
  if (leader !== null && base !== null) {
    return send(response, 307, { error: `not the leader; the leader is node ${leader}`, leader }, { location: `${base.replace(/\/+$/, '')}${url}` });
  }
  const why = leader === null ? 'no leader known' : `not the leader; the leader is node ${leader}, which advertises no url`;
  send(response, 503, { error: why, leader }, { 'retry-after': String(RETRY_AFTER_SECONDS) });
}

export function send(response: ServerResponse, status: number, body: object, headers: Record<string, string> = {}): void {
  if (response.headersSent || response.destroyed) return;
  response.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store', ...headers }).end(JSON.stringify(body));
}
