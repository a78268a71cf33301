// The section-4 checklist of kamal-proxy's own test suite, through a real
// listener on 127.0.0.1 with real backends: one describe per Go test file
// (pause controller, rollout controller, load balancer, buffers, error pages,
// cookie scope, and the router_test.go items that touch them). Items already
// covered at socket level elsewhere (traffic-control, buffering, proxying,
// deploy) are mostly not repeated here; request_buffer_middleware_test.go's
// three items are all in buffering.test.ts.
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import type { TestContext } from 'node:test';
import { request } from 'undici';
import type { Dispatcher } from 'undici';
import { defaultHealthCheckConfig } from '../../src/config/service-options.ts';
import { startBackend } from '../helpers/backend.ts';
import type { Backend, Route } from '../helpers/backend.ts';
import { deployParams, quietLogs, startTestProxy } from '../helpers/proxy.ts';
import type { TestProxy } from '../helpers/proxy.ts';
import { rawExchange } from '../helpers/raw-http.ts';
import { waitFor } from '../helpers/wait.ts';

// Spill files go to os.tmpdir(), read at each use: a private TMPDIR means the
// spill checks below see only this file's buffers, never another process's.
const TMP = mkdtempSync(join(tmpdir(), 'kn-checklist-'));
process.env.TMPDIR = TMP;
quietLogs();

let proxy: TestProxy;
before(async () => {
  proxy = await startTestProxy();
});
after(async () => {
  await proxy.stop();
  rmSync(TMP, { recursive: true, force: true });
});

type Headers = Record<string, string | string[] | undefined>;
interface Reply {
  status: number;
  headers: Headers;
  body: string;
}

async function send(host: string, path = '/', o: { method?: string; headers?: Record<string, string>; body?: string | Buffer | Readable } = {}): Promise<Reply> {
  const res = await request(proxy.url(path), { method: (o.method ?? 'GET') as Dispatcher.HttpMethod, headers: { host, ...o.headers }, body: o.body });
  return { status: res.statusCode, headers: res.headers, body: await res.body.text() };
}

// A backend closed when its test ends, whatever the outcome.
async function backend(t: TestContext, name: string, route?: Route, healthy = true): Promise<Backend> {
  const b = await startBackend(name, { healthy, ...(route ? { route } : {}) });
  t.after(() => b.close());
  return b;
}

const deploy = (name: string, targets: string[], o: Parameters<typeof deployParams>[2] = {}) => proxy.router.deploy(deployParams(name, targets, o));

function setCookies(h: Headers): string[] {
  const v = h['set-cookie'];
  return v === undefined ? [] : Array.isArray(v) ? v : [v];
}

// One attribute of a Set-Cookie line (case-insensitive name), or undefined.
function cookieAttr(line: string, attr: string): string | undefined {
  for (const part of line.split(';').slice(1)) {
    const [k, ...v] = part.trim().split('=');
    if (k!.toLowerCase() === attr.toLowerCase()) return v.join('=');
  }
  return undefined;
}

const spillFiles = () => readdirSync(TMP).filter((f) => f.startsWith('proxy-buffer-'));

// Reads from a response body until at least n bytes have arrived.
async function readAtLeast(it: AsyncIterator<Buffer>, n: number): Promise<string> {
  let got = '';
  while (got.length < n) {
    const r = await it.next();
    if (r.done) break;
    got += String(r.value);
  }
  return got;
}

// FNV-1a 32-bit, restated from the reference (§2.15) rather than imported, so
// the rollout tests check the proxy against the spec, not against itself.
function fnv1a(text: string): number {
  let h = 0x811c9dc5;
  for (const byte of Buffer.from(text, 'utf8')) h = Math.imul(h ^ byte, 0x01000193) >>> 0;
  return h >>> 0;
}

const pad5 = (i: number) => String(i).padStart(5, '0');

describe('pause_controller_test.go', () => {
  test('running is the default state and lets requests through', async (t) => {
    const app = await backend(t, 'app');
    await deploy('pc-run', [app.address], { options: { hosts: ['pc-run.example.com'] } });
    assert.equal(proxy.router.service('pc-run')!.pause.state.state, 'running');
    assert.deepEqual([(await send('pc-run.example.com')).status, app.requests], [200, 1]);
  });

  test('a stop while a request waits on a pause releases it with 503 and the stop message; the app never sees it', async (t) => {
    const app = await backend(t, 'app');
    await deploy('pc-stop', [app.address], { options: { hosts: ['pc-stop.example.com'] } });
    await proxy.router.pause('pc-stop', 1_000, 30_000);
    const held = send('pc-stop.example.com', '/held');
    await waitFor(async () => (await proxy.heldRequests('pc-stop')) === 1);
    await proxy.router.stop('pc-stop', 1_000, 'Down for upgrades');
    const r = await held;
    assert.equal(r.status, 503);
    assert.match(r.body, /Service Temporarily Unavailable/);
    assert.match(r.body, /Down for upgrades/);
    assert.equal(app.requests, 0);
  });

  // §2.14: redirects are handled before the pause logic.
  test('while paused, a canonical-host redirect is still answered at once, not held', async (t) => {
    const app = await backend(t, 'app');
    await deploy('pc-redir', [app.address], { options: { hosts: ['pc.example.com', 'www.pc.example.com'], canonicalHost: 'pc.example.com' } });
    // A held request would get 504 after 2 s instead of the 301.
    await proxy.router.pause('pc-redir', 1_000, 2_000);
    const r = await send('www.pc.example.com', '/x');
    assert.deepEqual([r.status, r.headers.location], [301, 'http://pc.example.com/x']);
    await proxy.router.resume('pc-redir');
  });
});

describe('rollout_controller_test.go', () => {
  // Through real requests: each distinct %05d value (as the Go test uses)
  // must land on the side its hash puts it, and the total must be ~600.
  async function split(t: TestContext, name: string, percentage: number, allowlist: string[]) {
    const active = await backend(t, 'active');
    const canary = await backend(t, 'rollout');
    const host = `${name}.example.com`;
    await deploy(name, [active.address], { options: { hosts: [host] } });
    await proxy.router.rolloutDeploy({ service: name, targets: [canary.address], readers: [], deployTimeoutMs: 5_000, drainTimeoutMs: 1_000 });
    await proxy.router.rolloutSet(name, percentage, allowlist);
    const splitPoint = 0xffffffff * (percentage / 100);
    let rollout = 0;
    const misplaced: string[] = [];
    for (let i = 0; i < 1000; i++) {
      const value = pad5(i);
      const r = await send(host, '/', { headers: { cookie: `kamal-rollout=${value}` } });
      const usedRollout = r.body === 'rollout';
      if (usedRollout) rollout++;
      if (usedRollout !== (allowlist.includes(value) || fnv1a(value) <= splitPoint)) misplaced.push(value);
    }
    assert.deepEqual(misplaced, [], 'every value lands where FNV-1a puts it');
    return { host, rollout };
  }

  test('a 60% split sends about 600 of 1000 distinct cookie values to the rollout; no cookie stays active', async (t) => {
    const { host, rollout } = await split(t, 'ro60', 60, []);
    assert.ok(Math.abs(rollout - 600) <= 20, `got ${rollout}`);
    assert.equal((await send(host)).body, 'active');
  });

  test('10% plus an allowlist sends about 100; allowlisted values always go to the rollout; no cookie never does', async (t) => {
    const { host, rollout } = await split(t, 'ro10', 10, ['00001', '00002']);
    assert.ok(Math.abs(rollout - 100) <= 20, `got ${rollout}`);
    for (const v of ['00001', '00002']) assert.equal((await send(host, '/', { headers: { cookie: `kamal-rollout=${v}` } })).body, 'rollout', v);
    assert.equal((await send(host)).body, 'active');
  });

  // §2.15: deploy replaces only the active slot.
  test('redeploying the service replaces the active slot and keeps the rollout slot and split', async (t) => {
    const v1 = await backend(t, 'v1');
    const v2 = await backend(t, 'v2');
    const v3 = await backend(t, 'v3');
    await deploy('ro-keep', [v1.address], { options: { hosts: ['ro-keep.example.com'] } });
    await proxy.router.rolloutDeploy({ service: 'ro-keep', targets: [v2.address], readers: [], deployTimeoutMs: 5_000, drainTimeoutMs: 1_000 });
    await proxy.router.rolloutSet('ro-keep', 0, ['beta']);
    await deploy('ro-keep', [v3.address], { options: { hosts: ['ro-keep.example.com'] } });
    assert.equal((await send('ro-keep.example.com', '/', { headers: { cookie: 'kamal-rollout=beta' } })).body, 'v2');
    assert.equal((await send('ro-keep.example.com', '/', { headers: { cookie: 'kamal-rollout=other' } })).body, 'v3');
    assert.equal((await send('ro-keep.example.com')).body, 'v3');
  });
});

describe('load_balancer_test.go', () => {
  test('deploy refuses the invalid target names "", "_" and "/"; the host stays unrouted', async () => {
    for (const bad of ['', '_', '/']) {
      await assert.rejects(deploy('lb-bad', [bad], { options: { hosts: ['lb-bad.example.com'] } }), /invalid host pattern/, JSON.stringify(bad));
    }
    assert.equal(proxy.router.service('lb-bad'), undefined);
    assert.equal((await send('lb-bad.example.com')).status, 404);
  });

  // §2.4: the index moves before it is used, so with [one, two, three] the
  // first request goes to two. The exact sequence also proves the order kept.
  test('targets keep their order and round-robin starts at the second one', async (t) => {
    const one = await backend(t, 'one');
    const two = await backend(t, 'two');
    const three = await backend(t, 'three');
    await deploy('lb-order', [one.address, two.address, three.address], { options: { hosts: ['lb-order.example.com'] } });
    assert.deepEqual(proxy.router.service('lb-order')!.toState().activeTargets, [one.address, two.address, three.address]);
    const bodies: string[] = [];
    for (let i = 0; i < 6; i++) bodies.push((await send('lb-order.example.com')).body);
    assert.deepEqual(bodies, ['two', 'three', 'one', 'two', 'three', 'one']);
  });

  test('deploy waits for every target: one unhealthy target fails it; all healthy succeeds', async (t) => {
    const ok = await backend(t, 'ok');
    const sick = await backend(t, 'sick', undefined, false);
    await assert.rejects(deploy('lb-wait', [ok.address, sick.address], { options: { hosts: ['lb-wait.example.com'] }, deployTimeoutMs: 300 }), /failed to become healthy/);
    assert.equal((await send('lb-wait.example.com')).status, 404, 'the failed deploy routes nothing');
    sick.healthy = true;
    await deploy('lb-wait', [ok.address, sick.address], { options: { hosts: ['lb-wait.example.com'] } });
    const bodies = new Set<string>();
    for (let i = 0; i < 4; i++) bodies.add((await send('lb-wait.example.com')).body);
    assert.deepEqual([...bodies].sort(), ['ok', 'sick']);
  });

  // §2.4: no retries. With health checks far apart the proxy does not yet
  // know the second target is gone; its request must fail, not move on.
  test('a connection error gives 502 without trying another target', async (t) => {
    const a = await backend(t, 'a');
    const b = await backend(t, 'b');
    await deploy('lb-502', [a.address, b.address], { options: { hosts: ['lb-502.example.com'] }, target: { healthCheck: { ...defaultHealthCheckConfig(), intervalMs: 60_000 } } });
    await b.close();
    const statuses = [(await send('lb-502.example.com')).status, (await send('lb-502.example.com')).status];
    assert.deepEqual(statuses, [502, 200], 'the first request goes to b (the second target) and is not retried on a');
  });

  test('GET and HEAD go to readers, DELETE/PATCH/POST/PUT to writers (twice each, no cycling); without readers all go to writers', async (t) => {
    const tag: Route = (req, res, b) => {
      req.resume();
      req.on('end', () => res.writeHead(200, { 'X-Served-By': b.name }).end());
      return true;
    };
    const writer = await backend(t, 'writer', tag);
    const reader = await backend(t, 'reader', tag);
    const solo = await backend(t, 'solo', tag);
    await deploy('lb-rw', [writer.address], { readers: [reader.address], options: { hosts: ['lb-rw.example.com'] } });
    await deploy('lb-solo', [solo.address], { options: { hosts: ['lb-solo.example.com'] } });
    for (const [method, expected] of [['GET', 'reader'], ['HEAD', 'reader'], ['DELETE', 'writer'], ['PATCH', 'writer'], ['POST', 'writer'], ['PUT', 'writer']]) {
      for (let i = 0; i < 2; i++) {
        const r = await send('lb-rw.example.com', '/', { method: method! });
        assert.deepEqual([r.status, r.headers['x-served-by']], [200, expected], method);
      }
    }
    for (const method of ['GET', 'HEAD']) assert.equal((await send('lb-solo.example.com', '/', { method })).headers['x-served-by'], 'solo', method);
  });

  test('a WebSocket GET goes to a writer, or to a reader with --read-target-websockets', async (t) => {
    const upgradedOn: string[] = [];
    const writer = await backend(t, 'writer');
    const reader = await backend(t, 'reader');
    for (const b of [writer, reader]) {
      b.server.on('upgrade', (_req, socket) => (upgradedOn.push(b.name), socket.end('HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n')));
    }
    const upgrade = (host: string) =>
      rawExchange(
        proxy.httpPort,
        `GET /cable HTTP/1.1\r\nHost: ${host}\r\nConnection: keep-alive, Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n`,
      );
    await deploy('lb-ws', [writer.address], { readers: [reader.address], options: { hosts: ['lb-ws.example.com'] } });
    await deploy('lb-ws-r', [writer.address], { readers: [reader.address], options: { hosts: ['lb-ws-r.example.com'], readTargetsAcceptWebsockets: true } });
    assert.match(await upgrade('lb-ws.example.com'), /^HTTP\/1\.1 400/);
    assert.match(await upgrade('lb-ws-r.example.com'), /^HTTP\/1\.1 400/);
    assert.deepEqual(upgradedOn, ['writer', 'reader']);
  });

  test('writer affinity: reads get no cookie; a write gets kamal-writer with Expires one second after its value; X-Writer-Affinity: false on a PUT removes both cookie and header', async (t) => {
    const writer = await backend(t, 'writer', (req, res) => {
      req.resume();
      const optOut = req.url === '/opt-out';
      req.on('end', () => res.writeHead(200, optOut ? { 'X-Writer-Affinity': 'false' } : {}).end('writer'));
      return true;
    });
    const reader = await backend(t, 'reader');
    await deploy('lb-aff', [writer.address], { readers: [reader.address], options: { hosts: ['lb-aff.example.com'], writerAffinityTimeoutMs: 5_000 } });
    const read = await send('lb-aff.example.com');
    assert.deepEqual([read.body, setCookies(read.headers)], ['reader', []]);
    const write = await send('lb-aff.example.com', '/something', { method: 'PUT' });
    const cookies = setCookies(write.headers);
    assert.equal(cookies.length, 1);
    const value = Number(/^kamal-writer=(\d+);/.exec(cookies[0]!)![1]);
    assert.equal(cookieAttr(cookies[0]!, 'Path'), '/');
    assert.equal(Date.parse(cookieAttr(cookies[0]!, 'Expires')!), Math.floor((value + 1000) / 1000) * 1000);
    const opted = await send('lb-aff.example.com', '/opt-out', { method: 'PUT' });
    assert.equal(opted.body, 'writer');
    assert.deepEqual(setCookies(opted.headers), []);
    assert.equal(opted.headers['x-writer-affinity'], undefined);
  });
});

describe('buffer_test.go', () => {
  // kamal-proxy's matrix, body "Hello, World!" (13 bytes): [max, memory].
  const MATRIX = [
    { name: 'unlimited', max: 0, memory: 5, spills: true, over: false },
    { name: 'within memory limits', max: 2048, memory: 1024, spills: false, over: false },
    { name: 'exceeds memory limits', max: 2048, memory: 5, spills: true, over: false },
    { name: 'exceeds memory and disk limits', max: 8, memory: 5, spills: false, over: true },
  ];
  const HELLO = 'Hello, World!';

  test('buffered requests: full content with no limit, in memory, and spilled to disk; over the total limit 413; temp files removed', async (t) => {
    // The app looks for a spill file while the buffered request is in flight.
    const app = await backend(t, 'app', (req, res) => {
      const spilled = spillFiles().length > 0;
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => res.writeHead(200, { 'X-Spilled': String(spilled) }).end(Buffer.concat(chunks)));
      return true;
    });
    for (const [i, c] of MATRIX.entries()) {
      await waitFor(() => spillFiles().length === 0);
      const host = `req-buf-${i}.example.com`;
      await deploy(`req-buf-${i}`, [app.address], { options: { hosts: [host] }, target: { bufferRequests: true, maxRequestBodyBytes: c.max, maxMemoryBufferBytes: c.memory } });
      const before = app.requests;
      const r = await send(host, '/', { method: 'POST', body: Readable.from([Buffer.from('Hello, '), Buffer.from('World!')]) });
      if (c.over) {
        assert.equal(r.status, 413, c.name);
        assert.equal(app.requests, before, `${c.name}: never reaches the app`);
      } else {
        assert.deepEqual([r.status, r.body, r.headers['x-spilled']], [200, HELLO, String(c.spills)], c.name);
      }
      await waitFor(() => spillFiles().length === 0);
    }
  });

  test('buffered responses: full content with no limit, in memory, and past the memory limit; over the total limit 500', async (t) => {
    const app = await backend(t, 'app', (req, res) => (res.writeHead(200, { 'Content-Length': String(HELLO.length) }).end(HELLO), true));
    for (const [i, c] of MATRIX.entries()) {
      const host = `resp-buf-${i}.example.com`;
      await deploy(`resp-buf-${i}`, [app.address], { options: { hosts: [host] }, target: { bufferResponses: true, maxResponseBodyBytes: c.max, maxMemoryBufferBytes: c.memory } });
      const r = await send(host);
      if (c.over) assert.equal(r.status, 500, c.name);
      else assert.deepEqual([r.status, r.body], [200, HELLO], c.name);
    }
    await waitFor(() => spillFiles().length === 0);
  });

  test('empty bodies: an empty chunked upload is buffered and sent with Content-Length: 0; an empty response is sent', async (t) => {
    const app = await backend(t, 'app', (req, res) => {
      let n = 0;
      req.on('data', (c: Buffer) => (n += c.length));
      req.on('end', () => res.writeHead(200, { 'X-Seen': `${n}/${req.headers['content-length'] ?? 'none'}`, 'Content-Length': '0' }).end());
      return true;
    });
    await deploy('buf-empty', [app.address], { options: { hosts: ['buf-empty.example.com'] }, target: { bufferRequests: true, bufferResponses: true, maxRequestBodyBytes: 100, maxResponseBodyBytes: 100 } });
    const r = await send('buf-empty.example.com', '/', { method: 'POST', body: Readable.from([]) });
    assert.deepEqual([r.status, r.body, r.headers['x-seen'], r.headers['content-length']], [200, '', '0/0', '0']);
  });
});

describe('response_buffer_middleware_test.go', () => {
  // A "flush" from the app: Node sends the headers and the first part at
  // once, then the app finishes later. With buffering the client must get
  // nothing until the app has finished, and then the whole response.
  function flushingRoute(status: number, headers: Record<string, string>, body: string, state: { finished: boolean }): Route {
    return (req: IncomingMessage, res: ServerResponse) => {
      res.writeHead(status, { ...headers, 'Content-Length': String(body.length) });
      res.write(body.slice(0, 10));
      setTimeout(() => {
        state.finished = true;
        res.end(body.slice(10));
      }, 300);
      return true;
    };
  }

  test('flushes are ignored while buffering: a flushed redirect arrives whole, only after the app finished', async (t) => {
    const state = { finished: false };
    const body = '<a href="http://example.com/">Found</a>.\n';
    const app = await backend(t, 'app', flushingRoute(302, { Location: 'http://example.com/', 'Content-Type': 'text/html; charset=utf-8' }, body, state));
    await deploy('rsp-flush', [app.address], { options: { hosts: ['rsp-flush.example.com'] }, target: { bufferResponses: true } });
    const res = await request(proxy.url('/'), { headers: { host: 'rsp-flush.example.com' } });
    const finishedFirst = state.finished;
    assert.deepEqual([res.statusCode, res.headers.location, await res.body.text()], [302, 'http://example.com/', body]);
    assert.equal(finishedFirst, true, 'the client saw nothing before the app finished');
  });

  test('a response with a Content-Length is buffered: headers reach the client only after the app finished', async (t) => {
    const state = { finished: false };
    const body = 'x'.repeat(50);
    const app = await backend(t, 'app', flushingRoute(200, { 'Content-Type': 'application/json' }, body, state));
    await deploy('rsp-cl', [app.address], { options: { hosts: ['rsp-cl.example.com'] }, target: { bufferResponses: true } });
    const res = await request(proxy.url('/'), { headers: { host: 'rsp-cl.example.com' } });
    const finishedFirst = state.finished;
    assert.equal(await res.body.text(), body);
    assert.equal(finishedFirst, true);
  });

  // Each stream's second part waits for the client, so the first part must
  // arrive on its own. The 10-byte limit shows the buffer is bypassed, not
  // merely flushed early: 22 bytes come through.
  test('text/event-stream (with or without charset) and Transfer-Encoding: chunked with any content type bypass the buffer and its limit', async (t) => {
    const releases = new Map<string, () => void>();
    const cases: Record<string, Record<string, string>> = {
      'sse-length': { 'Content-Type': 'text/event-stream', 'Content-Length': '22' },
      'sse-charset-length': { 'Content-Type': 'text/event-stream; charset=utf-8', 'Content-Length': '22' },
      'sse-chunked': { 'Content-Type': 'text/event-stream' },
      'plain-chunked': { 'Content-Type': 'text/plain' },
      'json-chunked': { 'Content-Type': 'application/json' },
    };
    const app = await backend(t, 'app', (req, res) => {
      const name = req.url!.slice(1);
      res.writeHead(200, cases[name]);
      res.write('data: one\n\n');
      releases.set(name, () => res.end('data: two\n\n'));
      return true;
    });
    await deploy('rsp-bypass', [app.address], {
      options: { hosts: ['rsp-bypass.example.com'] },
      target: { bufferResponses: true, maxResponseBodyBytes: 10, maxMemoryBufferBytes: 5 },
    });
    for (const name of Object.keys(cases)) {
      const res = await request(proxy.url(`/${name}`), { headers: { host: 'rsp-bypass.example.com' } });
      assert.equal(res.statusCode, 200, name);
      const it = res.body[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
      assert.equal(await readAtLeast(it, 11), 'data: one\n\n', `${name}: the first part arrived alone`);
      releases.get(name)!();
      assert.equal(await readAtLeast(it, Infinity), 'data: two\n\n', name);
    }
  });
});

describe('error_page_middleware_test.go', () => {
  // 418 itself is never produced by the proxy; 500 and 400 are the statuses
  // it does produce without a built-in page, so they take the fallback path.
  test('a status with no built-in or custom page gets the bare "<h1>CODE Text</h1>" as text/html', async (t) => {
    const dir = mkdtempSync(join(TMP, 'pages-'));
    writeFileSync(join(dir, '503.html'), '<p>custom 503</p>');
    const app = await backend(t, 'app', (req, res) => (res.writeHead(200, { 'Content-Length': '100' }).end('x'.repeat(100)), true));
    await deploy('ep-generic', [app.address], {
      options: { hosts: ['ep-generic.example.com'], errorPagePath: dir },
      target: { bufferRequests: true, bufferResponses: true, maxResponseBodyBytes: 10 },
    });
    const tooLarge = await send('ep-generic.example.com');
    assert.deepEqual([tooLarge.status, tooLarge.headers['content-type'], tooLarge.body], [500, 'text/html; charset=utf-8', '<h1>500 Internal Server Error</h1>']);
    const malformed = await rawExchange(
      proxy.httpPort,
      'POST / HTTP/1.1\r\nHost: ep-generic.example.com\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\nZZZ\r\nbad\r\n0\r\n\r\n',
    );
    assert.match(malformed, /^HTTP\/1\.1 400 /);
    assert.match(malformed, /\r\nContent-Type: text\/html; charset=utf-8\r\n/i);
    assert.ok(malformed.endsWith('\r\n\r\n<h1>400 Bad Request</h1>'), malformed);
  });

  test("an app's own 418 passes through untouched, even with a custom 418 page", async (t) => {
    const dir = mkdtempSync(join(TMP, 'pages-'));
    writeFileSync(join(dir, '418.html'), '<p>custom teapot</p>');
    const app = await backend(t, 'app', (req, res) => (res.writeHead(418, { 'Content-Type': 'text/plain; charset=utf-8' }).end("I'm a teapot\n"), true));
    await deploy('ep-teapot', [app.address], { options: { hosts: ['ep-teapot.example.com'], errorPagePath: dir } });
    const r = await send('ep-teapot.example.com');
    assert.deepEqual([r.status, r.headers['content-type'], r.body], [418, 'text/plain; charset=utf-8', "I'm a teapot\n"]);
  });

  test('a template that does not compile fails the deploy with "unable to load error pages"; the old deployment keeps serving', async (t) => {
    const app = await backend(t, 'first');
    await deploy('ep-bad', [app.address], { options: { hosts: ['ep-bad.example.com'] } });
    const dir = mkdtempSync(join(TMP, 'pages-'));
    writeFileSync(join(dir, '503.html'), '{{ if .Message }}unclosed');
    await assert.rejects(deploy('ep-bad', [app.address], { options: { hosts: ['ep-bad.example.com'], errorPagePath: dir } }), { message: 'unable to load error pages' });
    assert.deepEqual([(await send('ep-bad.example.com')).body, proxy.router.service('ep-bad')!.options.errorPagePath], ['first', '']);
  });
});

describe('cookie_scope_test.go', () => {
  // The app sets whatever cookies the request asks for (X-Set-Cookie, JSON).
  const cookieApp: Route = (req, res) => {
    const wanted = JSON.parse(String(req.headers['x-set-cookie'] ?? '[]')) as string[];
    res.writeHead(200, wanted.length ? { 'Set-Cookie': wanted } : {}).end();
    return true;
  };
  async function scopedPaths(host: string, path: string, cookies: string[]): Promise<(string | undefined)[]> {
    const r = await send(host, path, { headers: { 'x-set-cookie': JSON.stringify(cookies) } });
    assert.equal(r.status, 200);
    const out = setCookies(r.headers);
    assert.equal(out.length, cookies.length);
    return out.map((c) => cookieAttr(c, 'Path'));
  }
  let app: Backend;
  before(async () => {
    app = await startBackend('cookies', { route: cookieApp });
    const target = { scopeCookiePaths: true };
    await deploy('cs-api', [app.address], { options: { hosts: ['cs.example.com', 'sub.cs.example.com'], pathPrefixes: ['/api'] }, target });
    await deploy('cs-app', [app.address], { options: { hosts: ['cs.example.com', 'sub.cs.example.com'], pathPrefixes: ['/app'] }, target });
  });
  after(() => app.close());

  test('paths: the root path becomes the prefix, a sub-path goes under it, a missing path becomes the prefix', async () => {
    assert.deepEqual(await scopedPaths('cs.example.com', '/api/x', ['session=abc; Path=/']), ['/api']);
    assert.deepEqual(await scopedPaths('cs.example.com', '/api/x', ['session=abc; Path=/admin']), ['/api/admin']);
    assert.deepEqual(await scopedPaths('cs.example.com', '/api/x', ['session=abc']), ['/api']);
  });

  test('a first-party Domain is scoped and kept; a third-party Domain is left alone; several cookies each get their own answer', async () => {
    const r = await send('cs.example.com', '/api/x', { headers: { 'x-set-cookie': JSON.stringify(['session=abc; Path=/; Domain=cs.example.com']) } });
    const [line] = setCookies(r.headers);
    assert.deepEqual([cookieAttr(line!, 'Path'), cookieAttr(line!, 'Domain')], ['/api', 'cs.example.com']);
    assert.deepEqual(await scopedPaths('cs.example.com', '/api/x', ['tracking=xyz; Path=/; Domain=other.com']), ['/']);
    assert.deepEqual(await scopedPaths('cs.example.com', '/app/x', ['a=1; Path=/', 'b=2; Path=/foo', 'c=3; Path=/; Domain=third.com']), ['/app', '/app/foo', '/']);
  });

  test('domain matching: empty or exact is scoped, a subdomain or parent is not, a Host with a port matches its domain', async () => {
    const original = (domain: string) => [`test=value; Path=/original${domain ? `; Domain=${domain}` : ''}`];
    assert.deepEqual(await scopedPaths('cs.example.com', '/api/x', original('')), ['/api/original'], 'empty domain');
    assert.deepEqual(await scopedPaths('cs.example.com', '/api/x', original('cs.example.com')), ['/api/original'], 'exact');
    assert.deepEqual(await scopedPaths('cs.example.com', '/api/x', original('other.com')), ['/original'], 'different domain');
    assert.deepEqual(await scopedPaths('cs.example.com', '/api/x', original('sub.cs.example.com')), ['/original'], 'subdomain of the host');
    assert.deepEqual(await scopedPaths('sub.cs.example.com', '/api/x', original('cs.example.com')), ['/original'], 'parent of the host');
    assert.deepEqual(await scopedPaths(`cs.example.com:${proxy.httpPort}`, '/api/x', original('cs.example.com')), ['/api/original'], 'host with a port');
    assert.deepEqual(await scopedPaths('cs.example.com:8080', '/api/x', ['session=abc; Path=/; Domain=cs.example.com']), ['/api'], 'host with another port');
  });

  // §2.6: scoping needs stripping; with the prefix kept the app already sees it.
  test('with --strip-path-prefix=false cookies are not scoped', async (t) => {
    const keep = await backend(t, 'keep', cookieApp);
    await deploy('cs-nostrip', [keep.address], { options: { hosts: ['cs-nostrip.example.com'], pathPrefixes: ['/api'], stripPrefix: false }, target: { scopeCookiePaths: true } });
    assert.deepEqual(await scopedPaths('cs-nostrip.example.com', '/api/x', ['session=abc; Path=/']), ['/']);
  });
});

describe('router_test.go (pause, buffering, cookie scope)', () => {
  // TestRouter_UpdatingOptions, the request-limit part (success, 413 and 400
  // on their own are in buffering.test.ts).
  test('redeploying with a 10-byte buffered limit gives 413; redeploying without buffering gives 200', async (t) => {
    const app = await backend(t, 'first');
    const body = 'Something longer than 10';
    await deploy('rb-update', [app.address], { options: { hosts: ['rb-update.example.com'] }, target: { bufferRequests: true, maxRequestBodyBytes: 10 } });
    assert.equal((await send('rb-update.example.com', '/', { method: 'POST', body })).status, 413);
    await deploy('rb-update', [app.address], { options: { hosts: ['rb-update.example.com'] }, target: { bufferRequests: false, maxRequestBodyBytes: 0 } });
    const r = await send('rb-update.example.com', '/', { method: 'POST', body });
    assert.deepEqual([r.status, r.body], [200, 'first']);
  });

  test('a pause survives a redeploy: 504 while paused, before and after it; 200 after resume', async (t) => {
    const app = await backend(t, 'first');
    const body = 'Something longer than 10';
    await deploy('rt-pause', [app.address], { options: { hosts: ['rt-pause.example.com'] } });
    await proxy.router.pause('rt-pause', 1_000, 10);
    assert.equal((await send('rt-pause.example.com', '/', { method: 'POST', body })).status, 504);
    await deploy('rt-pause', [app.address], { options: { hosts: ['rt-pause.example.com'] } });
    assert.equal((await send('rt-pause.example.com', '/', { method: 'POST', body })).status, 504);
    await proxy.router.resume('rt-pause');
    assert.deepEqual(await send('rt-pause.example.com', '/', { method: 'POST', body }).then((r) => [r.status, r.body]), [200, 'first']);
    assert.equal(app.requests, 1, 'held requests never reached the app');
  });

  // TestRouter_PathBasedRoutingCookiePrefixPrefix: service1 on /api and /app
  // sets Path=/something, service2 on /chat sets Path=/.
  test('cookie scoping with prefixes /api and /app (and /chat), on and off', async (t) => {
    const something = await backend(t, 's1', (req, res) => (res.writeHead(200, { 'Set-Cookie': 'session=secret; Path=/something; HttpOnly' }).end(), true));
    const root = await backend(t, 's2', (req, res) => (res.writeHead(200, { 'Set-Cookie': 'session=secret; Path=/; HttpOnly' }).end(), true));
    for (const on of [true, false]) {
      const host = `rt-cookie-${on}.example.com`;
      await deploy(`rt-cookie-1-${on}`, [something.address], { options: { hosts: [host], pathPrefixes: ['/api', '/app'] }, target: { scopeCookiePaths: on } });
      await deploy(`rt-cookie-2-${on}`, [root.address], { options: { hosts: [host], pathPrefixes: ['/chat'] }, target: { scopeCookiePaths: on } });
    }
    const expected: [boolean, string, string][] = [
      [true, '/app', '/app/something'],
      [true, '/api', '/api/something'],
      [false, '/app', '/something'],
      [false, '/api', '/something'],
      [true, '/chat', '/chat'],
      [false, '/chat', '/'],
    ];
    for (const [on, path, cookiePath] of expected) {
      const r = await send(`rt-cookie-${on}.example.com`, path);
      const cookies = setCookies(r.headers);
      assert.equal(r.status, 200);
      assert.equal(cookies.length, 1);
      assert.equal(cookieAttr(cookies[0]!, 'Path'), cookiePath, `${on} ${path}`);
      assert.equal(cookieAttr(cookies[0]!, 'HttpOnly'), '', 'other attributes are kept');
    }
  });

  test('cookie scoping leaves third-party domains alone: first-party and no-domain cookies are scoped', async (t) => {
    const app = await backend(t, 'app', (req, res) => {
      res.writeHead(200, { 'Set-Cookie': ['first_party=value1; Path=/original; Domain=example.com', 'third_party=value2; Path=/original; Domain=other.com', 'no_domain=value3; Path=/original'] }).end();
      return true;
    });
    await deploy('rt-third', [app.address], { options: { hosts: ['example.com'], pathPrefixes: ['/api'] }, target: { scopeCookiePaths: true } });
    const cookies = setCookies((await send('example.com', '/api/test')).headers);
    assert.deepEqual(
      cookies.map((c) => [c.split('=')[0], cookieAttr(c, 'Path')]),
      [['first_party', '/api/original'], ['third_party', '/original'], ['no_domain', '/api/original']],
    );
  });
});
