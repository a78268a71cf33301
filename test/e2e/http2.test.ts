// HTTP/2 over TLS through the whole proxy, to a real HTTP/1.1 app: the
// bodyless requests the fast path takes and the ones Node's compat layer
// serves, streamed and buffered responses, error pages, and clients that
// leave mid-response.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import http2 from 'node:http2';
import { after, before, describe, test } from 'node:test';
import { startBackend } from '../helpers/backend.ts';
import type { Backend } from '../helpers/backend.ts';
import { deployParams, quietLogs, requestLogLine, startTestProxy } from '../helpers/proxy.ts';
import type { TestProxy } from '../helpers/proxy.ts';
import { waitFor } from '../helpers/wait.ts';
import { selfSigned, tempDir } from '../tls/openssl.ts';

const logFile = quietLogs();
const HOST = 'h2.example.test';
const BIG = Buffer.alloc(3 * 1024 * 1024 + 17, 'abcdefghij'); // over --buffer-memory: a spill file
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

const requestLine = (requestId: string) => requestLogLine(logFile, requestId);

interface Reply {
  status: number;
  headers: http2.IncomingHttpHeaders;
  body: Buffer;
}

describe('HTTP/2 through the proxy', () => {
  const cert = selfSigned(tempDir(), 'h2-e2e', [HOST]);
  let proxy: TestProxy;
  let app: Backend;
  let session: http2.ClientHttp2Session;
  let streamClosed = 0; // app responses that closed before they finished

  before(async () => {
    app = await startBackend('app', {
      route: (req, res) => {
        if (req.url === '/headers') {
          res.writeHead(200, [['Content-Type', 'text/plain'], ['Set-Cookie', 'a=1'], ['Set-Cookie', 'b=2'], ['X-App', 'yes']].flat());
          res.end(`${req.headers['x-forwarded-proto']} ${req.headers.host}`);
          return true;
        }
        if (req.url === '/big') {
          res.writeHead(200, { 'Content-Type': 'application/octet-stream', 'Content-Length': BIG.length });
          res.end(BIG);
          return true;
        }
        if (req.url === '/echo') {
          const chunks: Buffer[] = [];
          req.on('data', (c: Buffer) => chunks.push(c));
          req.on('end', () => res.writeHead(200).end(`${req.method} ${Buffer.concat(chunks).toString()}`));
          return true;
        }
        if (req.url === '/hold') {
          // Streams a first chunk, then waits: the client leaves meanwhile.
          res.writeHead(200, { 'Content-Type': 'text/plain' });
          res.write('first');
          res.on('close', () => {
            if (!res.writableFinished) streamClosed++;
          });
          return true;
        }
        return false;
      },
    });
    proxy = await startTestProxy();
    await proxy.router.deploy(
      deployParams('h2app', [app.address], {
        options: { hosts: [HOST], tlsEnabled: true, tlsCertificatePath: cert.certPath, tlsPrivateKeyPath: cert.keyPath },
        target: { bufferRequests: true, bufferResponses: true },
      }),
    );
    session = await connect();
  });
  after(async () => {
    session.destroy();
    await proxy.stop();
    await app.close();
  });

  function connect(): Promise<http2.ClientHttp2Session> {
    return new Promise((resolve, reject) => {
      const s = http2.connect(`https://127.0.0.1:${proxy.httpsPort}`, { servername: HOST, ca: cert.certPem });
      s.once('connect', () => resolve(s));
      s.once('error', reject);
    });
  }

  function fetch(headers: http2.OutgoingHttpHeaders, body?: string, on = session): Promise<Reply> {
    return new Promise((resolve, reject) => {
      const stream = on.request({ ':authority': HOST, ...headers }, { endStream: body === undefined });
      let head: http2.IncomingHttpHeaders = {};
      const chunks: Buffer[] = [];
      stream.on('response', (h) => (head = h));
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => resolve({ status: Number(head[':status']), headers: head, body: Buffer.concat(chunks) }));
      stream.on('error', reject);
      if (body !== undefined) stream.end(body);
    });
  }

  test('a GET: the app answers over HTTP/1.1 for https, its headers come back and HTTP/1.1-only ones do not', async () => {
    const r = await fetch({ ':path': '/headers', 'x-request-id': 'h2-get' });
    assert.equal(r.status, 200);
    assert.equal(r.body.toString(), `https ${HOST}`);
    assert.deepEqual(r.headers['set-cookie'], ['a=1', 'b=2']);
    assert.equal(r.headers['x-app'], 'yes');
    // The app sent Connection: keep-alive; HTTP/2 has no such header.
    assert.equal(r.headers.connection, undefined);
    assert.equal(r.headers['keep-alive'], undefined);
    const line = await requestLine('h2-get');
    assert.equal(line?.status, 200);
    assert.equal(line?.proto, 'HTTP/2.0');
    assert.equal(line?.method, 'GET');
  });

  test('HEAD: the app\'s Content-Length, and no body', async () => {
    const r = await fetch({ ':path': '/big', ':method': 'HEAD' });
    assert.equal(r.status, 200);
    assert.equal(r.headers['content-length'], String(BIG.length));
    assert.equal(r.body.length, 0);
  });

  // HTTP/2 clients need not send Content-Length (Node's does not): the body
  // is announced by a HEADERS frame that does not end the stream.
  test('a POST is proxied with its body (through the compat layer), with and without Content-Length', async () => {
    const unsized = await fetch({ ':path': '/echo', ':method': 'POST', 'x-request-id': 'h2-post' }, 'hello over h2');
    assert.equal(unsized.body.toString(), 'POST hello over h2');
    assert.equal((await requestLine('h2-post'))?.req_content_length, -1, 'unknown, as Go logs it');
    const sized = await fetch({ ':path': '/echo', ':method': 'PUT', 'content-length': '5' }, 'sized');
    assert.equal(sized.body.toString(), 'PUT sized');
    // Unbuffered, the unsized body streams on to the app (chunked).
    await proxy.router.deploy(
      deployParams('h2stream', [app.address], {
        options: { hosts: ['stream.h2.example.test'], tlsEnabled: true, tlsCertificatePath: cert.certPath, tlsPrivateKeyPath: cert.keyPath },
      }),
    );
    const streamed = await fetch({ ':path': '/echo', ':method': 'POST', ':authority': 'stream.h2.example.test' }, 'streamed on');
    assert.equal(streamed.body.toString(), 'POST streamed on');
    assert.equal(app.lastHeaders['transfer-encoding'], 'chunked');
  });

  test('a buffered response larger than --buffer-memory arrives whole, through its spill file', async () => {
    const r = await fetch({ ':path': '/big' });
    assert.equal(r.status, 200);
    assert.equal(r.body.length, BIG.length);
    assert.equal(sha(r.body), sha(BIG));
  });

  test('an unreachable target is a 502 page over HTTP/2', async () => {
    const gone = await startBackend('gone');
    await proxy.router.deploy(
      deployParams('h2gone', [gone.address], {
        options: { hosts: ['gone.h2.example.test'], tlsEnabled: true, tlsCertificatePath: cert.certPath, tlsPrivateKeyPath: cert.keyPath },
      }),
    );
    await gone.close();
    const s = await new Promise<http2.ClientHttp2Session>((resolve, reject) => {
      const c = http2.connect(`https://127.0.0.1:${proxy.httpsPort}`, { servername: HOST, ca: cert.certPem });
      c.once('connect', () => resolve(c));
      c.once('error', reject);
    });
    const r = await fetch({ ':path': '/', ':authority': 'gone.h2.example.test' }, undefined, s);
    s.close();
    assert.equal(r.status, 502);
    assert.match(String(r.headers['content-type']), /text\/html/);
    assert.ok(r.body.length > 0);
  });

  test('a client that resets its stream mid-response is logged 499 and the app request is cancelled; one that drops the connection too', async () => {
    const before = streamClosed;
    const reset = session.request({ ':authority': HOST, ':path': '/hold', 'x-request-id': 'h2-reset' });
    reset.on('error', () => {});
    await new Promise((resolve) => reset.once('data', resolve));
    reset.close(http2.constants.NGHTTP2_CANCEL);
    await waitFor(async () => (await requestLine('h2-reset')) !== undefined);
    assert.equal((await requestLine('h2-reset'))?.status, 499);
    await waitFor(() => streamClosed === before + 1);

    const other = await connect();
    const dropped = other.request({ ':authority': HOST, ':path': '/hold', 'x-request-id': 'h2-dropped' });
    dropped.on('error', () => {});
    await new Promise((resolve) => dropped.once('data', resolve));
    other.destroy();
    await waitFor(async () => (await requestLine('h2-dropped')) !== undefined);
    assert.equal((await requestLine('h2-dropped'))?.status, 499);
    await waitFor(() => streamClosed === before + 2);

    // The proxy and the first session go on serving.
    assert.equal((await fetch({ ':path': '/headers' })).status, 200);
  });
});
