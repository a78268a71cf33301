// Requests the HTTP parser must refuse: answered by the proxy with a clear
// status and never forwarded (request smuggling starts where proxy and
// backend disagree on where a request ends).
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startBackend } from '../helpers/backend.ts';
import type { Backend } from '../helpers/backend.ts';
import { deployParams, quietLogs, startTestProxy } from '../helpers/proxy.ts';
import type { TestProxy } from '../helpers/proxy.ts';
import { rawExchange } from '../helpers/raw-http.ts';

quietLogs();

describe('malformed requests', () => {
  let proxy: TestProxy;
  let app: Backend;
  before(async () => {
    app = await startBackend('app', {
      route(req, res) {
        req.resume();
        req.on('end', () => res.end('ok'));
        req.on('error', () => {});
        return true;
      },
    });
    proxy = await startTestProxy();
    await proxy.router.deploy(deployParams('app', [app.address]));
  });
  after(async () => {
    await proxy.stop();
    await app.close();
  });

  const statusOf = (response: string) => Number(/^HTTP\/1\.1 (\d{3})/.exec(response)?.[1]);

  test('a well-formed raw request goes through (the harness itself works)', async () => {
    const before = app.requests;
    const r = await rawExchange(proxy.httpPort, 'GET / HTTP/1.1\r\nHost: a.example.com\r\nConnection: close\r\n\r\n');
    assert.equal(statusOf(r), 200);
    assert.equal(app.requests, before + 1);
  });

  test('garbage instead of a request line gets 400', async () => {
    const before = app.requests;
    const r = await rawExchange(proxy.httpPort, 'HELLO THERE\r\n\r\n');
    assert.equal(statusOf(r), 400);
    assert.equal(app.requests, before);
  });

  test('a malformed percent-escape in the path gets 400, as from Go\'s server; in the query it goes through', async () => {
    for (const path of ['/%zz', '/a%4', '/100%', 'http://a.example.com/%g0']) {
      const before = app.requests;
      const r = await rawExchange(proxy.httpPort, `GET ${path} HTTP/1.1\r\nHost: a.example.com\r\nConnection: close\r\n\r\n`);
      assert.equal(statusOf(r), 400, path);
      assert.equal(app.requests, before, `${path} not forwarded`);
    }
    const before = app.requests;
    const ok = await rawExchange(proxy.httpPort, 'GET /a%20b%2F?q=100% HTTP/1.1\r\nHost: a.example.com\r\nConnection: close\r\n\r\n');
    assert.equal(statusOf(ok), 200);
    assert.equal(app.requests, before + 1);
  });

  test('Content-Length together with Transfer-Encoding gets 400 and is not forwarded', async () => {
    const before = app.requests;
    const r = await rawExchange(
      proxy.httpPort,
      'POST / HTTP/1.1\r\nHost: a.example.com\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: a.example.com\r\n\r\n',
    );
    assert.equal(statusOf(r), 400);
    assert.equal(app.requests, before);
  });

  test('a header block over the limit gets 431 and is not forwarded', async () => {
    const before = app.requests;
    const huge = 'x'.repeat(1_100_000); // above the 1 MiB limit kamal-proxy (Go) also uses
    const r = await rawExchange(proxy.httpPort, `GET / HTTP/1.1\r\nHost: a.example.com\r\nX-Huge: ${huge}\r\n\r\n`);
    assert.equal(statusOf(r), 431);
    assert.equal(app.requests, before);
  });

  test('large headers under the limit are accepted (Node would refuse over 16 KiB)', async () => {
    const cookie = 'c'.repeat(64 * 1024);
    const r = await rawExchange(proxy.httpPort, `GET / HTTP/1.1\r\nHost: a.example.com\r\nCookie: ${cookie}\r\nConnection: close\r\n\r\n`);
    assert.equal(statusOf(r), 200);
  });

  test('a malformed chunked body gets 400', async () => {
    const r = await rawExchange(
      proxy.httpPort,
      'POST / HTTP/1.1\r\nHost: a.example.com\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\nZZZ\r\nnot a chunk\r\n0\r\n\r\n',
    );
    assert.equal(statusOf(r), 400);
  });
});
