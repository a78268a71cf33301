// The HTTP/2 fast path against a real TLS server and Node's HTTP/2 client:
// which streams it takes and which it leaves to Node's compat layer, and what
// Http2Response sends (head, body, back-pressure, resets), on real sockets.
import assert from 'node:assert/strict';
import http2 from 'node:http2';
import type { IncomingMessage } from 'node:http';
import type { ClientPeer, ProxyRequest } from '../../src/http/proxy-request.ts';
import type { Http2Response } from '../../src/server/http2-response.ts';
import type { ProxyResponse } from '../../src/http/proxy-response.ts';
import type { AddressInfo } from 'node:net';
import { after, before, beforeEach, describe, test } from 'node:test';
import { Http2Request, takeHttp2Streams } from '../../src/server/http2-fast-path.ts';
import { selfSigned, tempDir } from '../tls/openssl.ts';
import { waitFor } from '../helpers/wait.ts';

type Handler = (req: ProxyRequest, res: ProxyResponse, body?: Buffer | null, peer?: ClientPeer) => void;

interface Reply {
  headers: http2.IncomingHttpHeaders;
  rawHeaders: string[];
  body: Buffer;
  trailers: boolean;
}

describe('HTTP/2 fast path', () => {
  const cert = selfSigned(tempDir(), 'h2-fast', ['h2.example.test']);
  let server: http2.Http2SecureServer;
  let port = 0;
  let session: http2.ClientHttp2Session;
  let taken: string[] = []; // 'fast' or 'node', one per request
  let handler: Handler;
  const echo: Handler = (req, res) => {
    let body = 0;
    const answer = () => res.end(`${req.method} ${req.url} body=${body}`);
    if (req instanceof Http2Request) return answer();
    (req as IncomingMessage).on('data', (d: Buffer) => (body += d.length)).on('end', answer);
  };

  before(async () => {
    server = http2.createSecureServer({ key: cert.keyPem, cert: cert.certPem, allowHTTP1: true });
    const onRequest: Handler = (req, res, body, peer) => {
      taken.push(req instanceof Http2Request ? 'fast' : 'node');
      handler(req, res, body, peer);
    };
    server.on('request', onRequest as never);
    takeHttp2Streams(server, onRequest);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
  });
  after(async () => {
    session?.destroy();
    await new Promise((resolve) => server.close(resolve));
  });
  beforeEach(async () => {
    taken = [];
    handler = echo;
    if (session === undefined || session.destroyed) session = await connect();
  });

  function connect(settings: http2.Settings = {}): Promise<http2.ClientHttp2Session> {
    return new Promise((resolve, reject) => {
      const s = http2.connect(`https://127.0.0.1:${port}`, { servername: 'h2.example.test', ca: cert.certPem, settings });
      s.once('connect', () => resolve(s));
      s.once('error', reject);
    });
  }

  function fetch(headers: http2.OutgoingHttpHeaders, body?: string, on: http2.ClientHttp2Session = session): Promise<Reply> {
    return new Promise((resolve, reject) => {
      const stream = on.request({ ':authority': 'h2.example.test', ...headers }, { endStream: body === undefined });
      let reply: Pick<Reply, 'headers' | 'rawHeaders'>;
      let trailers = false;
      const chunks: Buffer[] = [];
      stream.on('response', (h, _flags, raw) => (reply = { headers: h, rawHeaders: raw }));
      stream.on('trailers', () => (trailers = true));
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => resolve({ ...reply, body: Buffer.concat(chunks), trailers }));
      stream.on('error', reject);
      if (body !== undefined) stream.end(body);
    });
  }

  test('a GET is taken: the pseudo-headers are there, end() gives Content-Length and Date, and no trailers follow', async () => {
    let seen: ProxyRequest | undefined;
    let seenPeer: ClientPeer | undefined;
    handler = (req, res, _body, peer) => {
      seen = req;
      seenPeer = peer;
      echo(req, res);
    };
    const r = await fetch({ ':path': '/a?x=1', 'x-custom': 'c' });
    assert.deepEqual(taken, ['fast']);
    assert.equal(r.headers[':status'], 200);
    assert.equal(r.headers['content-length'], '17');
    assert.match(String(r.headers.date), /^\w{3}, \d\d \w{3} \d{4} \d\d:\d\d:\d\d GMT$/);
    assert.equal(r.body.toString(), 'GET /a?x=1 body=0');
    assert.equal(r.trailers, false);
    assert.equal(seen!.httpVersion, '2.0');
    assert.equal(seen!.headers[':authority'], 'h2.example.test');
    assert.equal(seen!.headers['x-custom'], 'c');
    assert.ok(seen!.rawHeaders.includes(':method') && seen!.rawHeaders.includes('x-custom'), String(seen!.rawHeaders));
    assert.equal(seenPeer!.remoteAddress, '127.0.0.1');
  });

  test('a request with a body, or a declared Content-Length, goes to the compat layer with its body', async () => {
    const post = await fetch({ ':path': '/p', ':method': 'POST' }, 'hello');
    const empty = await fetch({ ':path': '/e', ':method': 'POST', 'content-length': '0' }, '');
    const get = await fetch({ ':path': '/g' });
    assert.deepEqual(taken, ['node', 'node', 'fast']);
    assert.equal(post.body.toString(), 'POST /p body=5');
    assert.equal(empty.body.toString(), 'POST /e body=0');
    assert.equal(get.body.toString(), 'GET /g body=0');
  });

  test('writeHead: names go out lower-cased, repeated ones kept, connection-specific ones dropped', async () => {
    handler = (_req, res) => {
      res.writeHead(201, [
        'X-Both', 'from writeHead',
        'Set-Cookie', 'a=1', 'Set-Cookie', 'b=2',
        'Connection', 'close', 'Keep-Alive', 'timeout=5', 'Transfer-Encoding', 'chunked',
        'Upgrade', 'h2c', 'Proxy-Connection', 'keep-alive',
        'Content-Type', 'text/plain',
      ] as never);
      res.end('made');
    };
    const r = await fetch({ ':path': '/h' });
    assert.equal(r.headers[':status'], 201);
    assert.equal(r.headers['x-both'], 'from writeHead');
    assert.deepEqual(r.headers['set-cookie'], ['a=1', 'b=2']);
    for (const name of ['connection', 'keep-alive', 'transfer-encoding', 'upgrade', 'proxy-connection']) assert.equal(r.headers[name], undefined, name);
    assert.equal(r.headers['content-type'], 'text/plain');
    assert.equal(r.body.toString(), 'made');
  });

  test('HEAD gets the head of a GET and no body; a 204 sends no body even when given one', async () => {
    handler = (req, res) => (req.url === '/none' ? res.writeHead(204, []).end('ignored') : res.end('twelve bytes'));
    const head = await fetch({ ':path': '/h', ':method': 'HEAD' });
    const none = await fetch({ ':path': '/none' });
    assert.deepEqual(taken, ['fast', 'fast']);
    assert.equal(head.headers['content-length'], '12');
    assert.equal(head.body.length, 0);
    assert.equal(none.headers[':status'], 204);
    assert.equal(none.body.length, 0);
  });

  test('a streamed body reaches the client chunk by chunk, before the response ends', async () => {
    let res!: ProxyResponse;
    handler = (_req, r) => {
      res = r;
      r.writeHead(200, ['Content-Type', 'text/event-stream'] as never);
      r.write('data: one\n\n');
    };
    const stream = session.request({ ':authority': 'h2.example.test', ':path': '/events' });
    const first = await new Promise<string>((resolve) => stream.once('data', (c: Buffer) => resolve(c.toString())));
    assert.equal(first, 'data: one\n\n');
    const rest: Buffer[] = [];
    stream.on('data', (c: Buffer) => rest.push(c));
    const ended = new Promise((resolve) => stream.on('end', resolve));
    res.write('data: two\n\n');
    res.end();
    await ended;
    assert.equal(Buffer.concat(rest).toString(), 'data: two\n\n');
  });

  test('write() says when to wait, "drain" comes when the client reads, and every byte arrives in order', async () => {
    const slow = await connect({ initialWindowSize: 16 * 1024 });
    const chunk = Buffer.alloc(64 * 1024);
    let refused = 0;
    let drained = 0;
    let written = 0;
    handler = (_req, res) => {
      res.writeHead(200, ['Content-Length', String(8 * chunk.length)] as never);
      const pump = () => {
        while (written < 8) {
          chunk.fill(written);
          written++;
          const last = written === 8;
          if (last) return void res.end(Buffer.from(chunk));
          if (!res.write(Buffer.from(chunk))) {
            refused++;
            res.once('drain', () => {
              drained++;
              pump();
            });
            return;
          }
        }
      };
      pump();
    };
    const r = await fetch({ ':path': '/big' }, undefined, slow);
    slow.close();
    assert.ok(refused > 0, 'the 16 KiB window must push back');
    assert.equal(drained, refused);
    assert.equal(r.body.length, 8 * chunk.length);
    for (let i = 0; i < 8; i++) assert.equal(r.body[i * chunk.length + 100], i, `chunk ${i} in order`);
  });

  test('a complete response emits "finish" then "close", with writableFinished', async () => {
    const events: string[] = [];
    let res!: ProxyResponse;
    handler = (_req, r) => {
      res = r;
      (r as Http2Response).on('finish', () => events.push('finish'));
      r.on('close', () => events.push(`close finished=${r.writableFinished}`));
      r.end('done');
    };
    await fetch({ ':path': '/done' });
    await waitFor(() => events.length === 2);
    assert.deepEqual(events, ['finish', 'close finished=true']);
    assert.equal(res.destroyed, false);
  });

  // Without a Content-Length the client has only the reset to tell a cut
  // response from a whole one.
  test('destroy() mid-response resets that stream with INTERNAL_ERROR; the session and its other streams go on', async () => {
    const closed: boolean[] = [];
    handler = (req, res) => {
      res.on('close', () => closed.push(res.writableFinished));
      if (req.url === '/cut') {
        res.writeHead(200, ['Content-Type', 'text/plain'] as never);
        res.write('partial');
        setTimeout(() => res.destroy(), 20);
      } else setTimeout(() => res.end('whole'), 60);
    };
    const cut = fetch({ ':path': '/cut' });
    const other = fetch({ ':path': '/other' });
    const err = await cut.then(() => null, (e: Error & { code?: string }) => e);
    assert.ok(err !== null, 'a cut response must not look complete');
    assert.equal(err.code, 'ERR_HTTP2_STREAM_ERROR');
    assert.match(err.message, /NGHTTP2_INTERNAL_ERROR/);
    assert.equal((await other).body.toString(), 'whole');
    assert.equal(session.destroyed, false);
    await waitFor(() => closed.length === 2);
    assert.deepEqual(closed.sort(), [false, true]);
  });

  test('a client that resets its stream, or drops the connection, leaves an unfinished response that closes quietly', async () => {
    const results: string[] = [];
    handler = (req, res, _body, peer) => {
      res.writeHead(200, ['Content-Type', 'text/plain'] as never);
      res.write('first');
      res.on('close', () => {
        // The request's address stays readable after its session is gone.
        results.push(`${req.url} finished=${res.writableFinished} destroyed=${res.destroyed} from=${peer?.remoteAddress}`);
        // Writing to a closed response is refused, not thrown.
        assert.equal(res.write('late'), false);
        res.end('later');
      });
    };
    const reset = session.request({ ':authority': 'h2.example.test', ':path': '/reset' });
    await new Promise((resolve) => reset.once('data', resolve));
    reset.close(http2.constants.NGHTTP2_CANCEL);
    const other = await connect();
    const dropped = other.request({ ':authority': 'h2.example.test', ':path': '/dropped' });
    dropped.on('error', () => {});
    await new Promise((resolve) => dropped.once('data', resolve));
    other.destroy();
    await waitFor(() => results.length === 2);
    assert.deepEqual(results.sort(), [
      '/dropped finished=false destroyed=true from=127.0.0.1',
      '/reset finished=false destroyed=true from=127.0.0.1',
    ]);
  });
});
