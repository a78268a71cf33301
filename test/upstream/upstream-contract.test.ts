// One contract for both upstream clients (src/upstream/upstream-client.ts):
// our own pool on Node's native parser, and undici's Pool, the fallback when
// Node's internals are not usable. The same cases run against each, on real
// apps on 127.0.0.1; what only one of them does is asserted for that one,
// with the reason beside it.
import assert from 'node:assert/strict';
import http from 'node:http';
import type { Socket } from 'node:net';
import { Readable } from 'node:stream';
import { after, describe, test } from 'node:test';
import { statusForError } from '../../src/upstream/errors.ts';
import type { UpstreamController } from '../../src/upstream/exchange.ts';
import { Http1Pool } from '../../src/upstream/http1-pool.ts';
import { UndiciClient } from '../../src/upstream/undici-client.ts';
import type { UpstreamClient } from '../../src/upstream/upstream-client.ts';
import { freePort } from '../helpers/free-port.ts';
import { closeAll, closeLater, collect, echoApp, listen, rawApp, request, send, sleep, tcpApp, waitFor } from './upstream-harness.ts';

after(closeAll);

interface ClientKind {
  name: 'native' | 'undici';
  // maxBusy: how many young requests at once; patienceMs: how long one stays young.
  make(port: number, limits?: { maxBusy?: number; patienceMs?: number; rampInitial?: number }): UpstreamClient;
}

const KINDS: ClientKind[] = [
  {
    name: 'native',
    make: (port, { maxBusy = 10, patienceMs = 10_000, rampInitial = 4 } = {}) =>
      closeLater(
        new Http1Pool('127.0.0.1', port, {
          maxBusy,
          rampInitial,
          rampThreshold: 100,
          patienceMs,
          maxIdle: 10,
          keepAliveTimeoutMs: 4000,
          maxHeaderSize: 65536,
          refusedRetryMs: 200,
          retryBackoffMs: 10,
        }),
      ),
  },
  {
    name: 'undici',
    make: (port, { maxBusy = 10, patienceMs = 10_000, rampInitial = 4 } = {}) =>
      closeLater(
        new UndiciClient('127.0.0.1', port, { maxBusy, rampInitial, rampThreshold: 100, patienceMs, keepAliveTimeoutMs: 4000, connectTimeoutMs: 10_000, maxHeaderSize: 65536 }),
      ),
  },
];

const OK = 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok';

// undici takes a connection back a full event-loop turn after its response
// ends (in case the app closes it despite keep-alive); a request sent sooner
// gets another connection. Ours takes it back at once.
const nextTurn = () => new Promise((r) => setImmediate(r));

// The header lines an app received, names lower-cased, without the
// Connection header a client adds of its own accord.
function received(rawHeaders: string[]): string[][] {
  const out: string[][] = [];
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const name = rawHeaders[i]!.toLowerCase();
    if (name !== 'connection') out.push([name, rawHeaders[i + 1]!]);
  }
  return out;
}

function contract(kind: ClientKind): void {
  const client = kind.make;

  test('GET: the request goes as given; status, lower-cased headers and body come back', async () => {
    const app = await echoApp();
    const r = await send(client(app.port), request('/a/b?x=1&y=%20', ['Host', 'app.test', 'X-Custom', 'v1', 'x-custom', 'v2']));
    assert.equal(r.error, null);
    assert.deepEqual(r.events, ['start', 'head 200', 'end']);
    assert.deepEqual(r.headers['set-cookie'], ['a=1', 'b=2']); // repeated headers as an array
    assert.equal(typeof r.headers['content-length'], 'string');
    const seen = JSON.parse(r.body);
    assert.deepEqual([seen.method, seen.url], ['GET', '/a/b?x=1&y=%20']);
    // No Content-Length on a bodiless GET; both values of a repeated header.
    assert.deepEqual(received(seen.headers), [['host', 'app.test'], ['x-custom', 'v1'], ['x-custom', 'v2']]);
  });

  test('HEAD, 204 and 304 have no body whatever their headers say', async () => {
    const app = await rawApp((_n, s, head) => {
      if (head.startsWith('HEAD')) s.write('HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n');
      else if (head.startsWith('GET /204')) s.write('HTTP/1.1 204 No Content\r\n\r\n');
      else s.write('HTTP/1.1 304 Not Modified\r\nContent-Length: 5\r\n\r\n');
    });
    const c = client(app.port);
    const head = await send(c, request('/', ['Host', 'a'], null, 'HEAD'));
    assert.deepEqual([head.error, head.status, head.body, head.headers['content-length']], [null, 200, '', '100']);
    const r204 = await send(c, request('/204'));
    const r304 = await send(c, request('/304'));
    assert.deepEqual([r204.status, r204.body, r304.status, r304.body], [204, '', 304, '']);
  });

  test('response bodies: a fixed length, chunked, and one that runs until the connection closes', async () => {
    const app = await rawApp((_n, s, head) => {
      if (head.startsWith('GET /fixed')) s.write('HTTP/1.1 200 OK\r\nContent-Length: 11\r\n\r\nhello world');
      else if (head.startsWith('GET /chunked')) s.write('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n');
      else s.end('HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nuntil the end');
    });
    const c = client(app.port);
    for (const [path, body] of [['/fixed', 'hello world'], ['/chunked', 'hello world'], ['/close', 'until the end']] as const) {
      const r = await send(c, request(path));
      assert.deepEqual([r.error, r.status, r.body], [null, 200, body], path);
    }
  });

  test('request bodies: a whole Buffer, a stream with its Content-Length, a stream of unknown length (sent chunked)', async () => {
    const app = await echoApp();
    const c = client(app.port);
    const whole = await send(c, request('/', ['Host', 'a', 'Content-Length', '5'], Buffer.from('whole'), 'POST'));
    assert.equal(JSON.parse(whole.body).body, 'whole');
    await nextTurn();
    const sized = await send(c, request('/', ['Host', 'a', 'Content-Length', '11'], Readable.from([Buffer.from('hello '), Buffer.from('world')]), 'POST'));
    assert.equal(JSON.parse(sized.body).body, 'hello world');
    await nextTurn();
    const big = Buffer.alloc(3 * 1024 * 1024, 'z');
    const chunked = await send(c, request('/', ['Host', 'a'], Readable.from([big, Buffer.from('!')]), 'PUT'));
    const seen = JSON.parse(chunked.body);
    assert.equal(seen.body.length, big.length + 1);
    assert.ok(received(seen.headers).some(([n, v]) => n === 'transfer-encoding' && v === 'chunked'));
    assert.equal(app.connections(), 1); // each framing leaves the connection reusable
  });

  test('a node:http request as the body goes whole, and keeps its socket: the response goes out on it', async () => {
    const app = await echoApp();
    const c = client(app.port);
    const sockets: (Socket | null)[] = [];
    const front = http.createServer((req, res) => {
      const cl = req.headers['content-length'];
      const headers = cl === undefined ? ['Host', 'a'] : ['Host', 'a', 'Content-Length', cl];
      const { handler, done } = collect();
      c.dispatch(request('/', headers, req, 'POST'), handler, 5000);
      void done.then((r) => {
        sockets.push(req.socket);
        res.end(r.error === null ? JSON.parse(r.body).body : `failed: ${r.error.message}`);
      });
    });
    const port = await listen(front);
    const agent = new http.Agent({ keepAlive: true });
    const post = (body: string, chunked: boolean) =>
      new Promise<string>((resolve, reject) => {
        const req = http.request({ port, host: '127.0.0.1', method: 'POST', agent, headers: chunked ? {} : { 'content-length': body.length } }, (res) => {
          let text = '';
          res.setEncoding('latin1').on('data', (d: string) => (text += d)).on('end', () => resolve(text));
        });
        req.on('error', reject);
        if (chunked) req.write(body.slice(0, 3));
        req.end(chunked ? body.slice(3) : body);
      });
    assert.equal(await post('sized body', false), 'sized body');
    assert.equal(await post('chunked body', true), 'chunked body');
    assert.equal(await post('again', false), 'again'); // on the same client connection
    agent.destroy();
    assert.equal(sockets.length, 3);
    assert.ok(sockets.every((s) => s !== null));
  });

  test('a request body longer than its Content-Length fails with KN_REQUEST_LENGTH_MISMATCH (400)', async () => {
    const app = await echoApp();
    const r = await send(client(app.port), request('/', ['Host', 'a', 'Content-Length', '3'], Readable.from([Buffer.from('too long')]), 'POST'));
    assert.equal(r.error?.code, 'KN_REQUEST_LENGTH_MISMATCH');
    assert.equal(statusForError(r.error), 400);
  });

  test('a request body that ends early (its stream destroyed) fails the exchange with KN_BODY_ABORTED', async () => {
    const app = await echoApp();
    const body = new Readable({ read() {} });
    body.push('abc');
    setTimeout(() => body.destroy(), 50);
    const r = await send(client(app.port), request('/', ['Host', 'a', 'Content-Length', '10'], body, 'POST'));
    assert.equal(r.error?.code, 'KN_BODY_ABORTED');
    assert.equal(statusForError(r.error), 502);
  });

  test('request body back-pressure: a stream is read only as fast as the app takes it', async () => {
    const total = 64 * 1024 * 1024;
    const piece = Buffer.alloc(64 * 1024, 'p');
    let produced = 0;
    const body = new Readable({
      read() {
        if (produced >= total) return void this.push(null);
        produced += piece.length;
        this.push(piece);
      },
    });
    let appSocket: Socket | null = null;
    const port = await tcpApp((socket) => {
      appSocket = socket;
      socket.pause(); // an app busy elsewhere: nothing read yet
      let head = '';
      let bodyBytes = -1; // -1: the head is still coming
      socket.on('data', (d: Buffer) => {
        if (bodyBytes === -1) {
          head += d.toString('latin1');
          const end = head.indexOf('\r\n\r\n');
          if (end === -1) return;
          bodyBytes = head.length - end - 4;
        } else bodyBytes += d.length;
        if (bodyBytes === total) socket.write(OK);
      });
    });
    const result = send(client(port), request('/', ['Host', 'a', 'Content-Length', String(total)], body, 'POST'));
    await waitFor(() => appSocket !== null);
    await sleep(300);
    assert.ok(produced < total / 2, `only what the socket buffers hold is read (${produced} bytes)`);
    appSocket!.resume(); // the app reads now: the rest flows
    const r = await result;
    assert.deepEqual([r.error, r.status], [null, 200]);
    assert.equal(produced, total);
  });

  test('response back-pressure: pause() stops the response until resume()', async () => {
    const app = await rawApp((_n, s) => {
      s.write('HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nfirst');
      setTimeout(() => s.write('after'), 50);
    });
    let controller: UpstreamController | undefined;
    const { handler, done } = collect((c) => {
      controller = c;
      c.pause();
    });
    client(app.port).dispatch(request(), handler, 5000);
    await waitFor(() => controller !== undefined);
    let ended = false;
    void done.then(() => (ended = true));
    await sleep(200);
    assert.equal(ended, false);
    controller!.resume();
    assert.equal((await done).body, 'firstafter');
  });

  test('a handler that pauses for every piece and resumes a moment later gets the whole body, in non-empty pieces', async () => {
    const body = Buffer.alloc(4 * 1024 * 1024, 'abcdefgh');
    const port = await tcpApp((socket) => socket.once('data', () => socket.write(Buffer.concat([Buffer.from(`HTTP/1.1 200 OK\r\nContent-Length: ${body.length}\r\n\r\n`), body]))));
    const { handler, done } = collect();
    let empty = 0;
    const onData = handler.onResponseData;
    handler.onResponseData = (c, chunk) => {
      onData(c, chunk);
      if (chunk.length === 0) return void empty++; // pausing on it too could go round forever
      c.pause(); // as a handler spilling each piece to disk does
      void Promise.resolve().then(() => c.resume());
    };
    client(port).dispatch(request(), handler, 5000);
    const r = await done;
    assert.deepEqual([r.error, r.body.length, empty], [null, body.length, 0]);
  });

  test('1xx interim responses are consumed; the handler sees the final one', async () => {
    const app = await rawApp((_n, s) => s.write(`HTTP/1.1 103 Early Hints\r\nLink: </a.css>\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </b.js>\r\n\r\n${OK}`));
    const r = await send(client(app.port), request());
    assert.deepEqual(r.events, ['start', 'head 200', 'end']);
    assert.deepEqual([r.body, r.headers.link], ['ok', undefined]);
  });

  test('no response head within the timeout: KN_UPSTREAM_TIMEOUT, a 504', async () => {
    let closed = false;
    const app = await rawApp((_n, s) => s.on('close', () => (closed = true)));
    const r = await send(client(app.port), request(), 150);
    assert.equal(r.error?.code, 'KN_UPSTREAM_TIMEOUT');
    assert.equal(statusForError(r.error), 504);
    await waitFor(() => closed); // the connection is dropped
  });

  test('the timeout is the wait for the head only: a slow body is not cut', async () => {
    const app = await rawApp((_n, s) => {
      s.write('HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nsl');
      setTimeout(() => s.write('ow'), 300);
    });
    const r = await send(client(app.port), request(), 100);
    assert.deepEqual([r.error, r.body], [null, 'slow']);
  });

  test('a refused connection fails with ECONNREFUSED, a 502', async () => {
    const r = await send(client(await freePort()), request()); // a port nothing listens on
    assert.equal(r.error?.code, 'ECONNREFUSED');
    assert.equal(statusForError(r.error), 502);
  });

  test('an app that resets or closes mid-body fails the exchange after its head (502)', async () => {
    const app = await rawApp((_n, s, head) => {
      s.write('HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly part');
      setTimeout(() => (head.startsWith('GET /reset') ? s.resetAndDestroy() : s.end()), 20);
    });
    const c = client(app.port);
    for (const path of ['/reset', '/close']) {
      const r = await send(c, request(path));
      assert.deepEqual(r.events, ['start', 'head 200', 'error'], path);
      assert.equal(r.body, 'only part');
      assert.equal(statusForError(r.error), 502);
    }
  });

  // The parser's HPE_* codes also name a client's malformed body (a 400); from
  // an upstream they are the app's failure, so they come wrapped.
  test('malformed responses and oversized heads fail as KN_UPSTREAM_BAD_RESPONSE, a 502', async () => {
    for (const reply of [
      'HTTP/1.1 200 OK\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n',
      'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n',
      `HTTP/1.1 200 OK\r\nX-Big: ${'b'.repeat(100_000)}\r\nContent-Length: 0\r\n\r\n`,
    ]) {
      const app = await rawApp((_n, s) => s.write(reply));
      const r = await send(client(app.port), request());
      assert.equal(r.error?.code, 'KN_UPSTREAM_BAD_RESPONSE', reply.slice(0, 60));
      assert.equal(statusForError(r.error), 502);
    }
  });

  test('a response with bare-LF line endings is accepted, as Go and nginx accept it', async () => {
    const app = await rawApp((_n, s) => s.write('HTTP/1.1 200 OK\nContent-Length: 2\nX-Bare: lf\n\nok'));
    const r = await send(client(app.port), request());
    assert.deepEqual([r.error, r.status, r.headers['x-bare'], r.body], [null, 200, 'lf', 'ok']);
  });

  test('abort() from the handler ends the exchange with its reason and closes the connection', async () => {
    let closed = false;
    const app = await rawApp((_n, s) => {
      s.on('close', () => (closed = true));
      s.write('HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nfirst');
    });
    const reason = Object.assign(new Error('client gone'), { code: 'KN_CLIENT_GONE' });
    const r = await send(client(app.port), request(), 5000, (c) => c.abort(reason));
    assert.deepEqual(r.events, ['start', 'head 200', 'error']);
    assert.equal(r.error, reason);
    assert.equal(r.body, ''); // nothing after the abort
    await waitFor(() => closed);
  });

  test('abort() while the request waits for a connection: it fails at once and never reaches the app', async () => {
    const held: Socket[] = [];
    const app = await rawApp((_n, s) => held.push(s));
    const c = client(app.port, { maxBusy: 1 });
    const first = send(c, request('/first'));
    await waitFor(() => held.length === 1);
    let controller: UpstreamController | undefined;
    const { handler, done } = collect();
    const onRequestStart = handler.onRequestStart;
    handler.onRequestStart = (ctl) => {
      controller = ctl;
      onRequestStart(ctl);
    };
    c.dispatch(request('/second'), handler, 5000);
    const reason = new Error('cancelled');
    controller!.abort(reason);
    assert.equal((await done).error, reason);
    held[0]!.write(OK);
    assert.equal((await first).status, 200);
    await sleep(100);
    assert.equal(app.requests(), 1);
  });

  test('a handler that throws fails its exchange, not the process', async () => {
    const app = await rawApp((_n, s) => s.write(OK));
    const c = client(app.port);
    const boom = new Error('handler bug');
    const r = await send(c, request(), 5000, () => {
      throw boom;
    });
    assert.equal(r.error, boom);
    assert.equal((await send(c, request())).status, 200); // the client goes on
  });

  test('keep-alive: sequential requests share one connection', async () => {
    const app = await echoApp();
    const c = client(app.port);
    for (let i = 0; i < 5; i++) {
      assert.equal((await send(c, request())).status, 200);
      await nextTurn();
    }
    assert.equal(app.connections(), 1);
    assert.equal(c.openConnections, 1);
  });

  test('at most maxBusy young requests at once; the rest wait their turn', async () => {
    const held: Socket[] = [];
    const app = await rawApp((_n, s) => held.push(s));
    const c = client(app.port, { maxBusy: 2 });
    const results = [send(c, request()), send(c, request()), send(c, request())];
    await waitFor(() => held.length === 2);
    await sleep(100);
    assert.equal(app.requests(), 2);
    for (const s of held.splice(0)) s.write('HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n');
    await waitFor(() => held.length === 1); // the third goes out once one is free
    held[0]!.write('HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n');
    assert.deepEqual((await Promise.all(results)).map((r) => r.status), [200, 200, 200]);
  });

  test('a request that has run for patienceMs no longer counts: 30 held open do not hold up the next', async () => {
    const held: Socket[] = [];
    // Server-sent event streams: a head at once, then nothing for now.
    const app = await rawApp((_n, s, head) => {
      if (!head.startsWith('GET /hold')) return void s.write(OK);
      held.push(s);
      s.write('HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n');
    });
    const c = client(app.port, { maxBusy: 5, patienceMs: 50 });
    const streams = Array.from({ length: 30 }, () => send(c, request('/hold')));
    await waitFor(() => held.length === 30, 10_000);
    const r = await send(c, request('/fast'));
    assert.deepEqual([r.error, r.status, r.body], [null, 200, 'ok']);
    for (const s of held.splice(0)) s.end('0\r\n\r\n');
    await Promise.all(streams);
  });

  test('a ramp: rampInitial unanswered at a time, one more for each the app answers', async () => {
    const held: Socket[] = [];
    const app = await rawApp((_n, s) => held.push(s));
    const c = client(app.port, { rampInitial: 2 });
    const results = Array.from({ length: 8 }, () => send(c, request()));
    await waitFor(() => held.length === 2);
    await sleep(100);
    assert.equal(app.requests(), 2, 'no more until the app answers');
    // A head (the body still to come) is an answer: two more places, and two more.
    for (const s of held) s.write('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n');
    await waitFor(() => app.requests() === 6);
    await sleep(50);
    assert.equal(app.requests(), 6);
    // (Ours also sends the rest at once on a connection an answered request
    // has freed: http1-pool.test.ts. undici picks the connection, so a
    // request is counted unanswered until it is.)
    for (const s of held.slice(2)) s.write('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n');
    await waitFor(() => app.requests() === 8);
    for (const s of held.slice(0, 6)) s.write('ok');
    for (const s of held.slice(6)) s.write(OK);
    assert.deepEqual((await Promise.all(results)).map((r) => r.status), [200, 200, 200, 200, 200, 200, 200, 200]);
  });

  test('a request waits for a connection for at most its timeout: KN_UPSTREAM_CONNECT_WAIT, a 504', async () => {
    const held: Socket[] = [];
    const app = await rawApp((_n, s) => held.push(s));
    const c = client(app.port, { maxBusy: 1 });
    const first = send(c, request(), 5000);
    await waitFor(() => held.length === 1);
    const second = await send(c, request(), 100);
    assert.equal(second.error?.code, 'KN_UPSTREAM_CONNECT_WAIT');
    assert.equal(statusForError(second.error), 504);
    held[0]!.write(OK);
    assert.equal((await first).status, 200);
    assert.equal(app.connections(), 1);
  });

  test('close() fails waiting requests, lets the busy one finish, and refuses new ones', async () => {
    const held: Socket[] = [];
    const app = await rawApp((_n, s) => held.push(s));
    const c = client(app.port, { maxBusy: 1 });
    const busy = send(c, request());
    await waitFor(() => held.length === 1);
    const waiting = send(c, request());
    await sleep(20);
    c.close();
    assert.equal((await waiting).error?.code, 'KN_POOL_CLOSED');
    held[0]!.write(OK);
    assert.deepEqual([(await busy).error, (await busy).status], [null, 200]);
    assert.equal((await send(c, request())).error?.code, 'KN_POOL_CLOSED');
  });

  if (kind.name === 'native') {
    // Go's Transport (kamal-proxy's) resends these; undici fails them
    // (UND_ERR_SOCKET, a 502), and only avoids the race by closing idle
    // connections before the app's Keep-Alive timeout.
    test('native only: a GET on a kept-alive connection the app closed is resent once on a fresh one', async () => {
      const app = await rawApp((n, s) => (n === 1 ? s.write(OK) : s.destroy()));
      const c = client(app.port);
      assert.equal((await send(c, request())).status, 200);
      const r = await send(c, request());
      assert.deepEqual([r.error, r.status, r.body], [null, 200, 'ok']);
      assert.equal(app.connections(), 2);
    });

    // An app restarting (or waking) refuses for a moment; undici fails the
    // request at the first refusal.
    test('native only: a refused connect is tried again: an app that starts listening a moment later gets the request', async () => {
      const port = await freePort();
      const c = closeLater(
        new Http1Pool('127.0.0.1', port, {
          maxBusy: 10,
          rampInitial: 4,
          rampThreshold: 100,
          patienceMs: 10_000,
          maxIdle: 10,
          keepAliveTimeoutMs: 4000,
          maxHeaderSize: 65536,
          refusedRetryMs: 5_000,
          retryBackoffMs: 10,
        }),
      );
      const result = send(c, request());
      await sleep(150); // refused a few times meanwhile
      await listen(http.createServer((_req, res) => res.end('late')), port);
      const r = await result;
      assert.deepEqual([r.error, r.status, r.body], [null, 200, 'late']);
    });

    // undici never sends Expect, and takes an unasked-for 100 Continue as a
    // malformed response; ours skips it like any other 1xx.
    test('native only: an unasked-for 100 Continue is skipped like any 1xx', async () => {
      const app = await rawApp((_n, s) => s.write(`HTTP/1.1 100 Continue\r\n\r\n${OK}`));
      const r = await send(client(app.port), request());
      assert.deepEqual([r.error, r.status, r.body], [null, 200, 'ok']);
    });
  }
}

for (const kind of KINDS) describe(`upstream client contract: ${kind.name}`, () => contract(kind));
