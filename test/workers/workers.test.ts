// Two threads serving (run --workers=2): the kernel spreads connections over
// both, and the proxy still behaves as one. Every case opens many
// connections, each its own (so both threads get some: the metrics say how
// many each served), and checks what one thread alone would guarantee: one
// wake per app, maintenance and drains everywhere, one metrics exposition,
// one request log, an app that never naps under a request in flight.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import net from 'node:net';
import { Worker } from 'node:worker_threads';
import { join } from 'node:path';
import { readFileSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { Agent, request } from 'undici';
import { startBackend } from '../helpers/backend.ts';
import { freePort } from '../helpers/free-port.ts';
import { napApp, napRequest } from '../helpers/nap.ts';
import { deployParams, quietLogs, requestLogLines, startTestProxy, type TestProxy } from '../helpers/proxy.ts';
import { scratchDir } from '../helpers/scratch-dir.ts';
import { waitFor } from '../helpers/wait.ts';
import { startProxy } from '../../src/proxy/proxy.ts';
import { selfSigned } from '../tls/openssl.ts';

const CONNECTIONS = 24; // all on one thread by chance: 2^-23
const logPath = quietLogs();

describe('two threads serving', () => {
  let proxy: TestProxy;
  let dir: string;
  let metricsPort: number;
  before(async () => {
    dir = scratchDir('kn-workers-');
    metricsPort = await freePort();
    proxy = await startTestProxy(dir, { workers: 2, metricsPort });
  });
  after(() => proxy.stop());

  // One request per connection, all at once.
  async function burst(host: string, path = '/', n = CONNECTIONS, headers: Record<string, string> = {}, giveUpMs?: number) {
    const agents = Array.from({ length: n }, () => new Agent({ connections: 1, pipelining: 0 }));
    try {
      return await Promise.all(agents.map(async (dispatcher) => {
        const signal = giveUpMs === undefined ? undefined : AbortSignal.timeout(giveUpMs);
        try {
          const res = await request(proxy.url(path), { headers: { host, ...headers }, dispatcher, signal });
          return { status: res.statusCode, body: await res.body.text() };
        } catch (err) {
          if (signal?.aborted) return { status: 0, body: '' };
          throw err;
        }
      }));
    } finally {
      await Promise.all(agents.map((a) => a.close()));
    }
  }

  async function scrape(): Promise<string> {
    const res = await request(`http://127.0.0.1:${metricsPort}/metrics`);
    return res.body.text();
  }

  function sample(text: string, name: string, labels: string): number {
    const line = text.split('\n').find((l) => l.startsWith(`${name}{${labels}}`));
    return line === undefined ? 0 : Number(line.split(' ').at(-1));
  }

  test('both threads serve, and the metrics count their requests as one', async () => {
    const backend = await startBackend('spread');
    await proxy.router.deploy(deployParams('spread', [backend.address], { options: { hosts: ['spread.test'] } }));
    const before = await scrape();
    const results = await burst('spread.test', '/x', 40);
    assert.deepEqual(new Set(results.map((r) => `${r.status} ${r.body}`)), new Set(['200 spread']));
    const text = await scrape();
    const served = (t: string) => sample(t, 'kamal_proxy_http_requests_total', 'method="GET",service="spread",status="200"');
    assert.equal(served(text) - served(before), 40);
    const byThread = [0, 1].map((n) => sample(text, 'kamal_napper_thread_requests_total', `thread="${n}"`) - sample(before, 'kamal_napper_thread_requests_total', `thread="${n}"`));
    assert.equal(byThread[0]! + byThread[1]!, 40);
    assert.ok(byThread[0]! > 0 && byThread[1]! > 0, `both threads served: ${byThread}`);
    await backend.close();
  });

  test('the request log has every request once, from both threads, in one stream', async () => {
    const backend = await startBackend('logged');
    await proxy.router.deploy(deployParams('logged', [backend.address], { options: { hosts: ['logged.test'] } }));
    const tag = `log-${Date.now()}`;
    await burst('logged.test', `/${tag}`);
    await waitFor(async () => (await requestLogLines(logPath)).filter((l) => l.path === `/${tag}`).length === CONNECTIONS);
    const lines = (await requestLogLines(logPath)).filter((l) => l.path === `/${tag}`);
    assert.equal(new Set(lines.map((l) => l.request_id)).size, CONNECTIONS, 'each request logged once');
    // Whole lines only: every line of the file parses.
    for (const line of readFileSync(logPath, 'utf8').split('\n').filter(Boolean)) JSON.parse(line);
    await backend.close();
  });

  test('a sleeping app is woken once, however many threads its requests reach', async () => {
    const app = await napApp(dir, 'sleepy', { READY_DELAY_MS: '300' });
    await proxy.router.deploy({ ...deployParams('sleepy', [app.address], { options: { hosts: ['sleepy.test'] } }), nap: napRequest({ command: app.command, idleTimeoutMs: 0 }) });
    await proxy.router.napNap('sleepy');
    const starts = app.starts();
    const results = await burst('sleepy.test', '/', CONNECTIONS, { accept: 'application/json' });
    assert.deepEqual(results.map((r) => r.status), Array(CONNECTIONS).fill(200));
    assert.equal(app.starts() - starts, 1, 'one wake for every thread');
    const held = sample(await scrape(), 'kamal_napper_held_requests_total', 'service="sleepy"');
    assert.equal(held, CONNECTIONS, 'held requests counted in every thread');
    await proxy.router.remove('sleepy');
  });

  test("the waiting page's live feed follows a wake asked in another thread, before the main thread has said so", async () => {
    const app = await napApp(dir, 'feed', { READY_DELAY_MS: '200' });
    await proxy.router.deploy({ ...deployParams('feed', [app.address], { options: { hosts: ['feed.test'] } }), nap: napRequest({ command: app.command, idleTimeoutMs: 0 }) });
    await proxy.router.napNap('feed');
    const starts = app.starts();
    // Browsers in a thread of the test's own, while this thread (the proxy's
    // main thread, which wakes apps) is held busy, as under load: workers
    // serve the waiting page and its feed before the main thread has said a
    // wake is under way.
    const done = new Int32Array(new SharedArrayBuffer(4));
    const browsers = new Worker(FEED_CLIENT, { eval: true, workerData: { port: proxy.httpPort, host: 'feed.test', n: CONNECTIONS / 2, done } });
    const report = once(browsers, 'message');
    await once(browsers, 'online');
    Atomics.wait(done, 0, 0, 10_000); // the client gives up waiting for this thread after 2 s
    const [{ pages, feeds }] = (await report) as [{ pages: number[]; feeds: Array<{ status: number; last: { ready?: boolean } | null }> }];
    await browsers.terminate();
    assert.deepEqual(pages, Array(CONNECTIONS / 2).fill(503), 'each navigation got the waiting page');
    // Each page's feed, on its own connection and on another: never an empty
    // answer (a 204 makes the page reload into a second waiting page).
    assert.deepEqual(feeds.map((f) => [f.status, f.last?.ready]), Array(CONNECTIONS).fill([200, true]));
    assert.equal(app.starts() - starts, 1, 'one wake');
    await proxy.router.remove('feed');
  });

  test('an app does not nap while a connection is open in any thread, and naps once all are closed', async () => {
    // WebSockets from Node cannot set Host: this app is the catch-all on /cable.
    const app = await napApp(dir, 'busy');
    await proxy.router.deploy({ ...deployParams('busy', [app.address], { options: { pathPrefixes: ['/cable'], stripPrefix: false } }), nap: napRequest({ command: app.command, idleTimeoutMs: 300 }) });
    const sockets = await Promise.all(Array.from({ length: 8 }, () => openSocket(`ws://127.0.0.1:${proxy.httpPort}/cable`)));
    // Several idle timeouts with no request: only the open connections keep it up.
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    assert.equal(proxy.router.service('busy')!.napper!.state === 'stopped', false, 'awake while connections are open');
    assert.equal(app.starts(), 1);
    for (const s of sockets) {
      s.send('still there');
      assert.equal(await nextMessage(s), 'still there');
    }
    for (const s of sockets) s.close();
    await waitFor(() => proxy.router.service('busy')!.napper!.state === 'stopped', 10_000);
    await proxy.router.remove('busy');
  });

  test('pause holds requests in every thread; resume lets them all through', async () => {
    const backend = await startBackend('paused');
    await proxy.router.deploy(deployParams('paused', [backend.address], { options: { hosts: ['paused.test'] } }));
    await proxy.router.pause('paused', 1_000, 30_000);
    const pending = burst('paused.test');
    await waitFor(async () => sample(await scrape(), 'kamal_proxy_http_in_flight_requests', 'service="paused"') === CONNECTIONS);
    assert.equal(backend.requests, 0, 'nothing reached the app while paused');
    await proxy.router.resume('paused');
    assert.deepEqual((await pending).map((r) => r.status), Array(CONNECTIONS).fill(200));
    await proxy.router.stop('paused', 1_000, 'back soon');
    const stopped = await burst('paused.test');
    assert.deepEqual(new Set(stopped.map((r) => r.status)), new Set([503]));
    assert.ok(stopped.every((r) => r.body.includes('back soon')));
    await proxy.router.remove('paused');
    await backend.close();
  });

  test('a deploy waits for the requests on the old target in every thread, and they finish', async () => {
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    const old = await startBackend('old', {
      route: (_req, res) => {
        void released.then(() => res.end('old'));
        return true;
      },
    });
    const next = await startBackend('next');
    await proxy.router.deploy(deployParams('drained', [old.address], { options: { hosts: ['drained.test'] } }));
    const pending = burst('drained.test');
    await waitFor(() => old.requests === CONNECTIONS);
    let deployed = false;
    const deploy = proxy.router.deploy(deployParams('drained', [next.address], { options: { hosts: ['drained.test'] }, drainTimeoutMs: 30_000 })).then(() => (deployed = true));
    // Once swapped, the new target takes new requests in every thread (one
    // still reaching the old target is given up after a second).
    await waitFor(async () => (await burst('drained.test', '/', 8, {}, 1_000)).every((r) => r.body === 'next'), 15_000);
    assert.equal(deployed, false, 'the deploy waits for the old requests');
    release();
    await deploy;
    assert.deepEqual(new Set((await pending).map((r) => `${r.status} ${r.body}`)), new Set(['200 old']));
    await proxy.router.remove('drained');
    await Promise.all([old.close(), next.close()]);
  });

  test('--http-cache: a page stored by one thread is a hit in every thread; an invalidation reaches every thread', async () => {
    let version = 'v1';
    const app = await startBackend('cached', {
      route: (req, res) => {
        req.resume();
        if (req.method === 'POST') res.end('posted');
        // v2 is never stored: only the invalidation can end v1's hits.
        else res.writeHead(200, { 'Cache-Control': version === 'v1' ? 'public, max-age=60' : 'no-store' }).end(version);
        return true;
      },
    });
    await proxy.router.deploy(deployParams('cached', [app.address], { options: { hosts: ['cached.test'] }, target: { httpCache: true } }));
    assert.equal((await burst('cached.test', '/page', 1))[0]!.body, 'v1');
    const asked = app.requests;
    // Stores travel between threads as messages: a moment later, every thread has it.
    await waitFor(async () => (await burst('cached.test', '/page')).every((r) => r.body === 'v1') && app.requests === asked);
    version = 'v2';
    const post = await request(proxy.url('/page'), { method: 'POST', headers: { host: 'cached.test' }, body: 'x' });
    assert.equal(await post.body.text(), 'posted');
    await waitFor(async () => (await burst('cached.test', '/page')).every((r) => r.body === 'v2'));
    await proxy.router.remove('cached');
    await app.close();
  });

  test('round-robin is one rotation across threads', async () => {
    const backends = await Promise.all(['rr-a', 'rr-b', 'rr-c'].map((n) => startBackend(n)));
    await proxy.router.deploy(deployParams('rr', backends.map((b) => b.address), { options: { hosts: ['rr.test'] } }));
    const bodies: string[] = [];
    for (let i = 0; i < 12; i++) bodies.push((await burst('rr.test', '/', 1))[0]!.body);
    assert.deepEqual(bodies, ['rr-b', 'rr-c', 'rr-a', 'rr-b', 'rr-c', 'rr-a', 'rr-b', 'rr-c', 'rr-a', 'rr-b', 'rr-c', 'rr-a']);
    await proxy.router.remove('rr');
    await Promise.all(backends.map((b) => b.close()));
  });

  test('HTTPS: every thread serves the certificate the main thread holds', async () => {
    const cert = selfSigned(dir, 'tls', ['tls.test']);
    const backend = await startBackend('secure');
    await proxy.router.deploy(deployParams('secure', [backend.address], { options: { hosts: ['tls.test'], tlsEnabled: true, tlsCertificatePath: cert.certPath, tlsPrivateKeyPath: cert.keyPath } }));
    const agents = Array.from({ length: CONNECTIONS }, () => new Agent({ connections: 1, connect: { ca: cert.certPem, servername: 'tls.test' } }));
    const bodies = await Promise.all(agents.map(async (dispatcher) => {
      const res = await request(`https://127.0.0.1:${proxy.httpsPort}/`, { headers: { host: 'tls.test' }, dispatcher });
      return res.body.text();
    }));
    assert.deepEqual(new Set(bodies), new Set(['secure']));
    await Promise.all(agents.map((a) => a.close()));
    await proxy.router.remove('secure');
    await backend.close();
  });
});

test('a port another process shares (SO_REUSEPORT) is refused, as any port in use, not silently shared', async () => {
  const port = await freePort();
  const other = net.createServer().listen({ port, host: '127.0.0.1', reusePort: true });
  await once(other, 'listening');
  const dir = scratchDir('kn-workers-port-');
  await assert.rejects(
    startProxy({ httpPort: port, httpsPort: 0, bindAddress: '127.0.0.1', socketPath: join(dir, 'kamal-proxy.sock'), statePath: join(dir, 'kamal-proxy.state'), workers: 2 }),
    { message: `cannot listen on 127.0.0.1:${port}: address already in use` },
  );
  other.close();
});

// The browsers of the live-feed test: each loads a page (a navigation) on a
// connection of its own, then opens the page's feed on that connection and
// on a new one, as a browser may. Once every feed has answered (or after
// 2 s) it lets the main thread go, then reads each feed to its end.
const FEED_CLIENT = `
const http = require('node:http');
const { workerData, parentPort } = require('node:worker_threads');
const { port, host, n, done } = workerData;
const get = (agent, path, headers) => new Promise((resolve, reject) => {
  http.get({ host: '127.0.0.1', port, path, agent, headers: { host, ...headers } }, resolve).on('error', reject);
});
const text = async (res) => { let body = ''; for await (const chunk of res) body += chunk; return body; };
const release = () => { Atomics.store(done, 0, 1); Atomics.notify(done, 0); };
setTimeout(release, 2000);
(async () => {
  let answered = 0;
  const feed = (agent) => get(agent, '/.kamal-napper/events', { accept: 'text/event-stream' }).then((res) => {
    if (++answered === 2 * n) release();
    return res;
  });
  const one = async () => {
    const own = new http.Agent({ keepAlive: true, maxSockets: 1 });
    const page = await get(own, '/some/page', { accept: 'text/html' });
    await text(page);
    const responses = await Promise.all([feed(own), feed(false)]);
    const feeds = await Promise.all(responses.map(async (res) => {
      const events = (await text(res)).split('\\n').filter((l) => l.startsWith('data: '));
      return { status: res.statusCode, last: events.length === 0 ? null : JSON.parse(events.at(-1).slice(6)) };
    }));
    own.destroy();
    return { page: page.statusCode, feeds };
  };
  const all = await Promise.all(Array.from({ length: n }, one));
  parentPort.postMessage({ pages: all.map((r) => r.page), feeds: all.flatMap((r) => r.feeds) });
})();
`;

function openSocket(url: string): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const s = new WebSocket(url);
    s.onopen = () => resolve(s);
    s.onerror = () => reject(new Error('websocket failed'));
  });
}

function nextMessage(s: WebSocket): Promise<string> {
  return new Promise((resolve) => {
    s.onmessage = (e) => resolve(String(e.data));
  });
}
