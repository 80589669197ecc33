/**
 * HTTP on its own port (CONTRACT.md): GET /status, /health, /metrics. Separate from the peer port so
 * that monitoring never shares a listener, a connection limit or a parser with election traffic.
 */
import { createServer, type Server } from 'node:http';
import type { Status } from '../core/types.js';
import { ConfigError, formatAddress, type Address } from './config.js';

export interface HttpHandlers {
  readonly status: () => Status;
  readonly algorithm: string;
  readonly metrics: () => Promise<string>;
  readonly metricsContentType: string;
}

export class StatusServer {
  private constructor(private readonly server: Server) {}

  static async listen(address: Address, handlers: HttpHandlers): Promise<StatusServer> {
    const server = createServer((request, response) => {
      const path = (request.url ?? '/').split('?')[0];
      if (request.method !== 'GET' && request.method !== 'HEAD') {
        response.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain' }).end('method not allowed\n');
        return;
      }
      switch (path) {
        case '/status': {
          const { id, role, leader, term } = handlers.status();
          // Exactly the contract's fields, in the contract's order.
          const body = JSON.stringify({ id, algorithm: handlers.algorithm, role, leader, term });
          response.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-store' }).end(body);
          return;
        }
        case '/health':
          response.writeHead(200, { 'content-type': 'text/plain' }).end('ok\n');
          return;
        case '/metrics':
          handlers.metrics().then(
            (text) => response.writeHead(200, { 'content-type': handlers.metricsContentType }).end(text),
            () => response.writeHead(500, { 'content-type': 'text/plain' }).end('metrics unavailable\n'),
          );
          return;
        default:
          response.writeHead(404, { 'content-type': 'text/plain' }).end('not found (try /status, /health, /metrics)\n');
      }
    });
    // Pollers (the bench, `ballot cluster`) keep connections alive; idle ones are closed after a while.
    server.keepAliveTimeout = 10_000;
    server.headersTimeout = 5_000;
    server.requestTimeout = 5_000;
    server.maxHeadersCount = 50;
    // The port faces the network: bound what a flood of idle connections can hold open.
    server.maxConnections = 256;
    await new Promise<void>((resolve, reject) => {
      const onError = (error: NodeJS.ErrnoException): void => {
        const why = error.code === 'EADDRINUSE' ? 'address already in use' : (error.code ?? error.message);
        reject(new ConfigError(`cannot serve HTTP on ${formatAddress(address)} (${why})`));
      };
      server.once('error', onError);
      server.listen({ host: address.host, port: address.port, exclusive: true }, () => {
        server.off('error', onError);
        resolve();
      });
    });
    return new StatusServer(server);
  }

  port(): number {
    const address = this.server.address();
    return typeof address === 'object' && address !== null ? address.port : 0;
  }

  async close(): Promise<void> {
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    this.server.closeAllConnections();
    await closed;
  }
}
