// One JSON line per request on stdout, with kamal-proxy's field names and order.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { request } from 'undici';
import { startBackend } from '../helpers/backend.ts';
import type { Backend } from '../helpers/backend.ts';
import { deployParams, quietLogs, requestLogLines, startTestProxy } from '../helpers/proxy.ts';
import { fetchHttp2 } from '../tls/acme-fixture.ts';
import { rawExchange } from '../helpers/raw-http.ts';
import { selfSigned, tempDir } from '../tls/openssl.ts';
import type { TestProxy } from '../helpers/proxy.ts';

const logFile = quietLogs();

const requestLines = () => requestLogLines(logFile);

describe('request log', () => {
  let proxy: TestProxy;
  let app: Backend;
  before(async () => {
    app = await startBackend('app', {
      route: (req, res) => (res.writeHead(201, { 'X-Resp': 'r1', 'Content-Type': 'text/plain' }).end('created!'), true),
    });
    proxy = await startTestProxy();
    await proxy.router.deploy(
      deployParams('logged', [app.address], {
        options: { hosts: ['log.example.com'] },
        target: { logRequestHeaders: ['User-Agent', 'x-custom'], logResponseHeaders: ['X-Resp', 'X-Missing'] },
      }),
    );
  });
  after(async () => {
    await proxy.stop();
    await app.close();
  });

  test('a proxied request logs every field, in order', async () => {
    const res = await request(proxy.url('/items?page=2'), {
      method: 'POST',
      body: 'hello',
      headers: { host: 'log.example.com', 'user-agent': 'tester/1', 'x-custom': 'c1', 'content-type': 'text/plain', 'x-request-id': 'rid-1' },
    });
    await res.body.dump();
    const line = (await requestLines()).find((l) => l.request_id === 'rid-1')!;
    assert.deepEqual(Object.keys(line), [
      'time', 'level', 'msg', 'host', 'port', 'path', 'request_id', 'status', 'service', 'target', 'duration', 'method',
      'req_content_length', 'req_content_type', 'resp_content_length', 'resp_content_type', 'client_addr', 'client_port',
      'remote_addr', 'user_agent', 'proto', 'scheme', 'query', 'req_user_agent', 'req_x_custom', 'resp_x_resp', 'resp_x_missing',
    ]);
    assert.equal(line.level, 'INFO');
    assert.equal(line.host, 'log.example.com');
    assert.equal(line.port, 0, 'the configured port (0 in tests)');
    assert.equal(line.path, '/items');
    assert.equal(line.status, 201);
    assert.equal(line.service, 'logged');
    assert.equal(line.target, app.address);
    assert.ok(Number.isInteger(line.duration) && (line.duration as number) > 0, 'duration in integer nanoseconds');
    assert.equal(line.method, 'POST');
    assert.equal(line.req_content_length, 5);
    assert.equal(line.req_content_type, 'text/plain');
    assert.equal(line.resp_content_length, 8);
    assert.equal(line.resp_content_type, 'text/plain');
    assert.equal(line.client_addr, '127.0.0.1');
    assert.match(String(line.client_port), /^\d+$/);
    assert.equal(line.remote_addr, '127.0.0.1');
    assert.equal(line.user_agent, 'tester/1');
    assert.equal(line.proto, 'HTTP/1.1');
    assert.equal(line.scheme, 'http');
    assert.equal(line.query, 'page=2');
    assert.equal(line.req_user_agent, 'tester/1');
    assert.equal(line.req_x_custom, 'c1');
    assert.equal(line.resp_x_resp, 'r1');
    assert.equal(line.resp_x_missing, '');
    assert.match(String(line.time), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/);
  });

  test('an unrouted request logs 404 with no service', async () => {
    const res = await request(proxy.url('/nowhere'), { headers: { host: 'unknown.example.com', 'x-request-id': 'rid-404' } });
    await res.body.dump();
    const line = (await requestLines()).find((l) => l.request_id === 'rid-404')!;
    assert.equal(line.status, 404);
    assert.equal(line.service, '');
    assert.equal(line.target, '');
    assert.ok((line.resp_content_length as number) > 0);
  });

  test('an HTTP/2 request logs its client too (read before its stream ends)', async () => {
    const cert = selfSigned(tempDir(), 'log-h2', ['h2.log.example.com']);
    await proxy.router.deploy(
      deployParams('logged-h2', [app.address], {
        options: { hosts: ['h2.log.example.com'], tlsEnabled: true, tlsCertificatePath: cert.certPath, tlsPrivateKeyPath: cert.keyPath },
      }),
    );
    const res = await fetchHttp2(proxy.httpsPort, 'h2.log.example.com', cert.certPem);
    assert.equal(res.protocol, 'h2');
    const line = (await requestLines()).find((l) => l.service === 'logged-h2')!;
    assert.equal(line.proto, 'HTTP/2.0');
    assert.equal(line.scheme, 'https');
    assert.equal(line.client_addr, '127.0.0.1');
    assert.match(String(line.client_port), /^\d+$/);
    assert.equal(line.remote_addr, '127.0.0.1');
    assert.equal(line.host, 'h2.log.example.com', 'the :authority, as Go reads r.Host');
    assert.equal(line.req_content_length, 0, 'no body: 0, as Go logs it');
  });

  // Field by field as Go's net/http fills what kamal-proxy logs: r.ContentLength
  // is 0 for a request without a body and -1 for a chunked one, r.URL.Path is
  // decoded, Header.Get gives the first of repeated headers.
  test('values as kamal-proxy logs them for the same requests', async () => {
    const send = (text: string) => rawExchange(proxy.httpPort, text);
    await send('GET /plain HTTP/1.1\r\nHost: log.example.com\r\nX-Request-ID: go-get\r\nConnection: close\r\n\r\n');
    await send('POST /chunked HTTP/1.1\r\nHost: log.example.com\r\nX-Request-ID: go-chunked\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n5\r\nhello\r\n0\r\n\r\n');
    await send('POST /empty HTTP/1.1\r\nHost: log.example.com\r\nX-Request-ID: go-empty\r\nContent-Length: 0\r\nConnection: close\r\n\r\n');
    await send('GET /caf%C3%A9/a%20b?q=%20 HTTP/1.1\r\nHost: log.example.com\r\nX-Request-ID: go-path\r\nConnection: close\r\n\r\n');
    await send('GET / HTTP/1.1\r\nHost: log.example.com\r\nX-Request-ID: go-xff\r\nX-Forwarded-For: 203.0.113.1, 10.0.0.1\r\nX-Forwarded-For: 10.0.0.2\r\nConnection: close\r\n\r\n');
    const lines = await requestLines();
    const line = (id: string) => lines.find((l) => l.request_id === id)!;
    assert.equal(line('go-get').req_content_length, 0);
    assert.equal(line('go-chunked').req_content_length, -1);
    assert.equal(line('go-empty').req_content_length, 0);
    assert.equal(line('go-path').path, '/café/a b');
    assert.equal(line('go-path').query, 'q=%20', 'the query stays raw');
    assert.equal(line('go-xff').remote_addr, '203.0.113.1, 10.0.0.1', 'the first X-Forwarded-For header, whole');
  });
});
