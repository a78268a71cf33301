// The cost of one request-log line, from the context to bytes handed to the
// fd (/dev/null): `node_modules/.bin/node bench/request-log.ts`. Rounds of
// 200,000 lines in one process; compare the µs per line of two versions run
// one after the other, never across sittings. See bench/README.md.
import { openSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { RequestContext } from '../src/http/context.ts';
import { log } from '../src/log/logger.ts';
import { logRequest } from '../src/server/request-log.ts';

const LINES = 200_000;
const ROUNDS = 5;

log.setFd(openSync('/dev/null', 'w'));
// A request as Kamal deploys apps: three logged request headers.
const req = {
  url: '/posts/42?page=2',
  method: 'GET',
  httpVersion: '1.1',
  headers: { host: 'app.example.com', 'user-agent': 'Mozilla/5.0 (X11; Linux x86_64) Chrome/156.0', 'cache-control': 'no-cache' },
} as unknown as IncomingMessage;
const socket = { remoteAddress: '127.0.0.1', remotePort: 40_000 } as unknown as Socket;
const res = { statusCode: 200 } as unknown as ServerResponse;
const ctx = new RequestContext(req, res, null, null, socket, 'http', 80);
Object.assign(ctx, {
  requestId: crypto.randomUUID(),
  serviceName: 'app-web',
  target: '127.0.0.1:3000',
  respBytes: 5120,
  respContentType: 'text/html; charset=utf-8',
  logRequestHeaders: ['Cache-Control', 'Last-Modified', 'User-Agent'],
});

for (let round = 1; round <= ROUNDS; round++) {
  const start = performance.now();
  for (let i = 0; i < LINES; i++) logRequest(ctx);
  await log.flush();
  console.log(`round ${round}: ${(((performance.now() - start) * 1000) / LINES).toFixed(2)} µs per line`);
}
