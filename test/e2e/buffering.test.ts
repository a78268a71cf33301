// --buffer-requests / --buffer-responses with their limits, through a real listener.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { Readable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { request } from 'undici';
import { startBackend } from '../helpers/backend.ts';
import type { Backend } from '../helpers/backend.ts';
import { deployParams, quietLogs, startTestProxy } from '../helpers/proxy.ts';
import type { TestProxy } from '../helpers/proxy.ts';
import { rawExchange } from '../helpers/raw-http.ts';
import { acceptWebSocket } from '../helpers/ws-echo.ts';
import { waitFor } from '../helpers/wait.ts';

quietLogs();

// Past every socket buffer on loopback, so the client's pace matters.
const HUGE = Buffer.alloc(6 * 1024 * 1024, 'abcdefgh');

describe('buffering', () => {
  let proxy: TestProxy;
  let app: Backend;
  let releaseSse: () => void = () => {};
  before(async () => {
    app = await startBackend('app', {
      route(req, res) {
        if (req.url === '/echo') {
          const chunks: Buffer[] = [];
          req.on('data', (c: Buffer) => chunks.push(c));
          req.on('end', () => {
            const body = Buffer.concat(chunks);
            res.writeHead(200, {
              'X-Seen-Length': String(req.headers['content-length'] ?? 'none'),
              'X-Seen-TE': String(req.headers['transfer-encoding'] ?? 'none'),
              'X-Seen-Sha256': createHash('sha256').update(body).digest('hex'),
            });
            res.end(`${body.length}`);
          });
          return true;
        }
        if (req.url === '/big') return (res.writeHead(200, { 'Content-Length': '100' }).end('x'.repeat(100)), true);
        if (req.url === '/huge') return (res.writeHead(200, { 'Content-Length': String(HUGE.length) }).end(HUGE), true);
        if (req.url === '/small') return (res.writeHead(200, { 'Content-Length': '5' }).end('small'), true);
        if (req.url === '/chunked') {
          res.writeHead(200, { 'Content-Type': 'text/plain' });
          res.write('first;');
          new Promise<void>((r) => (releaseSse = r)).then(() => res.end('second'));
          return true;
        }
        if (req.url === '/sse') {
          res.writeHead(200, { 'Content-Type': 'text/event-stream; charset=utf-8', 'Content-Length': '40' });
          res.write('data: one\n\n');
          new Promise<void>((r) => (releaseSse = r)).then(() => res.end('data: two\n\n'.padEnd(29, ' ')));
          return true;
        }
      },
    });
    app.server.on('upgrade', (req, socket) => acceptWebSocket(req, socket));
    proxy = await startTestProxy();
    const buffered = { bufferRequests: true, bufferResponses: true, maxMemoryBufferBytes: 1024 };
    await proxy.router.deploy(deployParams('buf', [app.address], { options: { hosts: ['buf.example.com'] }, target: buffered }));
    await proxy.router.deploy(
      deployParams('tiny', [app.address], {
        options: { hosts: ['tiny.example.com'] },
        target: { ...buffered, maxRequestBodyBytes: 10, maxResponseBodyBytes: 10 },
      }),
    );
    await proxy.router.deploy(
      deployParams('unbuffered', [app.address], { options: { hosts: ['plain.example.com'] }, target: { maxRequestBodyBytes: 10, maxResponseBodyBytes: 10 } }),
    );
  });
  after(async () => {
    await proxy.stop();
    await app.close();
  });

  const send = async (host: string, path: string, body?: Buffer | Readable) => {
    const res = await request(proxy.url(path), { method: body ? 'POST' : 'GET', headers: { host }, body });
    return { status: res.statusCode, headers: res.headers, body: await res.body.text() };
  };

  test('a buffered request reaches the app whole, with a Content-Length, spilling to disk past --buffer-memory', async () => {
    async function* slowChunks() {
      for (let i = 0; i < 64; i++) yield Buffer.alloc(1024, i);
    }
    const r = await send('buf.example.com', '/echo', Readable.from(slowChunks()));
    assert.equal(r.body, String(64 * 1024));
    assert.equal(r.headers['x-seen-length'], String(64 * 1024));
    assert.equal(r.headers['x-seen-te'], 'none', 'the chunked upload arrives with its length known');
    // Removed right after the exchange (asynchronously).
    await waitFor(() => readdirSync(tmpdir()).filter((f) => f.startsWith('proxy-buffer-')).length === 0);
  });

  test('a request over --max-request-body gets 413 and never reaches the app', async () => {
    const before = app.requests;
    const r = await send('tiny.example.com', '/echo', Buffer.alloc(11, 1));
    assert.equal(r.status, 413);
    assert.match(r.body, /Request Entity Too Large/);
    assert.equal(app.requests, before);
    assert.equal((await send('tiny.example.com', '/echo', Buffer.alloc(10, 1))).body, '10', 'exactly the limit is fine');
  });

  // Head and body in one write: the HTTP/1.1 fast path takes the request
  // with its body (test/server/http1-fast-path.test.ts), and the next one
  // on the connection follows it there.
  test('a small body that comes with its head is proxied byte for byte; over --max-request-body it is 413, and the connection goes on', async () => {
    const bytes = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
    const head = (host: string, length: number) => `POST /echo HTTP/1.1\r\nHost: ${host}\r\nContent-Length: ${length}\r\n\r\n`;
    const then = (host: string) => `GET /small HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`;
    const ok = await rawExchange(proxy.httpPort, Buffer.concat([Buffer.from(head('buf.example.com', 256)), bytes, Buffer.from(then('buf.example.com'))]));
    assert.match(ok, /^HTTP\/1\.1 200 /);
    assert.match(ok, /\r\nX-Seen-Length: 256\r\n/i);
    assert.match(ok, new RegExp(`\r\nX-Seen-Sha256: ${createHash('sha256').update(bytes).digest('hex')}\r\n`, 'i'));
    assert.ok(ok.endsWith('small'), ok);

    const before = app.requests;
    const refused = await rawExchange(proxy.httpPort, head('tiny.example.com', 11) + 'x'.repeat(11) + then('tiny.example.com'));
    assert.match(refused, /^HTTP\/1\.1 413 /);
    assert.match(refused, /Request Entity Too Large/);
    assert.ok(refused.endsWith('small'), refused);
    assert.equal(app.requests, before + 1, 'only the GET reached the app');
  });

  test('a response over --max-response-body gets 500', async () => {
    assert.equal((await send('tiny.example.com', '/big')).status, 500);
    assert.equal((await send('tiny.example.com', '/small')).body, 'small');
  });

  test('without buffering no limits apply', async () => {
    assert.equal((await send('plain.example.com', '/echo', Buffer.alloc(1000, 1))).body, '1000');
    assert.equal((await send('plain.example.com', '/big')).body.length, 100);
  });

  test('a buffered response arrives intact', async () => {
    const r = await send('buf.example.com', '/big');
    assert.deepEqual([r.status, r.body, r.headers['content-length']], [200, 'x'.repeat(100), '100']);
  });

  test('a buffered response past --buffer-memory spills to disk and arrives intact, also at a client that reads slowly', async () => {
    const r = await send('buf.example.com', '/huge');
    assert.equal(r.status, 200);
    assert.equal(r.headers['content-length'], String(HUGE.length));
    assert.ok(r.body === HUGE.toString('latin1'), 'body differs');
    const slow = await request(proxy.url('/huge'), { headers: { host: 'buf.example.com' }, highWaterMark: 1024 });
    let got = 0;
    for await (const chunk of slow.body) {
      got += (chunk as Buffer).length;
      if (got < 256 * 1024) await new Promise((r) => setTimeout(r, 1));
    }
    assert.equal(got, HUGE.length);
  });

  test('event streams and chunked responses are not buffered', async () => {
    for (const path of ['/sse', '/chunked']) {
      const res = await request(proxy.url(path), { headers: { host: 'buf.example.com' } });
      const it = res.body[Symbol.asyncIterator]();
      const first = String((await it.next()).value);
      assert.ok(first === 'data: one\n\n' || first === 'first;', `${path} first part arrived alone: ${first}`);
      releaseSse();
      for (let r = await it.next(); !r.done; r = await it.next());
    }
  });

  test('a malformed chunked body gets 400 with buffering on', async () => {
    const r = await rawExchange(
      proxy.httpPort,
      'POST /echo HTTP/1.1\r\nHost: buf.example.com\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\nZZZ\r\nbad\r\n0\r\n\r\n',
    );
    assert.match(r, /^HTTP\/1\.1 400 /);
  });

  test('WebSockets work with buffering on and tiny limits', async () => {
    // A WebSocket client cannot set Host, so this service is the catch-all.
    await proxy.router.deploy(
      deployParams('ws-tiny', [app.address], { target: { bufferRequests: true, bufferResponses: true, maxRequestBodyBytes: 1, maxResponseBodyBytes: 1 } }),
    );
    const socket = new WebSocket(`ws://127.0.0.1:${proxy.httpPort}/cable`);
    const echoed = await new Promise<string>((resolve, reject) => {
      socket.onopen = () => socket.send('a message longer than the limits');
      socket.onmessage = (e) => resolve(String(e.data));
      socket.onerror = () => reject(new Error('websocket failed'));
    });
    assert.equal(echoed, 'a message longer than the limits');
    socket.close();
  });
});
