// pause / stop / resume, rollout, readers and writer affinity, redirects,
// cookie scoping and custom error pages, through a real listener.
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Agent, request } from 'undici';
import { Router } from '../../src/router/router.ts';
import { loadNapConfig } from '../../src/nap/nap-config.ts';
import { startBackend } from '../helpers/backend.ts';
import type { Backend } from '../helpers/backend.ts';
import { deployParams, quietLogs, startTestProxy } from '../helpers/proxy.ts';
import type { TestProxy } from '../helpers/proxy.ts';
import { waitFor } from '../helpers/wait.ts';
import { rawExchange } from '../helpers/raw-http.ts';
import { scratchDir } from '../helpers/scratch-dir.ts';

quietLogs();

describe('traffic control', () => {
  let proxy: TestProxy;
  let app: Backend;
  before(async () => {
    app = await startBackend('app');
    proxy = await startTestProxy();
  });
  after(async () => {
    await proxy.stop();
    await app.close();
  });

  const get = async (host: string, path = '/', headers: Record<string, string> = {}, method = 'GET') => {
    const res = await request(proxy.url(path), { method, headers: { host, ...headers } });
    return { status: res.statusCode, headers: res.headers, body: await res.body.text() };
  };

  test('pause holds 200 concurrent requests; resume releases all of them, none lost or duplicated', async () => {
    const counter = await startBackend('counted');
    await proxy.router.deploy(deployParams('held', [counter.address], { options: { hosts: ['held.example.com'] } }));
    await proxy.router.pause('held', 1_000, 30_000);
    const agent = new Agent({ connections: 200 });
    const all = Array.from({ length: 200 }, (_, i) =>
      request(proxy.url(`/r/${i}`), { headers: { host: 'held.example.com' }, dispatcher: agent }).then(async (r) => ({
        status: r.statusCode,
        body: await r.body.text(),
      })),
    );
    const service = proxy.router.service('held')!;
    await waitFor(async () => (await proxy.heldRequests('held')) === 200);
    assert.equal(counter.requests, 0, 'nothing reaches the app while paused');
    await proxy.router.resume('held');
    const results = await Promise.all(all);
    assert.ok(results.every((r) => r.status === 200 && r.body === 'counted'));
    assert.equal(counter.requests, 200);
    await agent.close();
    await counter.close();
  });

  test('a held request gets 504 after --max-pause; the health path answers 200 meanwhile', async () => {
    await proxy.router.deploy(deployParams('pz', [app.address], { options: { hosts: ['pz.example.com'], pathPrefixes: ['/app'] } }));
    await proxy.router.pause('pz', 1_000, 150);
    assert.equal((await get('pz.example.com', '/app/x')).status, 504);
    const health = await get('pz.example.com', '/app/up');
    assert.deepEqual([health.status, health.body], [200, '']);
    await proxy.router.resume('pz');
    assert.equal((await get('pz.example.com', '/app/x')).status, 200);
  });

  test('pause waits for requests in flight before returning', async () => {
    let release!: () => void;
    const released = new Promise<void>((r) => (release = r));
    const slow = await startBackend('slow', { route: (req, res) => (void released.then(() => res.end('done')), true) });
    await proxy.router.deploy(deployParams('pd', [slow.address], { options: { hosts: ['pd.example.com'] } }));
    const inFlight = get('pd.example.com');
    await waitFor(() => slow.requests === 1);
    let paused = false;
    const pausing = proxy.router.pause('pd', 5_000, 5_000).then(() => (paused = true));
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(paused, false);
    release();
    assert.equal((await inFlight).body, 'done');
    await pausing;
    await proxy.router.resume('pd');
    await slow.close();
  });

  test('stop answers 503 with the message; stopping releases held requests; resume serves again', async () => {
    await proxy.router.deploy(deployParams('st', [app.address], { options: { hosts: ['st.example.com'] } }));
    await proxy.router.pause('st', 1_000, 30_000);
    const held = get('st.example.com');
    await waitFor(async () => (await proxy.heldRequests('st')) === 1);
    await proxy.router.stop('st', 1_000, 'Back at <noon>');
    const released = await held;
    assert.equal(released.status, 503);
    assert.match(released.body, /Back at &lt;noon&gt;/);
    const fresh = await get('st.example.com');
    assert.equal(fresh.status, 503);
    assert.match(fresh.body, /Service Temporarily Unavailable/);
    assert.equal((await get('st.example.com', '/up')).status, 200, 'health path answers while stopped');
    await proxy.router.resume('st');
    assert.equal((await get('st.example.com')).status, 200);
  });

  test('pause state survives a redeploy and a restart', async () => {
    await proxy.router.deploy(deployParams('keep-paused', [app.address], { options: { hosts: ['kp.example.com'] } }));
    await proxy.router.stop('keep-paused', 1_000, 'maintenance');
    await proxy.router.deploy(deployParams('keep-paused', [app.address], { options: { hosts: ['kp.example.com'] } }));
    assert.equal((await get('kp.example.com')).status, 503);
    const restored = new Router(proxy.statePath, { config: loadNapConfig({}), docker: null, runtimeDir: proxy.dir });
    await restored.restore();
    assert.deepEqual(restored.service('keep-paused')!.pause.state, { state: 'stopped', stopMessage: 'maintenance', failAfterMs: 0 });
    restored.close();
  });

  test('custom error pages render the stop message; a bad directory fails the deploy', async () => {
    const dir = scratchDir('kn-pages-');
    writeFileSync(join(dir, '503.html'), '<p>Custom Maintenance Page: {{ if .Message }}{{ .Message }}{{ else }}soon{{ end }}</p>');
    await proxy.router.deploy(deployParams('pages', [app.address], { options: { hosts: ['pages.example.com'], errorPagePath: dir } }));
    await proxy.router.stop('pages', 1_000, 'upgrading & back soon');
    assert.equal((await get('pages.example.com')).body, '<p>Custom Maintenance Page: upgrading &amp; back soon</p>');
    await proxy.router.resume('pages');

    const bad = scratchDir('kn-badpages-');
    mkdirSync(join(bad, 'empty'));
    await assert.rejects(
      proxy.router.deploy(deployParams('pages', [app.address], { options: { hosts: ['pages.example.com'], errorPagePath: join(bad, 'empty') } })),
      { message: 'unable to load error pages' },
    );
    assert.equal((await get('pages.example.com')).status, 200, 'the old deployment keeps serving');
  });

  test('rollout: cookie values move between active and rollout targets', async () => {
    const v1 = await startBackend('v1');
    const v2 = await startBackend('v2');
    await proxy.router.deploy(deployParams('ro', [v1.address], { options: { hosts: ['ro.example.com'] } }));
    await assert.rejects(proxy.router.rolloutSet('ro', 0, ['1']), { message: 'rollout target not set' });
    await proxy.router.rolloutDeploy({ service: 'ro', targets: [v2.address], readers: [], deployTimeoutMs: 5_000, drainTimeoutMs: 1_000 });
    const as = async (cookie: string) => (await get('ro.example.com', '/', { cookie })).body;
    assert.equal(await as('kamal-rollout=1'), 'v1', 'no split set yet');
    await proxy.router.rolloutSet('ro', 0, ['1']);
    assert.equal(await as('kamal-rollout=1'), 'v2');
    assert.equal(await as('kamal-rollout=2'), 'v1');
    assert.equal((await get('ro.example.com')).body, 'v1', 'no cookie: active');
    await proxy.router.rolloutSet('ro', 0, ['2']);
    assert.equal(await as('kamal-rollout=1'), 'v1');
    await proxy.router.rolloutSet('ro', 100, []);
    assert.equal(await as('kamal-rollout=anything'), 'v2');
    await proxy.router.rolloutStop('ro');
    assert.equal(await as('kamal-rollout=anything'), 'v1');
    await Promise.all([v1.close(), v2.close()]);
  });

  test('readers take reads; writes set the kamal-writer cookie; reads carrying it go to writers', async () => {
    const writer = await startBackend('writer', {
      route: (req, res) => {
        if (req.url === '/no-affinity') return (res.writeHead(200, { 'X-Writer-Affinity': 'false' }).end('writer'), true);
      },
    });
    const reader = await startBackend('reader');
    await proxy.router.deploy(
      deployParams('rw', [writer.address], { readers: [reader.address], options: { hosts: ['rw.example.com'], writerAffinityTimeoutMs: 5_000 } }),
    );
    assert.equal((await get('rw.example.com')).body, 'reader');
    assert.equal((await get('rw.example.com', '/', {}, 'HEAD')).status, 200);
    assert.equal(reader.requests, 2);
    const write = await get('rw.example.com', '/posts', {}, 'POST');
    assert.equal(write.body, 'writer');
    const cookie = String(write.headers['set-cookie']);
    assert.match(cookie, /^kamal-writer=\d+; Path=\/; Expires=.+; HttpOnly$/);
    const expires = Number(/kamal-writer=(\d+)/.exec(cookie)![1]);
    assert.ok(expires > Date.now() && expires <= Date.now() + 5_000);
    assert.equal((await get('rw.example.com', '/', { cookie: cookie.split(';')[0]! })).body, 'writer', 'read-your-writes');
    assert.equal((await get('rw.example.com', '/', { cookie: `kamal-writer=${Date.now() - 1}` })).body, 'reader', 'expired cookie');
    const opted = await get('rw.example.com', '/no-affinity', {}, 'DELETE');
    assert.equal(opted.headers['set-cookie'], undefined);
    assert.equal(opted.headers['x-writer-affinity'], undefined, 'the header is removed');
    const upgradedOn: string[] = [];
    for (const [name, b] of [['writer', writer], ['reader', reader]] as const) {
      b.server.on('upgrade', (_req, socket) => (upgradedOn.push(name), socket.end('HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n')));
    }
    const upgrade = await rawExchange(
      proxy.httpPort,
      'GET /cable HTTP/1.1\r\nHost: rw.example.com\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n',
    );
    assert.match(upgrade, /^HTTP\/1\.1 400/);
    assert.deepEqual(upgradedOn, ['writer'], 'WebSocket upgrades go to writers');
    await Promise.all([writer.close(), reader.close()]);
  });

  test('no writer cookie without readers', async () => {
    await proxy.router.deploy(deployParams('nor', [app.address], { options: { hosts: ['nor.example.com'] } }));
    const write = await get('nor.example.com', '/', {}, 'POST');
    assert.equal(write.headers['set-cookie'], undefined);
  });

  test('canonical host redirects with 301, port dropped', async () => {
    await proxy.router.deploy(
      deployParams('canon', [app.address], { options: { hosts: ['example.org', 'www.example.org'], canonicalHost: 'example.org' } }),
    );
    const r = await get(`www.example.org:${proxy.httpPort}`, '/path?q=1&r=2');
    assert.equal(r.status, 301);
    assert.equal(r.headers.location, 'http://example.org/path?q=1&r=2');
    assert.equal(r.headers.connection, 'close');
    // Go's http.Redirect body, escaped as net/http escapes it.
    assert.equal(r.body, '<a href="http://example.org/path?q=1&amp;r=2">Moved Permanently</a>.\n\n');
    assert.equal((await get('example.org')).status, 200);
    const post = await get('www.example.org', '/form', {}, 'POST');
    assert.deepEqual([post.status, post.body], [301, '']);
  });

  test('--scope-cookie-paths puts cookies under the prefix', async () => {
    const api = await startBackend('api', {
      route: (req, res) => (res.writeHead(200, { 'Set-Cookie': ['session=1; Path=/', 'other=2; Domain=elsewhere.com; Path=/'] }).end('api'), true),
    });
    await proxy.router.deploy(
      deployParams('scoped', [api.address], { options: { hosts: ['scope.example.com'], pathPrefixes: ['/api'] }, target: { scopeCookiePaths: true } }),
    );
    const r = await get('scope.example.com', '/api/login');
    assert.deepEqual(r.headers['set-cookie'], ['session=1; Path=/api', 'other=2; Domain=elsewhere.com; Path=/']);
    await api.close();
  });
  test('writer affinity: timeouts under a second still set the cookie; 0 turns it off; X-Kamal-Target names the target', async () => {
    const seen: string[] = [];
    const route = (req: import('node:http').IncomingMessage) => void seen.push(String(req.headers['x-kamal-target']));
    const w = await startBackend('w', { route });
    const r = await startBackend('r', { route });
    await proxy.router.deploy(
      deployParams('aff', [w.address], { readers: [r.address], options: { hosts: ['aff.example.com'], writerAffinityTimeoutMs: 400 } }),
    );
    const write = await get('aff.example.com', '/', {}, 'PUT');
    assert.match(String(write.headers['set-cookie']), /^kamal-writer=\d+;/);
    await get('aff.example.com', '/', { 'x-kamal-target': 'spoofed' });
    assert.deepEqual(seen, [w.address, r.address], 'X-Kamal-Target is the chosen target, an incoming value replaced');
    await proxy.router.deploy(
      deployParams('aff', [w.address], { readers: [r.address], options: { hosts: ['aff.example.com'], writerAffinityTimeoutMs: 0 } }),
    );
    assert.equal((await get('aff.example.com', '/', {}, 'PATCH')).headers['set-cookie'], undefined);
    await Promise.all([w.close(), r.close()]);
  });

  test('with forward-headers an incoming X-Kamal-Target is kept and extended', async () => {
    let value = '';
    const b = await startBackend('fh', { route: (req) => void (value = String(req.headers['x-kamal-target'])) });
    await proxy.router.deploy(deployParams('fh', [b.address], { options: { hosts: ['fh.example.com'] }, target: { forwardHeaders: true } }));
    await get('fh.example.com', '/', { 'x-kamal-target': 'edge:1' });
    assert.equal(value, `edge:1, ${b.address}`);
    await b.close();
  });

  test('error responses from the app pass through untouched', async () => {
    const failing = await startBackend('failing', {
      route: (req, res) => (res.writeHead(503, { 'Content-Type': 'text/plain' }).end('app says no'), true),
    });
    const dir = scratchDir('kn-pages-');
    writeFileSync(join(dir, '503.html'), 'custom 503');
    await proxy.router.deploy(deployParams('fail', [failing.address], { options: { hosts: ['fail.example.com'], errorPagePath: dir } }));
    const r = await get('fail.example.com');
    assert.deepEqual([r.status, r.headers['content-type'], r.body], [503, 'text/plain', 'app says no']);
    await failing.close();
  });

  test('custom pages win per status; missing ones fall back to the built-in page with the message', async () => {
    const dir = scratchDir('kn-pages-');
    writeFileSync(join(dir, '504.html'), '<p>custom timeout</p>');
    await proxy.router.deploy(deployParams('mixed', [app.address], { options: { hosts: ['mixed.example.com'], errorPagePath: dir } }));
    await proxy.router.pause('mixed', 1_000, 50);
    assert.equal((await get('mixed.example.com')).body, '<p>custom timeout</p>');
    await proxy.router.stop('mixed', 1_000, 'see you soon');
    const stopped = await get('mixed.example.com');
    assert.equal(stopped.status, 503);
    assert.match(stopped.body, /Service Temporarily Unavailable/);
    assert.match(stopped.body, /see you soon/);
    await proxy.router.resume('mixed');
  });
});
