/**
 * The key-value clients of a torture run: each runs one operation at a time against the nodes' HTTP
 * API and writes down what it asked and what it saw, as lines of `ballot check`'s history format
 * (src/check/kv-history.ts, docs/check.md).
 *
 * The API (issue 15): `PUT /kv/:key` (body = value), `GET /kv/:key` (linearizable), `DELETE /kv/:key`,
 * `POST /kv/:key?cas=VERSION` (body = value). A follower redirects to the leader (Location, from the
 * leader's advertised URL) or answers 503. How an answer is read (`classify`):
 *
 * - 2xx: done. A JSON body may carry `value`, `version` and (cas) `ok`; a body that is not JSON is the
 *   value of a get. A get answered 404 read the key absent; a cas answered 409 or 412 did not take effect
 *   (`ok: false`).
 * - 3xx with Location: followed (at most 3 hops) within the same operation and its one deadline.
 * - other 4xx: the request was refused before anything happened (`result.error`: left out by the checker).
 *   So is a 503 whose JSON names the `leader` (a member that does not lead and knows no URL to redirect
 *   to, or a leader whose core refused the request) or whose `error` says "not applied" (the write's
 *   log index went to another term's entry): the API promises neither took effect.
 * - a connection refused (nothing was sent: a node killed or restarting): refused too.
 * - any other 5xx (504 "outcome unknown", 503 "the node is stopping"), a timeout, a broken connection:
 *   the outcome is unknown (`complete: null`). Counting such a write as refused could turn a correct
 *   store into a reported violation.
 */
import { Agent, request as httpRequest, type IncomingMessage } from 'node:http';
import type { KvRecord } from '../check/kv-history.js';
import type { KvOp } from '../check/kv.js';
import type { Prng } from '../core/prng.js';

export type KvRequest =
  | { readonly op: 'get'; readonly key: string }
  | { readonly op: 'put'; readonly key: string; readonly value: string }
  | { readonly op: 'delete'; readonly key: string }
  | { readonly op: 'cas'; readonly key: string; readonly expect: number; readonly value: string };

/** What one operation came to. */
export type KvAnswer =
  | { readonly kind: 'done'; readonly value?: string | null; readonly version?: number; readonly ok?: boolean; readonly node: string }
  | { readonly kind: 'refused'; readonly error: string }
  | { readonly kind: 'unknown'; readonly why: string };

interface RawResponse {
  readonly status: number;
  readonly location: string | undefined;
  readonly contentType: string;
  readonly body: string;
}

const MAX_HOPS = 3;

function method(op: KvOp): string {
  switch (op) {
    case 'get':
      return 'GET';
    case 'put':
      return 'PUT';
    case 'delete':
      return 'DELETE';
    case 'cas':
      return 'POST';
  }
}

function pathOf(request: KvRequest): string {
  const path = `/kv/${encodeURIComponent(request.key)}`;
  return request.op === 'cas' ? `${path}?cas=${request.expect}` : path;
}

function send(url: URL, request: KvRequest, agent: Agent, timeoutMs: number): Promise<RawResponse | { error: string; code?: string }> {
  return new Promise((resolve) => {
    const body = request.op === 'put' || request.op === 'cas' ? request.value : undefined;
    const outgoing = httpRequest(
      url,
      {
        method: method(request.op),
        agent,
        timeout: timeoutMs,
        headers: body === undefined ? {} : { 'content-type': 'text/plain; charset=utf-8', 'content-length': Buffer.byteLength(body) },
      },
      (response: IncomingMessage) => {
        let text = '';
        response.setEncoding('utf8');
        response.on('data', (chunk: string) => (text += chunk));
        response.on('end', () =>
          resolve({ status: response.statusCode ?? 0, location: response.headers.location, contentType: String(response.headers['content-type'] ?? ''), body: text }),
        );
        response.on('error', (error) => resolve({ error: error.message }));
      },
    );
    const late = `no answer within ${Math.round(timeoutMs)} ms`;
    const timer = setTimeout(() => outgoing.destroy(new Error(late)), timeoutMs);
    outgoing.on('close', () => clearTimeout(timer));
    outgoing.on('timeout', () => outgoing.destroy(new Error(late)));
    outgoing.on('error', (error: NodeJS.ErrnoException) => resolve({ error: error.message, ...(error.code !== undefined ? { code: error.code } : {}) }));
    outgoing.end(body);
  });
}

function jsonObject(text: string): Record<string, unknown> | null {
  try {
    const parsed: unknown = JSON.parse(text);
    return typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed) ? (parsed as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}

function versionOf(json: Record<string, unknown> | null): { version?: number } {
  const version = json?.['version'];
  return typeof version === 'number' && Number.isSafeInteger(version) && version >= 0 ? { version } : {};
}

/** What an answer means for `request` (the rules in this file's comment); 'follow' for a redirect. */
export function classify(request: KvRequest, response: RawResponse, node: string): KvAnswer | { kind: 'follow'; location: string } {
  const { status } = response;
  const json = response.contentType.includes('json') || response.body.trimStart().startsWith('{') ? jsonObject(response.body) : null;
  if (status >= 300 && status < 400 && response.location !== undefined) return { kind: 'follow', location: response.location };
  if (status >= 200 && status < 300) {
    switch (request.op) {
      case 'get': {
        const value = json !== null ? json['value'] : response.body;
        return { kind: 'done', value: typeof value === 'string' ? value : null, ...versionOf(json), node };
      }
      case 'cas': {
        const ok = json?.['ok'];
        return { kind: 'done', ok: typeof ok === 'boolean' ? ok : true, ...versionOf(json), node };
      }
      case 'put':
      case 'delete':
        return { kind: 'done', ...versionOf(json), node };
    }
  }
  if (status === 404 && request.op === 'get') return { kind: 'done', value: null, ...versionOf(json), node };
  if ((status === 409 || status === 412) && request.op === 'cas') return { kind: 'done', ok: false, ...versionOf(json), node };
  if (status >= 400 && status < 500) return { kind: 'refused', error: `${status} ${response.body.trim().slice(0, 120)}`.trim() };
  // A 503 that names the leader (a member that does not lead, or whose core refused the request) or says
  // "not applied" (another term's entry took the write's index) certainly did not take effect.
  if (status === 503 && json !== null && ('leader' in json || /not applied/.test(String(json['error'] ?? '')))) return { kind: 'refused', error: `${status} ${response.body.trim().slice(0, 120)}` };
  return { kind: 'unknown', why: `${status} ${response.body.trim().slice(0, 120)}`.trim() };
}

/** One operation against `base` (http://HOST:PORT), following redirects, within `timeoutMs` in all. */
export async function performKv(base: string, request: KvRequest, agent: Agent, timeoutMs: number): Promise<KvAnswer> {
  const deadline = performance.now() + timeoutMs;
  let url = new URL(pathOf(request), base);
  for (let hop = 0; hop <= MAX_HOPS; hop++) {
    const remaining = deadline - performance.now();
    if (remaining <= 0) return { kind: 'unknown', why: `no answer within ${timeoutMs} ms` };
    const response = await send(url, request, agent, remaining);
    // A refused connection sent nothing: the operation certainly did not happen. Any other failure may
    // come after the request left.
    if ('error' in response) return response.code === 'ECONNREFUSED' ? { kind: 'refused', error: response.error } : { kind: 'unknown', why: response.error };
    const answer = classify(request, response, url.host);
    if (answer.kind !== 'follow') return answer;
    // The leader's advertised URL may be a base (http://host:port) or the key's own URL.
    const next = new URL(answer.location, url);
    url = next.pathname.startsWith('/kv/') ? next : new URL(pathOf(request), next);
  }
  return { kind: 'unknown', why: `more than ${MAX_HOPS} redirects` };
}

/** The history line for `request`, asked at `invokeMs` and answered (or not) at `completeMs`. */
export function historyRecord(client: number, request: KvRequest, answer: KvAnswer, invokeMs: number, completeMs: number): KvRecord & { node?: string; why?: string } {
  const base = { client, op: request.op, key: request.key, invoke: round(invokeMs) };
  const writes = request.op === 'put' || request.op === 'cas' ? { value: request.value } : {};
  const expect = request.op === 'cas' ? { expect: request.expect } : {};
  switch (answer.kind) {
    case 'unknown':
      return { ...base, ...writes, ...expect, complete: null, why: answer.why };
    case 'refused':
      return { ...base, ...writes, ...expect, complete: round(completeMs), result: { error: answer.error } };
    case 'done': {
      const version = answer.version === undefined ? {} : { version: answer.version };
      const complete = Math.max(round(completeMs), round(invokeMs));
      switch (request.op) {
        case 'get':
          return { ...base, value: answer.value ?? null, complete, ...(answer.version === undefined ? {} : { result: version }), node: answer.node };
        case 'cas':
          return { ...base, ...writes, ...expect, complete, result: { ok: answer.ok ?? true, ...version }, node: answer.node };
        case 'put':
        case 'delete':
          return { ...base, ...writes, complete, ...(answer.version === undefined ? {} : { result: version }), node: answer.node };
      }
    }
  }
}

function round(ms: number): number {
  return Math.round(ms * 1000) / 1000;
}

export interface KvClientOptions {
  readonly client: number;
  /** Every node's base URL (http://HOST:PORT); a client starts at a random one and stays with whoever answered last. */
  readonly endpoints: readonly string[];
  readonly keys: readonly string[];
  readonly timeoutMs: number;
  readonly random: Prng;
  /** Milliseconds since the run began: the history's one clock, shared by every client. */
  readonly clock: () => number;
  readonly record: (line: ReturnType<typeof historyRecord>) => void;
  readonly stopped: () => boolean;
  /** Pause between operations (default 20 ms), and after an unknown or refused one (default 200 ms). */
  readonly thinkMs?: number;
  readonly backoffMs?: number;
}

/** The next request: gets 40%, puts 30%, cas 20% (expecting the last version this client saw), deletes 10%. */
export function nextRequest(options: Pick<KvClientOptions, 'client' | 'keys' | 'random'>, sequence: number, lastVersion: ReadonlyMap<string, number>): KvRequest {
  const { random } = options;
  const key = random.pick(options.keys);
  const value = `c${options.client}-${sequence}`;
  const draw = random.int(10);
  if (draw < 4) return { op: 'get', key };
  if (draw < 7) return { op: 'put', key, value };
  if (draw < 9) return { op: 'cas', key, expect: lastVersion.get(key) ?? 0, value };
  return { op: 'delete', key };
}

/** Runs one client until `stopped()`: one operation at a time, each recorded when it ends. */
export async function runKvClient(options: KvClientOptions): Promise<void> {
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  const lastVersion = new Map<string, number>();
  let endpoint = options.random.pick(options.endpoints);
  try {
    for (let sequence = 1; !options.stopped(); sequence++) {
      const request = nextRequest(options, sequence, lastVersion);
      const invokeMs = options.clock();
      const answer = await performKv(endpoint, request, agent, options.timeoutMs);
      const completeMs = options.clock();
      options.record(historyRecord(options.client, request, answer, invokeMs, completeMs));
      if (answer.kind === 'done') {
        if (answer.version !== undefined) lastVersion.set(request.key, answer.version);
        endpoint = `http://${answer.node}`;
        await sleep(options.thinkMs ?? 20);
      } else {
        // Somewhere else next time: the node asked may be cut off, paused or gone.
        endpoint = options.random.pick(options.endpoints);
        await sleep(options.backoffMs ?? 200);
      }
    }
  } finally {
    agent.destroy();
  }
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
