// Proxying through a real listener to real backends: headers, bodies both
// ways, streaming, upgrades, and the statuses the proxy produces itself.
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { request } from 'undici';
import { startBackend } from '../helpers/backend.ts';
import type { Backend } from '../helpers/backend.ts';
import { deployParams, quietLogs, startTestProxy } from '../helpers/proxy.ts';
import type { TestProxy } from '../helpers/proxy.ts';
import { acceptWebSocket } from '../helpers/ws-echo.ts';
import { rawGet } from '../helpers/raw-http.ts';

quietLogs();

describe('proxying', () => {
  let proxy: TestProxy;
  let app: Backend;

  before(async () => {
    app = await startBackend('app', {
      route(req, res) {
        if (req.url?.startsWith('/echo-headers')) {
          res.writeHead(200, { 'Content-Type': 'application/json' }).end(JSON.stringify({ url: req.url, headers: req.headers }));
          return true;
        }
        if (req.url === '/upload') {
          let n = 0;
          req.on('data', (c: Buffer) => (n += c.length));
          req.on('end', () => res.writeHead(200).end(String(n)));
          return true;
        }
        if (req.url === '/download') {
          res.writeHead(200, { 'Content-Type': 'application/octet-stream' });
          const chunk = Buffer.alloc(64 * 1024, 7);
          for (let i = 0; i < 160; i++) res.write(chunk); // 10 MiB
          res.end();
          return true;
        }
        if (req.url === '/sse') {
          res.writeHead(200, { 'Content-Type': 'text/event-stream' });
          res.write('data: first\n\n');
          // The second event waits for a signal from the client, so the first
          // must arrive on its own: proves nothing is held back.
          app.server.once('release-sse', () => res.end('data: second\n\n'));
          return true;
        }
        if (req.url === '/slow') {
          setTimeout(() => res.writeHead(200).end('slow'), 2_000);
          return true;
        }
        if (req.url === '/hop') {
          res.writeHead(200, { Connection: 'X-Secret', 'X-Secret': 'hidden', 'Keep-Alive': 'timeout=5', 'X-Visible': 'yes' }).end();
          return true;
        }
      },
    });
    app.server.on('upgrade', (req, socket) => acceptWebSocket(req, socket));
    proxy = await startTestProxy();
    await proxy.router.deploy(deployParams('app', [app.address], { options: { hosts: ['app.example.com'] }, target: { forwardHeaders: true } }));
    await proxy.router.deploy(deployParams('untrusted', [app.address], { options: { hosts: ['untrusted.example.com'] } }));
    await proxy.router.deploy(deployParams('cable', [app.address], { options: { pathPrefixes: ['/cable'], stripPrefix: false } }));
    await proxy.router.deploy(
      deployParams('slow', [app.address], { options: { hosts: ['slow.example.com'] }, target: { responseTimeoutMs: 200 } }),
    );
  });

  after(async () => {
    await proxy.stop();
    await app.close();
  });

  const get = (path: string, headers: Record<string, string> = {}) =>
    request(proxy.url(path), { headers: { host: 'app.example.com', ...headers } });

  test('forwards a request and its answer', async () => {
    const res = await get('/');
    assert.equal(res.statusCode, 200);
    assert.equal(await res.body.text(), 'app');
  });

  test('sets X-Forwarded-*, X-Request-ID, X-Request-Start and X-Kamal-Target; keeps Host', async () => {
    const res = await get('/echo-headers', { 'x-forwarded-for': '1.2.3.4' });
    const { headers } = (await res.body.json()) as { headers: Record<string, string> };
    assert.equal(headers.host, 'app.example.com');
    // forward-headers on: the incoming XFF is trusted and extended
    assert.equal(headers['x-forwarded-for'], '1.2.3.4, 127.0.0.1');
    assert.equal(headers['x-forwarded-host'], 'app.example.com');
    assert.equal(headers['x-forwarded-proto'], 'http');
    assert.match(headers['x-request-id']!, /^[0-9a-f-]{36}$/);
    assert.match(headers['x-request-start']!, /^t=\d{13}$/);
    assert.equal(headers['x-kamal-target'], app.address);
  });

  test('replaces untrusted X-Forwarded-* when forward-headers is off', async () => {
    const res = await request(proxy.url('/echo-headers'), {
      headers: { host: 'untrusted.example.com', 'x-forwarded-for': '6.6.6.6', 'x-forwarded-proto': 'https', 'x-forwarded-host': 'evil', 'x-kamal-target': 'x' },
    });
    const { headers } = (await res.body.json()) as { headers: Record<string, string> };
    assert.equal(headers['x-forwarded-for'], '127.0.0.1');
    assert.equal(headers['x-forwarded-proto'], 'http');
    assert.equal(headers['x-forwarded-host'], 'untrusted.example.com');
    assert.equal(headers['x-kamal-target'], app.address);
  });

  test('keeps a client X-Request-ID and X-Request-Start', async () => {
    const res = await get('/echo-headers', { 'x-request-id': 'abc-123', 'x-request-start': 't=42' });
    const { headers } = (await res.body.json()) as { headers: Record<string, string> };
    assert.equal(headers['x-request-id'], 'abc-123');
    assert.equal(headers['x-request-start'], 't=42');
  });

  test('passes the raw query byte for byte', async () => {
    const raw = '/echo-headers?a=1;b=%zz&c=%2F+x&&d';
    const res = await rawGet(proxy.httpPort, raw, 'app.example.com');
    assert.equal(JSON.parse(res.body).url, raw);
  });

  test('matches hosts case-insensitively and with a port', async () => {
    for (const host of ['APP.Example.com', `app.example.com:${proxy.httpPort}`]) {
      const res = await request(proxy.url('/'), { headers: { host } });
      assert.equal(res.statusCode, 200, host);
      await res.body.dump();
    }
  });

  test('answers 404 with the built-in page when no service matches', async () => {
    const res = await request(proxy.url('/'), { headers: { host: 'nobody.example.com' } });
    assert.equal(res.statusCode, 404);
    assert.equal(res.headers['content-type'], 'text/html; charset=utf-8');
    assert.match(await res.body.text(), /Not Found/);
  });

  test('streams a large request body up and a large response down', async () => {
    const size = 8 * 1024 * 1024;
    const up = await request(proxy.url('/upload'), { method: 'POST', headers: { host: 'app.example.com' }, body: Buffer.alloc(size, 1) });
    assert.equal(await up.body.text(), String(size));
    const down = await get('/download');
    const body = await down.body.arrayBuffer();
    assert.equal(body.byteLength, 10 * 1024 * 1024);
  });

  test('streams a chunked upload of unknown length', async () => {
    async function* chunks() {
      for (let i = 0; i < 100; i++) yield Buffer.alloc(1000, 2);
    }
    const res = await request(proxy.url('/upload'), { method: 'PUT', headers: { host: 'app.example.com' }, body: Readable.from(chunks()) });
    assert.equal(await res.body.text(), '100000');
  });

  test('flushes server-sent events as they arrive', async () => {
    const res = await get('/sse');
    assert.equal(res.headers['content-type'], 'text/event-stream');
    const it = res.body[Symbol.asyncIterator]();
    const first = await it.next();
    assert.equal(String(first.value), 'data: first\n\n');
    app.server.emit('release-sse');
    let rest = '';
    for (let r = await it.next(); !r.done; r = await it.next()) rest += String(r.value);
    assert.equal(rest, 'data: second\n\n');
  });

  test('removes hop-by-hop response headers, including those named in Connection', async () => {
    const res = await get('/hop');
    assert.equal(res.headers['x-visible'], 'yes');
    assert.equal(res.headers['x-secret'], undefined);
    assert.notEqual(res.headers['keep-alive'], 'timeout=5', "the upstream's Keep-Alive is not relayed");
    await res.body.dump();
  });

  test('proxies WebSockets', async () => {
    // The catch-all service mounted on /cable (no Host override needed).
    const ws = new WebSocket(`ws://127.0.0.1:${proxy.httpPort}/cable`);
    const echoed = await new Promise<string>((resolve, reject) => {
      ws.onopen = () => ws.send('hello through the proxy');
      ws.onmessage = (e) => resolve(String(e.data));
      ws.onerror = () => reject(new Error('websocket failed'));
    });
    assert.equal(echoed, 'hello through the proxy');
    ws.close();
  });

  test('answers 504 when the target does not send headers within --target-timeout', async () => {
    const res = await request(proxy.url('/slow'), { headers: { host: 'slow.example.com' } });
    assert.equal(res.statusCode, 504);
    assert.match(await res.body.text(), /Gateway Timeout/);
  });

  test('answers 502 quickly when the target is gone', async () => {
    const gone = await startBackend('gone');
    await proxy.router.deploy(deployParams('gone', [gone.address], { options: { hosts: ['gone.example.com'] } }));
    await gone.close();
    const res = await request(proxy.url('/'), { headers: { host: 'gone.example.com' } });
    assert.equal(res.statusCode, 502);
    assert.match(await res.body.text(), /Bad Gateway/);
  });

  test('answers 503 when no target is healthy', async () => {
    const sick = await startBackend('sick', { healthy: false });
    await proxy.router.deploy(deployParams('sick', [sick.address], { options: { hosts: ['sick.example.com'] }, force: true }));
    const res = await request(proxy.url('/'), { headers: { host: 'sick.example.com' } });
    assert.equal(res.statusCode, 503);
    await res.body.dump();
    assert.equal(sick.requests, 0);
    await sick.close();
  });
});
