/**
 * The visualizer's web server: the page, the compiled core, simulator and app from dist/ as ES
 * modules, and zod (the simulator's schedule validation imports it) from node_modules. Nothing else:
 * no other file is reachable, and nothing comes from the network, so the page works offline.
 */
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { createRequire } from 'node:module';
import { dirname, extname, join, normalize, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { pageHtml } from './page.js';

export interface UiServerOptions {
  readonly port: number;
  readonly host: string;
}

export interface UiServer {
  readonly url: string;
  readonly port: number;
  close(): Promise<void>;
}

/** dist/ (this file is dist/ui/server.js). */
const distRoot = fileURLToPath(new URL('..', import.meta.url));
/** The directories of dist/ the page may load: what runs in the browser, never the runtime or the CLI. */
const servedDist = ['core', 'sim', 'ui', 'check', 'kv'];

function zodRoot(): string {
  return dirname(createRequire(import.meta.url).resolve('zod/package.json'));
}

const types: Record<string, string> = {
  '.js': 'text/javascript; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
};

/** Maps a request path to a file, or null when it is not one the page may load. */
export function resolvePath(urlPath: string, zodDir: string): string | null {
  let path: string;
  try {
    path = decodeURIComponent(urlPath);
  } catch {
    return null;
  }
  if (path.includes('\0') || path.split('/').includes('..')) return null;
  const ext = extname(path);
  if (!(ext in types)) return null;
  const dist = /^\/dist\/([a-z]+)\/(.+)$/.exec(path);
  if (dist) {
    if (!servedDist.includes(dist[1]!) || /\.test\.js(\.map)?$/.test(path)) return null;
    return within(join(distRoot, dist[1]!), dist[2]!);
  }
  const zod = /^\/vendor\/zod\/(.+)$/.exec(path);
  if (zod) return within(zodDir, zod[1]!);
  return null;
}

function within(root: string, relative: string): string | null {
  const file = normalize(join(root, relative));
  return file.startsWith(root.endsWith(sep) ? root : root + sep) ? file : null;
}

export async function startUiServer(options: UiServerOptions): Promise<UiServer> {
  const zodDir = zodRoot();
  const page = pageHtml();
  const server: Server = createServer((request, response) => {
    const headers = { 'cache-control': 'no-store', 'x-content-type-options': 'nosniff' };
    if (request.method !== 'GET' && request.method !== 'HEAD') {
      response.writeHead(405, { ...headers, allow: 'GET, HEAD' }).end();
      return;
    }
    const urlPath = new URL(request.url ?? '/', 'http://localhost').pathname;
    if (urlPath === '/' || urlPath === '/index.html') {
      response.writeHead(200, { ...headers, 'content-type': 'text/html; charset=utf-8' }).end(request.method === 'HEAD' ? undefined : page);
      return;
    }
    const file = resolvePath(urlPath, zodDir);
    const notFound = () => void response.writeHead(404, { ...headers, 'content-type': 'text/plain' }).end('not found\n');
    if (!file) return notFound();
    stat(file).then(
      (info) => {
        if (!info.isFile()) return notFound();
        response.writeHead(200, { ...headers, 'content-type': types[extname(file)]!, 'content-length': info.size });
        if (request.method === 'HEAD') return void response.end();
        createReadStream(file).on('error', () => response.destroy()).pipe(response);
      },
      () => notFound(),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : options.port;
  const hostForUrl = options.host.includes(':') ? `[${options.host}]` : options.host;
  return {
    url: `http://${hostForUrl}:${port}/`,
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
