/**
 * `ballot member`: change a running cluster's membership through its leader (POST /members,
 * src/runtime/members-http.ts), list it (GET /members), or — offline, deliberately and unsafely —
 * make a node the sole voter of a cluster that lost its majority for good (`recover`).
 * docs/membership.md is the guide.
 *
 * Exit status: 0 done; 1 the cluster refused or could not do it (a refusal such as 'not-caught-up', no
 * leader, no answer in time, unreachable); 2 a mistake in the command (bad arguments, a request the
 * node calls malformed, or an algorithm whose membership is fixed: ZAB and Bully, which can never do it).
 */
import { renderText } from '../compare/report.js';
import { UsageError, helpText, integer, parseOptions, type CommandSpec, type ParsedOptions } from './args.js';
import type { CommandIo } from './io.js';

const toOption = { to: { type: 'string', value: 'URL', description: "a member's HTTP address, e.g. http://127.0.0.1:8001 (a follower redirects to the leader)" } } as const;
const timeoutOption = { timeout: { type: 'string', value: 'S', description: 'give up after S seconds (default 90: an add waits for the new member to catch up)' } } as const;

export const memberSpec: CommandSpec = {
  name: 'member',
  usage:
    'ballot member add ID=HOST:PORT --to URL [--learner]\n' +
    '       ballot member remove ID --to URL\n' +
    '       ballot member promote ID --to URL\n' +
    '       ballot member list --to URL [--json]\n' +
    '       ballot member recover --data-dir DIR --id N --address HOST:PORT --yes-i-know   (UNSAFE, offline)',
  summary:
    "Changes a running Raft cluster's membership, one server at a time, through its leader (POST /members;\n" +
    'a follower redirects there). add: the new node (started with `ballot node --join`) joins as a learner,\n' +
    'catches up, and is promoted to voter, in one call (--learner: it stays a learner). remove: a voter or\n' +
    'a learner leaves (a leader that removes itself steps down once the change is committed). list: the\n' +
    "configuration a member uses. ZAB's and Bully's membership is fixed at start (docs/membership.md).\n" +
    'recover: see `ballot member recover --help`.',
  options: {
    ...toOption,
    learner: { type: 'boolean', description: 'add: keep the new node a learner (it replicates, never votes)' },
    json: { type: 'boolean', description: "print the node's JSON answer as it is" },
    ...timeoutOption,
  },
  epilog:
    'Exit status: 0 done; 1 the cluster refused (e.g. not-caught-up, change-pending), had no leader, did not\n' +
    'answer in time, or could not be reached; 2 bad arguments, or an algorithm without membership change.\n' +
    'Example: ballot node --join --id 4 --algorithm raft --listen 127.0.0.1:7004 --http 127.0.0.1:8004 \\\n' +
    '           --peers 1=127.0.0.1:7001,2=127.0.0.1:7002,3=127.0.0.1:7003 --data-dir ./data/n4 &\n' +
    '         ballot member add 4=127.0.0.1:7004 --to http://127.0.0.1:8001',
};

type Action = 'add' | 'remove' | 'promote' | 'list';
const ACTIONS: readonly string[] = ['add', 'remove', 'promote', 'list', 'recover'];

/** At most this many redirects (a follower to the leader; a leader that changed meanwhile). */
const MAX_REDIRECTS = 3;
/** A 503 (no leader known, an election under way, a change lost to a new leader) is retried for this long. */
const RETRY_UNAVAILABLE_MS = 15_000;
const RETRY_PAUSE_MS = 500;

export interface MemberCommand {
  readonly action: Action;
  readonly url: URL;
  /** The POST body (none for list). */
  readonly body: { readonly action: 'add' | 'remove' | 'promote'; readonly id: number; readonly address?: string; readonly learner?: boolean } | null;
  readonly json: boolean;
  readonly timeoutMs: number;
}

/** The command line of add, remove, promote or list; throws UsageError for any mistake it can see. */
export function parseMemberArgs(argv: readonly string[]): MemberCommand | 'help' {
  const [action, ...rest] = argv;
  if (action === undefined) throw new UsageError(`expected a subcommand: ${ACTIONS.join(', ')} (see ballot member --help)`);
  if (action === '--help' || action === '-h') return 'help';
  if (!ACTIONS.includes(action) || action === 'recover') throw new UsageError(`unknown subcommand ${JSON.stringify(action)} (expected ${ACTIONS.join(', ')})`);
  const needsTarget = action !== 'list';
  const target = needsTarget && rest[0] !== undefined && !rest[0].startsWith('-') ? rest[0] : undefined;
  const values = parseOptions(memberSpec, target === undefined ? rest : rest.slice(1));
  if (values.help) return 'help';
  if (needsTarget && target === undefined) throw new UsageError(action === 'add' ? 'add needs ID=HOST:PORT (the new node and its peer address)' : `${action} needs the node's ID`);
  if (values.learner === true && action !== 'add') throw new UsageError('--learner goes with add');
  const url = targetUrl(values);
  const timeoutMs = integer(values.timeout, 'timeout', 90, 1, 3600) * 1000;
  const json = values.json === true;
  switch (action as Action) {
    case 'list':
      return { action: 'list', url, body: null, json, timeoutMs };
    case 'add': {
      const match = /^(\d+)=(\S+)$/.exec(target!);
      if (!match) throw new UsageError(`add: expected ID=HOST:PORT, got ${JSON.stringify(target)}`);
      const address = match[2]!;
      if (!/^(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+):\d{1,5}$/.test(address)) throw new UsageError(`add: the address must be HOST:PORT, got ${JSON.stringify(address)}`);
      return { action: 'add', url, body: { action: 'add', id: nodeId(match[1]!), address, ...(values.learner === true ? { learner: true } : {}) }, json, timeoutMs };
    }
    case 'remove':
    case 'promote':
      return { action: action as 'remove' | 'promote', url, body: { action: action as 'remove' | 'promote', id: nodeId(target!) }, json, timeoutMs };
  }
}

function nodeId(text: string): number {
  if (!/^\d{1,15}$/.test(text) || Number(text) < 1) throw new UsageError(`a node id is a positive integer, got ${JSON.stringify(text)}`);
  return Number(text);
}

function targetUrl(values: ParsedOptions): URL {
  const text = values.to;
  if (typeof text !== 'string' || text === '') throw new UsageError("--to URL is required (a member's HTTP address, e.g. http://127.0.0.1:8001)");
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new UsageError(`--to must be an http:// or https:// URL, got ${JSON.stringify(text)}`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new UsageError(`--to must be an http:// or https:// URL, got ${JSON.stringify(text)}`);
  return new URL('/members', url);
}

interface Answer {
  readonly status: number;
  readonly body: Record<string, unknown>;
}

/**
 * The request, following redirects to the leader (307) by hand (the body goes again), at most
 * MAX_REDIRECTS in a row, and retrying a 503 from `--to` for up to RETRY_UNAVAILABLE_MS: an election
 * takes a few hundred milliseconds, and nothing was changed by a request answered 503.
 */
async function call(command: MemberCommand): Promise<Answer> {
  const signal = AbortSignal.timeout(command.timeoutMs);
  const retryUntil = performance.now() + Math.min(RETRY_UNAVAILABLE_MS, command.timeoutMs);
  let url = command.url;
  for (let hop = 0; ; hop++) {
    const response = await fetch(url, {
      method: command.body === null ? 'GET' : 'POST',
      redirect: 'manual',
      signal,
      ...(command.body === null ? {} : { body: JSON.stringify(command.body), headers: { 'content-type': 'application/json' } }),
    });
    const text = await response.text();
    const location = response.headers.get('location');
    if ((response.status === 307 || response.status === 308) && location !== null && hop < MAX_REDIRECTS) {
      url = new URL(location, url);
      continue;
    }
    if (response.status === 503 && performance.now() + RETRY_PAUSE_MS < retryUntil) {
      await new Promise((resolve) => setTimeout(resolve, RETRY_PAUSE_MS));
      url = command.url;
      hop = -1;
      continue;
    }
    let body: Record<string, unknown>;
    try {
      const parsed: unknown = JSON.parse(text);
      body = typeof parsed === 'object' && parsed !== null ? (parsed as Record<string, unknown>) : { error: text.trim() };
    } catch {
      body = { error: text.trim().slice(0, 200) };
    }
    return { status: response.status, body };
  }
}

export async function runMember(argv: readonly string[], io: CommandIo): Promise<number> {
  if (argv[0] === 'recover') {
    const { runRecover } = await import('./member-recover.js');
    return runRecover(argv.slice(1), io);
  }
  const command = parseMemberArgs(argv);
  if (command === 'help') {
    io.out(helpText(memberSpec));
    return 0;
  }
  let answer: Answer;
  try {
    answer = await call(command);
  } catch (error) {
    const cause = (error as { cause?: { code?: string } }).cause?.code;
    const why = error instanceof Error && error.name === 'TimeoutError' ? `no answer within ${command.timeoutMs / 1000} s (GET /members tells whether it took effect)` : `cannot reach ${command.url.origin} (${cause ?? (error instanceof Error ? error.message : String(error))})`;
    io.err(`ballot member ${command.action}: ${why}\n`);
    return 1;
  }
  const { status, body } = answer;
  if (status === 200) {
    io.out(command.json ? `${JSON.stringify(body)}\n` : describe(command, body));
    return 0;
  }
  if (command.json) io.out(`${JSON.stringify(body)}\n`);
  const error = typeof body.error === 'string' ? body.error : `HTTP ${status}`;
  io.err(`ballot member ${command.action}: ${error}${typeof body.reason === 'string' ? ` (${body.reason})` : ''}\n`);
  // A malformed request, or an algorithm that can never change its membership: the command is wrong.
  return status === 400 || status === 413 || status === 501 ? 2 : 1;
}

/**
 * Where the answering node stands, when it is no member (GET /members `member`; absent from nodes
 * before it was added): `; node 1 was removed from it` — a removed node shows the configuration that left it out.
 */
function standingWords(body: Record<string, unknown>): string {
  const id = String(body.id);
  switch (body.member) {
    case 'removed':
      return `; node ${id} was removed from it (stop it)`;
    case 'joining':
      return `; node ${id} is not in it yet (started with --join: add it with ballot member add)`;
    default:
      return '';
  }
}

/** One readable answer. */
function describe(command: MemberCommand, body: Record<string, unknown>): string {
  const voters = Array.isArray(body.voters) ? (body.voters as number[]) : [];
  const observers = Array.isArray(body.observers) ? (body.observers as number[]) : [];
  const addresses = typeof body.addresses === 'object' && body.addresses !== null ? (body.addresses as Record<string, string>) : {};
  const configuration = `configuration index ${String(body.index)}: voters ${voters.join(',') || '-'}; learners ${observers.join(',') || '-'}`;
  switch (command.action) {
    case 'list': {
      // Each member's role in the configuration in force and its peer address, ascending by id.
      const members = [...voters.map((id) => [id, 'voter'] as const), ...observers.map((id) => [id, 'learner'] as const)].sort(([a], [b]) => a - b);
      const rows = members.map(([id, role]) => [String(id), role, addresses[String(id)] || '-']);
      const title =
        `index ${String(body.index)} (${body.committed === true ? 'committed' : 'not committed yet'}), leader ${body.leader === null ? 'unknown' : String(body.leader)}, ` +
        `as node ${String(body.id)} sees it${standingWords(body)}`;
      return renderText({ title, columns: ['node', 'role', 'address'], align: ['right', 'left', 'left'], rows });
    }
    case 'add': {
      const id = command.body!.id;
      return `node ${id} added as a ${observers.includes(id) ? 'learner' : 'voter'} at ${addresses[String(id)] ?? command.body!.address!} (${configuration})\n`;
    }
    case 'promote':
      return `node ${command.body!.id} is a voter (${configuration})\n`;
    case 'remove':
      return `node ${command.body!.id} removed (${configuration}); stop its process\n`;
  }
}
