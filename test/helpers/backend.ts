// Real backends on 127.0.0.1 for tests: an HTTP server that answers with its
// name, a health check that can be switched off, and hooks for custom routes.
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Backend {
  readonly name: string;
  readonly port: number;
  readonly address: string; // 127.0.0.1:port, as a deploy --target
  readonly server: http.Server;
  healthy: boolean;
  requests: number;
  lastHeaders: http.IncomingHttpHeaders;
  lastUrl: string;
  close(): Promise<void>;
}

export type Route = (req: http.IncomingMessage, res: http.ServerResponse, backend: Backend) => boolean | void;

export async function startBackend(name: string, opts: { healthy?: boolean; route?: Route } = {}): Promise<Backend> {
  const backend = { name, healthy: opts.healthy ?? true, requests: 0, lastHeaders: {}, lastUrl: '' } as Backend & {
    port: number;
    address: string;
    server: http.Server;
  };
  const server = http.createServer({ maxHeaderSize: 2 * 1024 * 1024 }, (req, res) => {
    if (req.url === '/up') {
      res.writeHead(backend.healthy ? 200 : 503).end(backend.healthy ? 'up' : 'down');
      return;
    }
    backend.requests++;
    backend.lastHeaders = req.headers;
    backend.lastUrl = req.url ?? '';
    if (opts.route?.(req, res, backend)) return;
    req.resume();
    req.on('end', () => res.writeHead(200, { 'Content-Type': 'text/plain' }).end(name));
  });
  server.keepAliveTimeout = 10_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  backend.server = server;
  backend.port = (server.address() as AddressInfo).port;
  backend.address = `127.0.0.1:${backend.port}`;
  backend.close = () =>
    new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
  return backend;
}
