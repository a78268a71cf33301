// An app whose response breaks HTTP/1.1 framing failed us: 502, as Go's
// proxy answers it, never the 400 the same parser errors mean in a client's
// request (issue #16, item 9). While no byte of the response has gone to the
// client, the 502 replaces it; after that the client connection is cut, as Go
// does, so the client never takes a truncated body as whole.
import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, describe, test } from 'node:test';
import { deployParams, quietLogs, startTestProxy } from '../helpers/proxy.ts';
import type { TestProxy } from '../helpers/proxy.ts';
import { rawExchange } from '../helpers/raw-http.ts';

quietLogs();

const HEAD_CHUNKED = 'HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n';
const LATER_MS = 100; // a second write, so it reaches the proxy in a read of its own

// What the app writes for each path: pieces, LATER_MS apart.
const ANSWERS: Record<string, string[]> = {
  '/up': ['HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nup'],
  '/cl-and-te': ['HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n'],
  '/two-lengths': ['HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!'],
  '/bad-chunk': [`${HEAD_CHUNKED}zz\r\nhello\r\n0\r\n\r\n`],
  '/bad-chunk-after-head': [HEAD_CHUNKED, 'zz\r\nhello\r\n0\r\n\r\n'],
  '/bad-chunk-mid-body': [`${HEAD_CHUNKED}5\r\nhello\r\n`, 'zz\r\n world\r\n0\r\n\r\n'],
  // Answers to upgrade requests (a refused WebSocket handshake), relayed by undici.
  '/ws-bad-chunk': [`${HEAD_CHUNKED}zz\r\nno\r\n0\r\n\r\n`],
  '/ws-bad-chunk-mid-body': [`${HEAD_CHUNKED}2\r\nno\r\n`, 'zz\r\n!\r\n0\r\n\r\n'],
};

describe('malformed responses from the app', () => {
  let proxy: TestProxy;
  let app: net.Server;
  const sockets = new Set<net.Socket>();

  before(async () => {
    app = net.createServer((socket) => {
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
      socket.on('error', () => {});
      let buffered = '';
      socket.setEncoding('latin1');
      socket.on('data', (data: string) => {
        buffered += data;
        for (let end = buffered.indexOf('\r\n\r\n'); end !== -1; end = buffered.indexOf('\r\n\r\n')) {
          const path = buffered.slice(0, buffered.indexOf('\r\n')).split(' ')[1]!;
          buffered = buffered.slice(end + 4);
          const pieces = ANSWERS[path] ?? ['HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n'];
          pieces.forEach((piece, i) => setTimeout(() => socket.writable && socket.write(piece, 'latin1'), i * LATER_MS));
        }
      });
    });
    await new Promise<void>((resolve) => app.listen(0, '127.0.0.1', resolve));
    const target = `127.0.0.1:${(app.address() as net.AddressInfo).port}`;
    proxy = await startTestProxy();
    await proxy.router.deploy(deployParams('streamed', [target], { options: { hosts: ['streamed.example.test'] } }));
    await proxy.router.deploy(
      deployParams('buffered', [target], { options: { hosts: ['buffered.example.test'] }, target: { bufferResponses: true } }),
    );
  });

  after(async () => {
    await proxy.stop();
    for (const s of sockets) s.destroy();
    await new Promise<void>((resolve) => app.close(() => resolve()));
  });

  const get = (path: string, host = 'streamed.example.test') =>
    rawExchange(proxy.httpPort, `GET ${path} HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`);
  const statusOf = (response: string) => response.slice(0, response.indexOf('\r\n'));

  test('both Content-Length and Transfer-Encoding: 502', async () => {
    assert.equal(statusOf(await get('/cl-and-te')), 'HTTP/1.1 502 Bad Gateway');
    assert.equal(statusOf(await get('/cl-and-te', 'buffered.example.test')), 'HTTP/1.1 502 Bad Gateway');
  });

  test('two different Content-Lengths: 502', async () => {
    assert.equal(statusOf(await get('/two-lengths')), 'HTTP/1.1 502 Bad Gateway');
    assert.equal(statusOf(await get('/two-lengths', 'buffered.example.test')), 'HTTP/1.1 502 Bad Gateway');
  });

  test('a bad chunk before any byte of the response went out: 502, whether it came with the head or after it', async () => {
    assert.equal(statusOf(await get('/bad-chunk')), 'HTTP/1.1 502 Bad Gateway');
    assert.equal(statusOf(await get('/bad-chunk-after-head')), 'HTTP/1.1 502 Bad Gateway');
  });

  test('a bad chunk after part of the body went out: the client connection is cut, never ended as if whole', async () => {
    const response = await get('/bad-chunk-mid-body');
    assert.equal(statusOf(response), 'HTTP/1.1 200 OK');
    assert.ok(response.endsWith('5\r\nhello\r\n'), `what came before the bad chunk, and nothing after: ${JSON.stringify(response)}`);
  });

  test('the same for the answer to an upgrade request: one 502, or the relayed answer cut, never two responses', async () => {
    const upgrade = (path: string) =>
      rawExchange(
        proxy.httpPort,
        `GET ${path} HTTP/1.1\r\nHost: streamed.example.test\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n` +
          'Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n',
      );
    const statusLines = (response: string) => response.split('\r\n').filter((line) => line.startsWith('HTTP/1.1 '));
    assert.deepEqual(statusLines(await upgrade('/ws-bad-chunk')), ['HTTP/1.1 502 Bad Gateway']);
    const cut = await upgrade('/ws-bad-chunk-mid-body');
    assert.deepEqual(statusLines(cut), ['HTTP/1.1 200 OK']);
    assert.ok(cut.endsWith('\r\n\r\nno'), `what came before the bad chunk, and nothing after: ${JSON.stringify(cut)}`);
  });

  test('the proxy serves well-formed answers from the same app meanwhile', async () => {
    const response = await get('/up');
    assert.equal(statusOf(response), 'HTTP/1.1 200 OK');
    assert.ok(response.endsWith('up'));
  });
});
