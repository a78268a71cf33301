// The upstream HTTP/1.1 client against real servers on 127.0.0.1: node:http
// where a well-behaved app is enough, raw TCP where the test needs exact
// bytes or misbehaviour (stale keep-alive, early close, bad framing).
import assert from 'node:assert/strict';
import http from 'node:http';
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { Readable } from 'node:stream';
import { after, describe, test } from 'node:test';
import type { UpstreamController, UpstreamRequest } from '../../src/upstream/exchange.ts';
import { Http1Pool, type Http1PoolOptions } from '../../src/upstream/http1-pool.ts';
import { freePort } from '../helpers/free-port.ts';
import { collect, type Outcome } from './upstream-harness.ts';

const pools: Http1Pool[] = [];
const servers: (Server | http.Server)[] = [];
const rawSockets = new Set<Socket>();
// Also after a failed test: an open socket would keep the file alive.
after(() => {
  for (const p of pools) p.close();
  for (const s of rawSockets) s.destroy();
  for (const s of servers) {
    (s as http.Server).closeAllConnections?.();
    s.close();
  }
});

function pool(port: number, options: Partial<Http1PoolOptions> = {}): Http1Pool {
  const p = new Http1Pool('127.0.0.1', port, {
    maxBusy: 10,
    rampInitial: 4,
    rampThreshold: 100,
    patienceMs: 10_000,
    maxIdle: 10,
    keepAliveTimeoutMs: 4000,
    maxHeaderSize: 65536,
    refusedRetryMs: 200,
    retryBackoffMs: 10,
    ...options,
  });
  pools.push(p);
  return p;
}

function get(path = '/', headers: string[] = ['Host', 'app.test'], body: Readable | null = null, method = 'GET'): UpstreamRequest {
  return { path, method, headers, body };
}

function send(p: Http1Pool, req: UpstreamRequest, timeoutMs = 5000, onStart?: (c: UpstreamController) => void): Promise<Outcome> {
  const { handler, done } = collect(onStart);
  p.dispatch(req, handler, timeoutMs);
  return done;
}

async function listen<S extends Server | http.Server>(server: S): Promise<number> {
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return (server.address() as AddressInfo).port;
}

// A node:http app that echoes what it received, counting connections.
async function echoApp(): Promise<{ port: number; connections: () => number; closed: () => number }> {
  let connections = 0;
  let closed = 0;
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString();
      res.setHeader('Set-Cookie', ['a=1', 'b=2']);
      res.end(JSON.stringify({ method: req.method, url: req.url, headers: req.rawHeaders, body }));
    });
  });
  server.keepAliveTimeout = 10_000;
  server.on('connection', (s: Socket) => {
    connections++;
    s.on('close', () => closed++);
  });
  const port = await listen(server);
  return { port, connections: () => connections, closed: () => closed };
}

// A TCP server that answers each request head with `reply(n, socket)`, n
// counting requests on that connection from 1.
async function rawApp(reply: (n: number, socket: Socket, head: string) => void): Promise<{ port: number; connections: () => number }> {
  let connections = 0;
  const server = createServer((socket) => {
    connections++;
    rawSockets.add(socket);
    let n = 0;
    let buffered = '';
    socket.on('error', () => {});
    socket.on('data', (d) => {
      buffered += d.toString('latin1');
      let end: number;
      while ((end = buffered.indexOf('\r\n\r\n')) !== -1) {
        const head = buffered.slice(0, end);
        buffered = buffered.slice(end + 4);
        reply(++n, socket, head);
      }
    });
  });
  return { port: await listen(server), connections: () => connections };
}

const waitFor = async (check: () => boolean, ms = 2000): Promise<void> => {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
};

describe('upstream HTTP/1.1 pool', () => {
  test('sends the request as given and hands over status, lower-cased headers and body', async () => {
    const app = await echoApp();
    const r = await send(pool(app.port), get('/a/b?x=1&y=%20', ['Host', 'app.test', 'X-Custom', 'v1', 'x-custom', 'v2']));
    assert.equal(r.error, null);
    assert.deepEqual(r.events, ['start', 'head 200', 'end']);
    assert.equal(r.status, 200);
    assert.deepEqual(r.headers['set-cookie'], ['a=1', 'b=2']); // repeated headers as an array
    assert.equal(r.headers['content-type'], undefined);
    const seen = JSON.parse(r.body);
    assert.equal(seen.method, 'GET');
    assert.equal(seen.url, '/a/b?x=1&y=%20');
    assert.deepEqual(seen.headers, ['Host', 'app.test', 'X-Custom', 'v1', 'x-custom', 'v2']); // no Content-Length on a bodiless GET
  });

  test('adds Host (the target address) when the request has none, and Content-Length: 0 to a bodiless POST', async () => {
    const app = await echoApp();
    const p = pool(app.port);
    const r1 = await send(p, get('/', []));
    assert.deepEqual(JSON.parse(r1.body).headers, ['Host', `127.0.0.1:${app.port}`]);
    const r2 = await send(p, get('/', ['Host', 'app.test'], null, 'POST'));
    assert.deepEqual(JSON.parse(r2.body).headers, ['Host', 'app.test', 'Content-Length', '0']);
  });

  test('keeps connections alive: sequential requests share one', async () => {
    const app = await echoApp();
    const p = pool(app.port);
    for (let i = 0; i < 5; i++) assert.equal((await send(p, get())).status, 200);
    assert.equal(app.connections(), 1);
    assert.equal(p.openConnections, 1);
  });

  test('streams a body with its Content-Length, and one of unknown length chunked', async () => {
    const app = await echoApp();
    const p = pool(app.port);
    const sized = await send(p, get('/', ['Host', 'a', 'Content-Length', '11'], Readable.from([Buffer.from('hello '), Buffer.from('world')]), 'POST'));
    assert.equal(JSON.parse(sized.body).body, 'hello world');
    const big = Buffer.alloc(3 * 1024 * 1024, 'z');
    const chunked = await send(p, get('/', ['Host', 'a'], Readable.from([big, Buffer.from('!')]), 'PUT'));
    const seen = JSON.parse(chunked.body);
    assert.equal(seen.body.length, big.length + 1);
    assert.ok(seen.headers.includes('Transfer-Encoding') && seen.headers.includes('chunked'));
    assert.equal(app.connections(), 1); // both framings leave the connection reusable
  });

  test('refuses to send more body than the Content-Length announced', async () => {
    const app = await echoApp();
    const r = await send(pool(app.port), get('/', ['Host', 'a', 'Content-Length', '3'], Readable.from([Buffer.from('too long')]), 'POST'));
    assert.equal(r.error?.code, 'KN_REQUEST_LENGTH_MISMATCH');
  });

  test('a response to HEAD, and 204 and 304, have no body whatever their headers say', async () => {
    const app = await rawApp((n, s, head) => {
      if (head.startsWith('HEAD')) s.write('HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n');
      else if (n === 2) s.write('HTTP/1.1 204 No Content\r\n\r\n');
      else s.write('HTTP/1.1 304 Not Modified\r\nContent-Length: 5\r\n\r\n');
    });
    const p = pool(app.port);
    const head = await send(p, get('/', ['Host', 'a'], null, 'HEAD'));
    assert.deepEqual([head.status, head.body, head.headers['content-length']], [200, '', '100']);
    assert.deepEqual([(await send(p, get())).status, (await send(p, get())).status], [204, 304]);
    assert.equal(app.connections(), 1);
  });

  test('reads chunked bodies, and bodies that run until the connection closes', async () => {
    const app = await rawApp((n, s) => {
      if (n === 1) s.write('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n');
      else s.end('HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nuntil the end');
    });
    const p = pool(app.port);
    assert.equal((await send(p, get())).body, 'hello world');
    const r = await send(p, get());
    assert.deepEqual([r.error, r.body], [null, 'until the end']);
  });

  test('skips 1xx interim responses', async () => {
    const app = await rawApp((_n, s) => s.write('HTTP/1.1 103 Early Hints\r\nLink: </a.css>\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok'));
    const r = await send(pool(app.port), get());
    assert.deepEqual(r.events, ['start', 'head 200', 'end']);
    assert.equal(r.body, 'ok');
  });

  test('Connection: close from the app means a new connection for the next request', async () => {
    const app = await rawApp((_n, s) => s.write('HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok'));
    const p = pool(app.port);
    await send(p, get());
    await send(p, get());
    assert.equal(app.connections(), 2);
  });

  test('a GET on a kept-alive connection the app closed is resent once on a fresh one', async () => {
    // Every connection answers its first request and drops at the second,
    // as an app does when its keep-alive timeout ends as we reuse it.
    const app = await rawApp((n, s) => (n === 1 ? s.write('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok') : s.destroy()));
    const p = pool(app.port);
    assert.equal((await send(p, get())).status, 200);
    const r = await send(p, get());
    assert.deepEqual([r.error, r.status, r.body], [null, 200, 'ok']);
    assert.equal(app.connections(), 2);
    // A POST is not resent: the app may have acted on it.
    const post = await send(p, get('/', ['Host', 'a', 'Content-Length', '1'], Readable.from([Buffer.from('x')]), 'POST'));
    assert.equal(post.error?.code, 'KN_UPSTREAM_CLOSED');
  });

  test('no response head within the timeout fails with KN_UPSTREAM_TIMEOUT and drops the connection', async () => {
    let closed = false;
    const app = await rawApp((_n, s) => s.on('close', () => (closed = true)));
    const r = await send(pool(app.port), get(), 100);
    assert.equal(r.error?.code, 'KN_UPSTREAM_TIMEOUT');
    await waitFor(() => closed);
  });

  test('the timeout covers only the wait for the head, not a slow body', async () => {
    const app = await rawApp((_n, s) => {
      s.write('HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nsl');
      setTimeout(() => s.write('ow'), 250);
    });
    const r = await send(pool(app.port), get(), 100);
    assert.deepEqual([r.error, r.body], [null, 'slow']);
  });

  test('a connection refused for longer than refusedRetryMs fails with its errno code', async () => {
    const r = await send(pool(await freePort()), get()); // a port nothing listens on
    assert.equal(r.error?.code, 'ECONNREFUSED');
  });

  test('a refused connect is tried again: an app that starts listening a moment later gets the request', async () => {
    const port = await freePort();
    const p = pool(port, { refusedRetryMs: 5_000 });
    const result = send(p, get());
    await new Promise((r) => setTimeout(r, 150)); // refused a few times meanwhile
    const app = http.createServer((_req, res) => res.end('late'));
    servers.push(app);
    await new Promise<void>((r) => app.listen(port, '127.0.0.1', r));
    const r = await result;
    assert.deepEqual([r.error, r.status, r.body], [null, 200, 'late']);
  });

  test('an app that closes mid-body fails the exchange after its head', async () => {
    const app = await rawApp((_n, s) => s.end('HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly part'));
    const r = await send(pool(app.port), get());
    assert.deepEqual(r.events, ['start', 'head 200', 'error']);
    assert.equal(r.body, 'only part');
  });

  // The parser's HPE_* codes also name a client's malformed body (a 400);
  // from an upstream they are the app's failure (a 502), so they come wrapped.
  test('malformed responses and oversized heads fail as KN_UPSTREAM_BAD_RESPONSE, naming the parser\'s HPE_ code', async () => {
    const bad = await rawApp((_n, s) => s.write('HTTP/1.1 200 OK\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n'));
    const r = await send(pool(bad.port), get());
    assert.equal(r.error?.code, 'KN_UPSTREAM_BAD_RESPONSE');
    assert.match(r.error?.message ?? '', /HPE_/);
    const big = await rawApp((_n, s) => s.write(`HTTP/1.1 200 OK\r\nX-Big: ${'b'.repeat(5000)}\r\nContent-Length: 0\r\n\r\n`));
    const r2 = await send(pool(big.port, { maxHeaderSize: 1024 }), get());
    assert.equal(r2.error?.code, 'KN_UPSTREAM_BAD_RESPONSE');
    assert.match(r2.error?.message ?? '', /HPE_HEADER_OVERFLOW/);
  });

  test('a handler that throws fails its exchange instead of the process; 101 unasked is an error', async () => {
    const app = await rawApp((_n, s) => s.write('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok'));
    const p = pool(app.port);
    const boom = new Error('handler bug');
    const r = await send(p, get(), 5000, () => {
      throw boom;
    });
    assert.equal(r.error, boom);
    const r2 = await send(p, get());
    assert.equal(r2.status, 200); // the pool goes on, on a new connection
    const app2 = await rawApp((_n, s) => s.write('HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\n\r\n'));
    assert.equal((await send(pool(app2.port), get())).error?.code, 'KN_UNEXPECTED_UPGRADE');
  });

  test('many headers (flushed by the parser before the head completes) all arrive', async () => {
    const lines = Array.from({ length: 80 }, (_, i) => `X-H${i}: v${i}\r\n`).join('');
    const app = await rawApp((_n, s) => s.write(`HTTP/1.1 200 OK\r\n${lines}Content-Length: 0\r\n\r\n`));
    const r = await send(pool(app.port), get());
    assert.equal(r.headers['x-h0'], 'v0');
    assert.equal(r.headers['x-h79'], 'v79');
  });

  test('at most maxBusy connections carry short requests; the rest wait their turn', async () => {
    const held: Socket[] = [];
    const app = await rawApp((_n, s) => held.push(s));
    const p = pool(app.port, { maxBusy: 2 });
    const results = [send(p, get()), send(p, get()), send(p, get())];
    await waitFor(() => held.length === 2);
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(app.connections(), 2);
    for (const s of held.splice(0)) s.write('HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n');
    await waitFor(() => held.length === 1); // the third went out on a freed connection
    held[0]!.write('HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n');
    assert.deepEqual((await Promise.all(results)).map((r) => r.status), [200, 200, 200]);
    assert.equal(app.connections(), 2);
  });

  test('a request that has run for patienceMs no longer counts: 150 held open do not hold up the next', async () => {
    const held: Socket[] = [];
    // Server-sent event streams: a head at once, then nothing for now.
    const app = await rawApp((_n, s, head) => {
      if (!head.startsWith('GET /hold')) return void s.write('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok');
      held.push(s);
      s.write('HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n');
    });
    const p = pool(app.port, { maxBusy: 10, patienceMs: 50 });
    const streams = Array.from({ length: 150 }, () => send(p, get('/hold')));
    await waitFor(() => held.length === 150, 10_000);
    const r = await send(p, get('/fast'));
    assert.deepEqual([r.error, r.status, r.body], [null, 200, 'ok']);
    for (const s of held.splice(0)) s.end('0\r\n\r\n');
    await Promise.all(streams);
  });

  test('idle connections beyond maxIdle are closed', async () => {
    const held: Socket[] = [];
    const app = await rawApp((_n, s) => held.push(s));
    const p = pool(app.port, { maxIdle: 2, rampInitial: 5 });
    const results = Array.from({ length: 5 }, () => send(p, get()));
    await waitFor(() => held.length === 5);
    for (const s of held) s.write('HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n');
    assert.deepEqual((await Promise.all(results)).map((r) => r.status), [200, 200, 200, 200, 200]);
    await waitFor(() => p.openConnections === 2);
  });

  test('new connections ramp up: rampInitial unanswered at a time, one more for each the app answered on', async () => {
    const held: Socket[] = [];
    const app = await rawApp((_n, s) => held.push(s));
    const p = pool(app.port, { rampInitial: 2 });
    const results = Array.from({ length: 8 }, () => send(p, get()));
    await waitFor(() => held.length === 2);
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(app.connections(), 2, 'no more until the app answers');
    // A head (the body still to come) proves a connection: two answered,
    // so two more places in the ramp, and the two freed.
    for (const s of held) s.write('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n');
    await waitFor(() => app.connections() === 6);
    for (const s of held.splice(0, 2)) s.write('ok');
    // The two that finished serve the last two requests; nothing waits.
    await waitFor(() => held.length === 6);
    assert.equal(app.connections(), 6);
    for (const s of held) s.write('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok');
    assert.deepEqual((await Promise.all(results)).map((r) => r.status), [200, 200, 200, 200, 200, 200, 200, 200]);
  });

  test('a connection the app holds unanswered for rampPatienceMs counts as answered, so the ramp goes on', async () => {
    const held: Socket[] = [];
    const app = await rawApp((_n, s) => held.push(s));
    const p = pool(app.port, { rampInitial: 2, patienceMs: 50, maxBusy: 100 });
    const results = Array.from({ length: 40 }, () => send(p, get()));
    await waitFor(() => held.length === 40, 5_000); // long polls: none answered yet
    for (const s of held) s.write('HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n');
    assert.equal((await Promise.all(results)).filter((r) => r.status === 200).length, 40);
  });

  test('a request waits for a connection for at most its timeout: KN_UPSTREAM_CONNECT_WAIT', async () => {
    const held: Socket[] = [];
    const app = await rawApp((_n, s) => held.push(s));
    const p = pool(app.port, { maxBusy: 1 });
    const first = send(p, get(), 5000);
    await waitFor(() => held.length === 1);
    const second = await send(p, get(), 100);
    assert.equal(second.error?.code, 'KN_UPSTREAM_CONNECT_WAIT');
    assert.equal(app.connections(), 1);
    held[0]!.write('HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n');
    assert.equal((await first).status, 200);
  });

  test('the response timeout starts once the whole request is sent: a slow upload is not a slow app', async () => {
    const app = await echoApp();
    async function* slowly() {
      for (let i = 0; i < 5; i++) {
        await new Promise((r) => setTimeout(r, 60));
        yield Buffer.from('x');
      }
    }
    const r = await send(pool(app.port), get('/', ['Host', 'a', 'Content-Length', '5'], Readable.from(slowly()), 'POST'), 100);
    assert.deepEqual([r.error, JSON.parse(r.body).body], [null, 'xxxxx']);
  });

  test('once the request is sent, the timeout applies: an app that read it all and never answers fails', async () => {
    let got = 0;
    const app = await rawApp((_n, s) => s.on('data', (d: Buffer) => (got += d.length)));
    async function* slowly() {
      for (let i = 0; i < 3; i++) {
        await new Promise((r) => setTimeout(r, 60));
        yield Buffer.from('y');
      }
    }
    const r = await send(pool(app.port), get('/', ['Host', 'a', 'Content-Length', '3'], Readable.from(slowly()), 'POST'), 100);
    assert.equal(r.error?.code, 'KN_UPSTREAM_TIMEOUT');
    assert.equal(got, 3, 'the whole body went out first');
  });

  test('abort() ends the exchange with its reason and closes the connection', async () => {
    let closed = false;
    const app = await rawApp((_n, s) => {
      s.on('close', () => (closed = true));
      s.write('HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nfirst');
    });
    const reason = Object.assign(new Error('client gone'), { code: 'KN_CLIENT_GONE' });
    const r = await send(pool(app.port), get(), 5000, (c) => c.abort(reason));
    assert.deepEqual(r.events, ['start', 'head 200', 'error']);
    assert.equal(r.error, reason);
    assert.equal(r.body, ''); // nothing after the abort
    await waitFor(() => closed);
  });

  test('pause() stops reading the response until resume()', async () => {
    const app = await rawApp((_n, s) => {
      s.write('HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nfirst');
      setTimeout(() => s.write('after'), 50);
    });
    let controller!: UpstreamController;
    const { handler, done } = collect((c) => {
      controller = c;
      c.pause();
    });
    const p = pool(app.port);
    p.dispatch(get(), handler, 5000);
    await waitFor(() => controller !== undefined);
    await new Promise((r) => setTimeout(r, 200));
    let ended = false;
    void done.then(() => (ended = true));
    assert.equal(ended, false);
    controller.resume();
    assert.equal((await done).body, 'firstafter');
  });

  test('a handler that pauses for the last piece does not leave the connection paused for the next request', async () => {
    const app = await echoApp();
    const p = pool(app.port);
    const { handler, done } = collect();
    const onData = handler.onResponseData;
    handler.onResponseData = (c, chunk) => {
      onData(c, chunk);
      c.pause(); // as for a client that reads slowly; never resumed
    };
    p.dispatch(get(), handler, 5000);
    await done;
    assert.equal((await send(p, get())).status, 200);
    assert.equal(app.connections(), 1);
  });

  test('idle connections close after the keep-alive timeout', async () => {
    const app = await echoApp();
    const p = pool(app.port, { keepAliveTimeoutMs: 100 });
    await send(p, get());
    await waitFor(() => app.closed() === 1);
    assert.equal(p.openConnections, 0);
    assert.equal((await send(p, get())).status, 200); // and a new one opens on demand
  });

  test('close() closes idle connections and refuses new requests', async () => {
    const app = await echoApp();
    const p = pool(app.port);
    await send(p, get());
    p.close();
    await waitFor(() => app.closed() === 1);
    assert.equal((await send(p, get())).error?.code, 'KN_POOL_CLOSED');
  });
});
