// The client's address as the app and the request log see it, with the proxy
// listening the way `kamal-proxy run` does: on all interfaces, dual-stack,
// where Node names an IPv4 client `::ffff:127.0.0.1`. kamal-proxy (Go) says
// `127.0.0.1`, and apps read it from X-Forwarded-For (Rails' remote_ip,
// allow-lists, rate limits). Each way a request can come in is checked: the
// HTTP/1.1 fast path with and without a body, node:http (a chunked body), an
// upgrade, HTTP/1.1 over TLS, HTTP/2 (its fast path and Node's compat layer),
// a failed TLS handshake; and an IPv6 client keeps its address.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import http2 from 'node:http2';
import https from 'node:https';
import net from 'node:net';
import { after, before, describe, test } from 'node:test';
import { log } from '../../src/log/logger.ts';
import { startBackend } from '../helpers/backend.ts';
import type { Backend } from '../helpers/backend.ts';
import { deployParams, quietLogs, startTestProxy } from '../helpers/proxy.ts';
import type { TestProxy } from '../helpers/proxy.ts';
import { rawExchange } from '../helpers/raw-http.ts';
import { waitFor } from '../helpers/wait.ts';
import { selfSigned, tempDir } from '../tls/openssl.ts';

const logFile = quietLogs();
const PLAIN = 'plain.example.test';
const SECURE = 'secure.example.test';

async function logLines(): Promise<Record<string, unknown>[]> {
  await log.flush();
  return readFileSync(logFile, 'utf8')
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

async function requestLine(requestId: string): Promise<Record<string, unknown>> {
  let line: Record<string, unknown> | undefined;
  // An upgraded connection is logged when it closes, a moment after the client saw it end.
  await waitFor(async () => (line = (await logLines()).find((l) => l.msg === 'Request' && l.request_id === requestId)) !== undefined);
  return line!;
}

// A plain HTTP/1.1 request from 127.0.0.1 or ::1, as node:http sends it.
function send(host: string, port: number, o: { method?: string; path?: string; headers: http.OutgoingHttpHeaders; body?: string[] }): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host, port, method: o.method ?? 'GET', path: o.path ?? '/', headers: o.headers, agent: false }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode!));
    });
    req.on('error', reject);
    for (const piece of o.body ?? []) req.write(piece);
    req.end();
  });
}

describe('client addresses on a proxy listening on all interfaces', () => {
  const cert = selfSigned(tempDir(), 'client-address', [SECURE]);
  let proxy: TestProxy;
  let app: Backend;
  // X-Forwarded-For as the app received it, by request id.
  const forwardedFor = new Map<string, string | undefined>();
  const record = (req: http.IncomingMessage) => forwardedFor.set(String(req.headers['x-request-id']), req.headers['x-forwarded-for'] as string | undefined);

  before(async () => {
    app = await startBackend('app', {
      route: (req, res) => {
        record(req);
        req.resume();
        req.on('end', () => res.writeHead(200, { 'Content-Type': 'text/plain' }).end('ok'));
        return true;
      },
    });
    app.server.on('upgrade', (req, socket) => {
      record(req);
      socket.end('HTTP/1.1 101 Switching Protocols\r\nUpgrade: test\r\nConnection: Upgrade\r\n\r\n');
    });
    proxy = await startTestProxy(undefined, { listenAll: true });
    await proxy.router.deploy(deployParams('plain', [app.address], { options: { hosts: [PLAIN] } }));
    await proxy.router.deploy(
      deployParams('secure', [app.address], { options: { hosts: [SECURE], tlsEnabled: true, tlsCertificatePath: cert.certPath, tlsPrivateKeyPath: cert.keyPath } }),
    );
  });
  after(async () => {
    await proxy.stop();
    await app.close();
  });

  async function assertSeenAs(requestId: string, address: string): Promise<void> {
    assert.equal(forwardedFor.get(requestId), address, 'X-Forwarded-For at the app');
    const line = await requestLine(requestId);
    assert.equal(line.client_addr, address, 'client_addr in the request log');
    assert.equal(line.remote_addr, address, 'remote_addr in the request log');
  }

  test('HTTP/1.1 GET (the fast path): 127.0.0.1, not ::ffff:127.0.0.1', async () => {
    assert.equal(await send('127.0.0.1', proxy.httpPort, { headers: { host: PLAIN, 'x-request-id': 'h1-get' } }), 200);
    await assertSeenAs('h1-get', '127.0.0.1');
  });

  test('HTTP/1.1 POST with a small body (the fast path takes it whole)', async () => {
    const status = await send('127.0.0.1', proxy.httpPort, {
      method: 'POST',
      headers: { host: PLAIN, 'x-request-id': 'h1-post', 'content-length': '5' },
      body: ['hello'],
    });
    assert.equal(status, 200);
    await assertSeenAs('h1-post', '127.0.0.1');
  });

  test('HTTP/1.1 POST with a chunked body (node:http)', async () => {
    const status = await send('127.0.0.1', proxy.httpPort, {
      method: 'POST',
      headers: { host: PLAIN, 'x-request-id': 'h1-chunked', 'transfer-encoding': 'chunked' },
      body: ['hel', 'lo'],
    });
    assert.equal(status, 200);
    await assertSeenAs('h1-chunked', '127.0.0.1');
  });

  test('an upgrade', async () => {
    const out = await rawExchange(
      proxy.httpPort,
      `GET /ws HTTP/1.1\r\nHost: ${PLAIN}\r\nConnection: Upgrade\r\nUpgrade: test\r\nX-Request-ID: h1-upgrade\r\n\r\n`,
    );
    assert.match(out, /^HTTP\/1\.1 101 /);
    await assertSeenAs('h1-upgrade', '127.0.0.1');
  });

  test('HTTP/1.1 over TLS', async () => {
    const status = await new Promise<number>((resolve, reject) => {
      const req = https.get(
        { host: '127.0.0.1', port: proxy.httpsPort, servername: SECURE, ca: cert.certPem, headers: { host: SECURE, 'x-request-id': 'tls-h1' }, agent: false },
        (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode!));
        },
      );
      req.on('error', reject);
    });
    assert.equal(status, 200);
    await assertSeenAs('tls-h1', '127.0.0.1');
  });

  test('HTTP/2: a GET (its fast path) and a POST (Node\'s compat layer)', async () => {
    const session = http2.connect(`https://127.0.0.1:${proxy.httpsPort}`, { servername: SECURE, ca: cert.certPem });
    try {
      const fetch = (headers: http2.OutgoingHttpHeaders, body?: string) =>
        new Promise<number>((resolve, reject) => {
          const stream = session.request({ ':authority': SECURE, ...headers }, { endStream: body === undefined });
          let status = 0;
          stream.on('response', (h) => (status = Number(h[':status'])));
          stream.resume();
          stream.on('end', () => resolve(status));
          stream.on('error', reject);
          if (body !== undefined) stream.end(body);
        });
      assert.equal(await fetch({ ':path': '/', 'x-request-id': 'h2-get' }), 200);
      assert.equal(await fetch({ ':path': '/', ':method': 'POST', 'x-request-id': 'h2-post' }, 'hello'), 200);
    } finally {
      session.close();
    }
    await assertSeenAs('h2-get', '127.0.0.1');
    await assertSeenAs('h2-post', '127.0.0.1');
  });

  test('a failed TLS handshake is logged with 127.0.0.1', async () => {
    const port = await new Promise<number>((resolve, reject) => {
      const socket = net.connect(proxy.httpsPort, '127.0.0.1', () => {
        const local = socket.localPort!;
        socket.end('GET / HTTP/1.1\r\nHost: x\r\n\r\n'); // not a TLS ClientHello
        socket.on('close', () => resolve(local));
      });
      socket.on('error', reject);
      socket.resume();
    });
    let line: Record<string, unknown> | undefined;
    await waitFor(async () => (line = (await logLines()).find((l) => String(l.msg).includes(`TLS handshake error from`) && String(l.msg).includes(`:${port}:`))) !== undefined);
    assert.match(String(line!.msg), new RegExp(`^http: TLS handshake error from 127\\.0\\.0\\.1:${port}: `));
  });

  test('an IPv6 client keeps its address: ::1', async () => {
    assert.equal(await send('::1', proxy.httpPort, { headers: { host: PLAIN, 'x-request-id': 'h1-v6' } }), 200);
    await assertSeenAs('h1-v6', '::1');
  });
});
