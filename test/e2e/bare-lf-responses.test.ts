// Apps whose responses end their status and header lines in a bare LF
// (hand-written servers, some embedded ones): Go's proxy (kamal-proxy) and
// nginx serve them, so must we, on every path that reads an app's response
// (streamed and buffered proxying, health checks, upgrade handshakes), and
// without going further than that: a bare CR stays refused. Requests from
// clients get no such leniency.
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import { after, before, describe, test } from 'node:test';
import { deployParams, quietLogs, startTestProxy } from '../helpers/proxy.ts';
import type { TestProxy } from '../helpers/proxy.ts';
import { rawExchange } from '../helpers/raw-http.ts';
import { defaultHealthCheckConfig } from '../../src/config/service-options.ts';

quietLogs();

const STREAMED = 'streamed.example.test';
const BUFFERED = 'buffered.example.test';

// Answers by path, as the raw bytes below; `/up-crlf` is a well-formed
// health check, so the proxying tests do not depend on the health-check one.
const ANSWERS: Record<string, string> = {
  '/up': 'HTTP/1.1 200 OK\nContent-Length: 2\n\nup',
  '/up-crlf': 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nup',
  '/lf': 'HTTP/1.1 200 OK\nContent-Type: text/plain\nX-App: bare-lf\nContent-Length: 2\n\nok',
  // Bare LFs in the head; the chunked framing is well formed (Go refuses a bare LF after a chunk size).
  '/chunked': 'HTTP/1.1 200 OK\nContent-Type: text/plain\nTransfer-Encoding: chunked\n\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n',
  '/bare-cr': 'HTTP/1.1 200 OK\rContent-Length: 2\r\n\r\nok',
  '/ws': 'HTTP/1.1 101 Switching Protocols\nUpgrade: test\nConnection: Upgrade\n\n',
};

// A keep-alive HTTP/1.1 server written by hand. Requests have no body here.
interface RawApp {
  readonly address: string;
  readonly paths: string[]; // every request's path, in order
  connections: number;
  close(): Promise<void>;
}

async function startRawApp(): Promise<RawApp> {
  const sockets = new Set<net.Socket>();
  const app = { paths: [] as string[], connections: 0 } as RawApp & { address: string; close(): Promise<void> };
  const server = net.createServer((socket) => {
    app.connections++;
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    let buffered = '';
    let upgraded = false;
    socket.setEncoding('latin1');
    socket.on('data', (data: string) => {
      if (upgraded) return void socket.end(`echo:${data}`);
      buffered += data;
      for (let end = buffered.indexOf('\r\n\r\n'); end !== -1; end = buffered.indexOf('\r\n\r\n')) {
        const path = buffered.slice(0, buffered.indexOf('\r\n')).split(' ')[1]!;
        buffered = buffered.slice(end + 4);
        app.paths.push(path);
        socket.write(ANSWERS[path] ?? 'HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n', 'latin1');
        if (path === '/ws') upgraded = true;
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  app.address = `127.0.0.1:${(server.address() as net.AddressInfo).port}`;
  app.close = () =>
    new Promise<void>((resolve) => {
      for (const s of sockets) s.destroy();
      server.close(() => resolve());
    });
  return app;
}

const statusOf = (response: string) => Number(/^HTTP\/1\.1 (\d{3})/.exec(response)?.[1]);
const bodyOf = (response: string) => response.slice(response.indexOf('\r\n\r\n') + 4);

interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

// node:http as the client: it reads whatever framing the proxy chose.
function get(port: number, host: string, path: string, agent: http.Agent | false = false): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path, headers: { host }, agent }, (res) => {
      let body = '';
      res.setEncoding('latin1');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body }));
    });
    req.on('error', reject);
  });
}

describe('app responses with bare-LF line endings', () => {
  let proxy: TestProxy;
  let app: RawApp;
  before(async () => {
    app = await startRawApp();
    proxy = await startTestProxy();
    const healthCheck = { ...defaultHealthCheckConfig(), path: '/up-crlf' };
    await proxy.router.deploy(deployParams('streamed', [app.address], { options: { hosts: [STREAMED] }, target: { healthCheck } }));
    // As Kamal deploys: buffering on.
    await proxy.router.deploy(
      deployParams('buffered', [app.address], { options: { hosts: [BUFFERED] }, target: { healthCheck, bufferRequests: true, bufferResponses: true } }),
    );
  });
  after(async () => {
    await proxy.stop();
    await app.close();
  });

  for (const [name, host] of [['streamed', STREAMED], ['buffered', BUFFERED]] as const) {
    test(`${name}: a bare-LF response is served, headers and body intact`, async () => {
      const r = await get(proxy.httpPort, host, '/lf');
      assert.equal(r.status, 200);
      assert.equal(r.headers['x-app'], 'bare-lf');
      assert.equal(r.headers['content-type'], 'text/plain');
      assert.equal(r.body, 'ok');
    });

    test(`${name}: a chunked response with a bare-LF head is served whole`, async () => {
      const r = await get(proxy.httpPort, host, '/chunked');
      assert.equal(r.status, 200);
      assert.equal(r.body, 'hello world');
    });

    test(`${name}: a bare CR is still a malformed response (502): only bare LFs are let through`, async () => {
      const r = await get(proxy.httpPort, host, '/bare-cr');
      assert.equal(r.status, 502);
    });
  }

  test('bare-LF responses one after another on one kept-alive upstream connection', async () => {
    // One client connection too: each thread serving keeps its own upstream connections.
    const client = new http.Agent({ keepAlive: true, maxSockets: 1 });
    const before = app.connections;
    for (let i = 0; i < 3; i++) {
      const r = await get(proxy.httpPort, STREAMED, '/lf', client);
      assert.equal(r.status, 200);
      assert.equal(r.body, 'ok');
    }
    client.destroy();
    assert.ok(app.connections - before <= 1, `${app.connections - before} new upstream connections for 3 requests`);
  });

  test('an upgrade answered with a bare-LF 101 goes through, and the connection is spliced', async () => {
    const r = await rawExchange(proxy.httpPort, [`GET /ws HTTP/1.1\r\nHost: ${STREAMED}\r\nConnection: Upgrade\r\nUpgrade: test\r\n\r\n`, 'ping']);
    assert.equal(statusOf(r), 101, r);
    assert.equal(bodyOf(r), 'echo:ping');
  });

  test('a deploy whose health check answers with bare LFs succeeds', async () => {
    await proxy.router.deploy(deployParams('lf-health', [app.address], { options: { hosts: ['lf-health.example.test'] }, deployTimeoutMs: 3_000 }));
    assert.ok(app.paths.includes('/up'), 'the health check asked /up');
    const r = await get(proxy.httpPort, 'lf-health.example.test', '/lf');
    assert.equal(r.status, 200);
  });

  test('a client request with bare-LF line endings is still refused (400), and never reaches the app', async () => {
    const seen = app.paths.length;
    const r = await rawExchange(proxy.httpPort, `GET /lf HTTP/1.1\nHost: ${STREAMED}\n\n`);
    assert.equal(statusOf(r), 400, r);
    assert.equal(app.paths.length, seen);
  });
});
