// What the proxy answers for requests at the edges of HTTP/1.x, as Go's
// server (and so kamal-proxy) does: another protocol version on the request
// line (505); many header lines (only their bytes are limited, not their
// number); and a client that sends no complete head in time (408, close to
// the headers timeout, on the fast path and on node:http alike).
import assert from 'node:assert/strict';
import http2 from 'node:http2';
import tls from 'node:tls';
import net from 'node:net';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { startProxy } from '../../src/proxy/proxy.ts';
import type { RunningProxy } from '../../src/proxy/proxy.ts';
import { startBackend } from '../helpers/backend.ts';
import type { Backend } from '../helpers/backend.ts';
import { deployParams, quietLogs, startTestProxy } from '../helpers/proxy.ts';
import type { TestProxy } from '../helpers/proxy.ts';
import { rawExchange } from '../helpers/raw-http.ts';
import { waitFor } from '../helpers/wait.ts';
import { selfSigned, tempDir } from '../tls/openssl.ts';
import { h2Request } from '../helpers/h2-client.ts';

quietLogs();
const HOST = 'edge.example.test';
const statusOf = (response: string) => Number(/^HTTP\/1\.1 (\d{3})/.exec(response)?.[1]);
const manyHeaders = (n: number) => Array.from({ length: n }, (_, i) => `h${i}: x\r\n`).join('');

describe('protocol edges', () => {
  const cert = selfSigned(tempDir(), 'edge', [HOST]);
  let proxy: TestProxy;
  let app: Backend;

  before(async () => {
    app = await startBackend('app', {
      route: (req, res) => {
        const body = `${req.httpVersion} ${req.rawHeaders.length / 2}`;
        res.writeHead(200, { 'Content-Type': 'text/plain', 'Content-Length': body.length }).end(body);
        return true;
      },
    });
    app.server.maxHeadersCount = 0; // the app takes whatever the proxy forwards
    proxy = await startTestProxy();
    await proxy.router.deploy(
      deployParams('edge', [app.address], { options: { hosts: [HOST], tlsEnabled: true, tlsRedirect: false, tlsCertificatePath: cert.certPath, tlsPrivateKeyPath: cert.keyPath } }),
    );
  });
  after(async () => {
    await proxy.stop();
    await app.close();
  });

  test('an HTTP/1 request line of another major version: 505, not forwarded, connection closed', async () => {
    for (const version of ['HTTP/2.0', 'HTTP/0.9']) {
      const before = app.requests;
      const r = await rawExchange(proxy.httpPort, `GET / ${version}\r\nHost: ${HOST}\r\n\r\n`);
      assert.equal(statusOf(r), 505, `${version}: ${r}`);
      assert.match(r, /\r\nConnection: close\r\n/i);
      assert.equal(app.requests, before);
    }
    // An h2c client with prior knowledge: no h2c here, as in kamal-proxy.
    const preface = await rawExchange(proxy.httpPort, 'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n');
    assert.equal(statusOf(preface), 505, preface);
  });

  test('HTTP/1.0 and HTTP/1.1 are served', async () => {
    const r10 = await rawExchange(proxy.httpPort, `GET / HTTP/1.0\r\nHost: ${HOST}\r\n\r\n`);
    assert.equal(statusOf(r10), 200, r10);
    const r11 = await rawExchange(proxy.httpPort, `GET / HTTP/1.1\r\nHost: ${HOST}\r\nConnection: close\r\n\r\n`);
    assert.equal(statusOf(r11), 200, r11);
  });

  test('10,000 one-byte header lines (80 KB, under the 1 MiB limit) are forwarded, on node:http and on the fast path', async () => {
    const big = await rawExchange(proxy.httpPort, `GET / HTTP/1.1\r\nHost: ${HOST}\r\nConnection: close\r\n${manyHeaders(10_000)}\r\n`, 10_000);
    assert.equal(statusOf(big), 200, big.slice(0, 200));
    assert.ok(Number(/ (\d+)$/.exec(big)?.[1]) > 10_000, big.slice(-100));
    // Under the fast path's 64 KiB head.
    const fast = await rawExchange(proxy.httpPort, `GET / HTTP/1.1\r\nHost: ${HOST}\r\nConnection: close\r\n${manyHeaders(5_000)}\r\n`, 10_000);
    assert.equal(statusOf(fast), 200, fast.slice(0, 200));
  });

  test('10,000 header fields on HTTP/2 are forwarded too', async () => {
    const session = http2.connect(`https://127.0.0.1:${proxy.httpsPort}`, { servername: HOST, ca: cert.certPem, maxSendHeaderBlockLength: 1024 * 1024 });
    try {
      const headers: http2.OutgoingHttpHeaders = { ':authority': HOST, ':path': '/' };
      for (let i = 0; i < 10_000; i++) headers[`h${i}`] = 'x';
      const { status, body } = await h2Request(session, headers);
      assert.equal(status, 200, body);
      assert.ok(Number(body.split(' ')[1]) > 10_000, body);
    } finally {
      session.destroy();
    }
  });

  test('the HTTP/2 SETTINGS carry the header list limit, the same bytes as HTTP/1.1', async () => {
    const session = http2.connect(`https://127.0.0.1:${proxy.httpsPort}`, { servername: HOST, ca: cert.certPem });
    try {
      await new Promise((resolve) => session.once('remoteSettings', resolve));
      assert.equal(session.remoteSettings.maxHeaderListSize, 1_048_576);
    } finally {
      session.destroy();
    }
  });
});

describe('the headers timeout', () => {
  const HEADERS_TIMEOUT_MS = 1_000;
  // Old behaviour: node:http checked every 30 s, the fast path waited out its
  // 120 s keep-alive limit. Well under either, well over the timeout.
  const WAIT_MS = 8_000;
  const cert = selfSigned(tempDir(), 'timeout', [HOST]);
  let proxy: RunningProxy;
  let app: Backend;

  before(async () => {
    app = await startBackend('app');
    const dir = mkdtempSync(join(tmpdir(), 'kn-timeout-'));
    proxy = await startProxy({
      httpPort: 0,
      httpsPort: 0,
      bindAddress: '127.0.0.1',
      socketPath: join(dir, 'kamal-proxy.sock'),
      statePath: join(dir, 'kamal-proxy.state'),
      clientHeadersTimeoutMs: HEADERS_TIMEOUT_MS,
    });
    await proxy.router.deploy(
      deployParams('edge', [app.address], { options: { hosts: [HOST], tlsEnabled: true, tlsRedirect: false, tlsCertificatePath: cert.certPath, tlsPrivateKeyPath: cert.keyPath } }),
    );
  });
  after(async () => {
    await proxy.stop();
    await app.close();
  });

  test('a head that never completes (node:http) gets 408 and the connection closes', async () => {
    const r = await rawExchange(proxy.httpPort, `GET / HTTP/1.1\r\nHost: ${HOST}\r\nX-Slow: `, WAIT_MS);
    assert.equal(statusOf(r), 408, r);
  });

  test('a connection that sends nothing (the fast path) gets 408 and closes', async () => {
    const r = await rawExchange(proxy.httpPort, '', WAIT_MS);
    assert.equal(statusOf(r), 408, r);
  });

  test('a TLS connection that sends nothing gets 408 and closes', async () => {
    const r = await new Promise<string>((resolve, reject) => {
      const socket = tls.connect({ host: '127.0.0.1', port: proxy.httpsPort, servername: HOST, ca: cert.certPem, ALPNProtocols: ['http/1.1'] });
      let out = '';
      const timer = setTimeout(() => socket.destroy(), WAIT_MS);
      socket.setEncoding('latin1');
      socket.on('data', (d: string) => (out += d));
      socket.on('close', () => {
        clearTimeout(timer);
        resolve(out);
      });
      socket.on('error', reject);
    });
    assert.equal(statusOf(r), 408, r);
  });

  test('an idle keep-alive connection after a request is not cut at the headers timeout', async () => {
    const socket = net.connect(proxy.httpPort, '127.0.0.1');
    socket.setEncoding('latin1');
    let out = '';
    let closed = false;
    socket.on('data', (d: string) => (out += d));
    socket.on('close', () => (closed = true));
    try {
      socket.write(`GET / HTTP/1.1\r\nHost: ${HOST}\r\n\r\n`);
      await waitFor(() => out.includes('HTTP/1.1 200 '));
      await new Promise((r) => setTimeout(r, HEADERS_TIMEOUT_MS * 3));
      assert.equal(closed, false);
      socket.write(`GET / HTTP/1.1\r\nHost: ${HOST}\r\nConnection: close\r\n\r\n`);
      await waitFor(() => closed);
      assert.equal(out.match(/HTTP\/1\.1 200 /g)?.length, 2, out);
    } finally {
      socket.destroy();
    }
  });
});
