/**
 * A throwaway PostgreSQL server for tests (Debian's `postgresql` package: .ci/run installs it): initdb
 * in a temporary directory, listening on 127.0.0.1 only (and a Unix socket inside that directory),
 * trust authentication for the local `postgres` user, stopped and deleted by `stop()`. As root the
 * server runs as the `postgres` user (PostgreSQL refuses to run as root). Queries go through `psql`,
 * the client the same package installs, so the tests need no npm driver.
 */
import { execFile, execFileSync, spawn } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** The directory of initdb, pg_ctl and postgres: Debian keeps them under /usr/lib/postgresql/<major>/bin. */
export function postgresBinDir(): string | null {
  const root = '/usr/lib/postgresql';
  if (!existsSync(root)) return null;
  const majors = readdirSync(root).filter((name) => /^\d+$/.test(name)).sort((a, b) => Number(b) - Number(a));
  for (const major of majors) {
    const bin = join(root, major, 'bin');
    if (existsSync(join(bin, 'initdb')) && existsSync(join(bin, 'pg_ctl'))) return bin;
  }
  return null;
}

/** Whether a server can be started here: the binaries and psql exist, and (as root) the postgres user. */
export function postgresAvailable(): boolean {
  if (postgresBinDir() === null || !existsSync('/usr/bin/psql')) return false;
  if (userInfo().uid !== 0) return true;
  return existsSync('/usr/sbin/runuser') && postgresIds() !== null;
}

/** The uid and gid of the `postgres` user (Debian's package creates it), or null. */
function postgresIds(): [number, number] | null {
  try {
    const fields = execFileSync('getent', ['passwd', 'postgres'], { encoding: 'utf8' }).split(':');
    return [Number(fields[2]), Number(fields[3])];
  } catch {
    return null;
  }
}

/** The outcome of one psql run: its exit status and what it printed. */
export interface PsqlResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

export class PostgresServer {
  private constructor(
    readonly dir: string,
    readonly port: number,
    private readonly bin: string,
  ) {}

  /** initdb and start a server on 127.0.0.1:`port`; rejects (after cleaning up) if it cannot. */
  static async start(port: number): Promise<PostgresServer> {
    const bin = postgresBinDir();
    if (bin === null) throw new Error('PostgreSQL is not installed (apt-get install postgresql)');
    const dir = mkdtempSync(join(tmpdir(), 'ballot-pg-'));
    const server = new PostgresServer(dir, port, bin);
    try {
      if (userInfo().uid === 0) {
        const ids = postgresIds();
        if (ids === null) throw new Error('there is no postgres user to run the server as');
        chownSync(dir, ...ids);
      }
      await server.asOwner(join(bin, 'initdb'), ['-D', join(dir, 'data'), '-A', 'trust', '-U', 'postgres', '--no-sync', '-E', 'UTF8', '--locale', 'C']);
      await server.asOwner(join(bin, 'pg_ctl'), [
        '-D', join(dir, 'data'), '-l', join(dir, 'server.log'), '-w', '-t', '60',
        '-o', `-c listen_addresses=127.0.0.1 -p ${port} -k ${dir} -c fsync=off -c max_connections=20 -c shared_buffers=16MB`,
        'start',
      ]);
      return server;
    } catch (error) {
      await server.stop();
      throw error;
    }
  }

  /** Runs `sql` through psql (stops at the first error: exit status 3, the error on stderr). */
  psql(sql: string, options: { readonly timeoutMs?: number } = {}): Promise<PsqlResult> {
    return new Promise((resolve, reject) => {
      const child = spawn('/usr/bin/psql', ['-X', '-q', '-At', '-v', 'ON_ERROR_STOP=1', '-h', '127.0.0.1', '-p', String(this.port), '-U', 'postgres', '-d', 'postgres', '-f', '-'], {
        stdio: ['pipe', 'pipe', 'pipe'],
        env: { ...process.env, PGCONNECT_TIMEOUT: '10' },
      });
      let stdout = '';
      let stderr = '';
      child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
      child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
      const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 20_000);
      child.on('error', (error) => {
        clearTimeout(timer);
        reject(error);
      });
      child.on('close', (code, signal) => {
        clearTimeout(timer);
        resolve({ code: code ?? (signal ? 128 : 1), stdout: stdout.trim(), stderr: stderr.trim() });
      });
      child.stdin.end(sql);
    });
  }

  /** Stops the server (immediately: its data is thrown away) and deletes its directory. */
  async stop(): Promise<void> {
    if (existsSync(join(this.dir, 'data', 'postmaster.pid'))) {
      await this.asOwner(join(this.bin, 'pg_ctl'), ['-D', join(this.dir, 'data'), '-m', 'immediate', '-w', '-t', '30', 'stop']).catch(() => {});
    }
    rmSync(this.dir, { recursive: true, force: true });
  }

  private async asOwner(file: string, args: string[]): Promise<void> {
    const [command, commandArgs] = userInfo().uid === 0 ? ['/usr/sbin/runuser', ['-u', 'postgres', '--', file, ...args]] : [file, args];
    await run(command, commandArgs, { timeout: 90_000, cwd: this.dir });
  }
}
