// Napping with the process runtime: idle apps stop, the next request wakes
// them exactly once, and no request is lost.
import assert from 'node:assert/strict';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Agent, request } from 'undici';
import { deployParams, quietLogs, startTestProxy } from '../helpers/proxy.ts';
import type { TestProxy } from '../helpers/proxy.ts';
import { napApp, napRequest } from '../helpers/nap.ts';
import { waitFor } from '../helpers/wait.ts';
import { openWebSocket } from '../helpers/ws-echo.ts';
import { scratchDir } from '../helpers/scratch-dir.ts';

quietLogs();

describe('napping (process runtime)', () => {
  let proxy: TestProxy;
  let dir: string;
  before(async () => {
    dir = scratchDir('kn-nap-');
    proxy = await startTestProxy(dir);
  });
  after(async () => {
    for (const s of proxy.router.napStatus()) await proxy.router.remove(s.service).catch(() => {});
    await proxy.stop();
  });

  const get = async (host: string, path = '/', headers: Record<string, string> = {}) => {
    const res = await request(proxy.url(path), { headers: { host, ...headers } });
    return { status: res.statusCode, headers: res.headers, body: await res.body.text() };
  };

  async function deployNapping(name: string, idleTimeoutMs: number, env: Record<string, string> = {}, before = '', route?: { pathPrefixes: string[] }) {
    const app = await napApp(dir, name, env, before);
    const options = route ? { ...route, stripPrefix: false } : { hosts: [`${name}.example.com`] };
    await proxy.router.deploy({ ...deployParams(name, [app.address], { options }), nap: napRequest({ command: app.command, idleTimeoutMs }) });
    return app;
  }

  test('deploy starts an app that is not running yet; it stops after the idle timeout', async () => {
    const app = await deployNapping('idle', 300);
    assert.equal(app.starts(), 1, 'deploy started the app for its health check');
    assert.equal((await get('idle.example.com')).body, 'hello from idle');
    await waitFor(() => proxy.router.service('idle')!.napper!.state === 'stopped', 5_000);
    await assert.rejects(request(`http://${app.address}/up`), 'the app process is gone');
  });

  test('200 concurrent requests to a stopped app: exactly one start, 200 times 200 OK', async () => {
    const app = await deployNapping('burst', 0, { READY_DELAY_MS: '300' });
    await proxy.router.napNap('burst');
    const startsBefore = app.starts();
    const agent = new Agent({ connections: 200 });
    const results = await Promise.all(
      Array.from({ length: 200 }, () =>
        request(proxy.url('/api'), { headers: { host: 'burst.example.com', accept: 'application/json' }, dispatcher: agent }).then(async (r) => ({
          status: r.statusCode,
          body: await r.body.text(),
        })),
      ),
    );
    assert.equal(results.filter((r) => r.status === 200 && r.body === 'hello from burst').length, 200);
    assert.equal(app.starts() - startsBefore, 1, 'one wake, shared by every request');
    await agent.close();
  });

  test('a WebSocket opened to a stopped app connects after the wake', async () => {
    // A WebSocket client cannot set Host: this app is the catch-all on /cable.
    await deployNapping('ws', 0, {}, '', { pathPrefixes: ['/cable'] });
    await proxy.router.napNap('ws');
    assert.equal(proxy.router.service('ws')!.napper!.state, 'stopped');
    const socket = new WebSocket(`ws://127.0.0.1:${proxy.httpPort}/cable`);
    const echoed = await new Promise<string>((resolve, reject) => {
      socket.onopen = () => socket.send('after the wake');
      socket.onmessage = (e) => resolve(String(e.data));
      socket.onerror = () => reject(new Error('websocket failed'));
    });
    assert.equal(echoed, 'after the wake');
    socket.close();
    await proxy.router.remove('ws');
  });

  test('an open WebSocket keeps the app awake past the idle timeout; closing it lets the app nap', async () => {
    await deployNapping('wslive', 300, {}, '', { pathPrefixes: ['/live'] });
    const napper = proxy.router.service('wslive')!.napper!;
    const socket = await openWebSocket(`ws://127.0.0.1:${proxy.httpPort}/live`);
    await new Promise((r) => setTimeout(r, 900)); // three idle timeouts
    assert.equal(napper.state, 'running', 'an open WebSocket is activity');
    assert.equal(napper.active, 1);
    socket.close();
    await waitFor(() => napper.state === 'stopped', 5_000);
  });

  test('health checks and configured bots neither wake the app nor keep it awake', async () => {
    const app = await deployNapping('quiet', 0);
    await proxy.router.napNap('quiet');
    const startsBefore = app.starts();
    const health = await get('quiet.example.com', '/up');
    assert.deepEqual([health.status, health.body], [200, ''], 'outside health checks keep this host in rotation');
    const bot = await get('quiet.example.com', '/', { 'user-agent': 'Mozilla/5.0 (compatible; UptimeRobot/2.0)' });
    assert.equal(bot.status, 503);
    assert.equal(bot.headers['retry-after'], '1');
    const crawler = await get('quiet.example.com', '/', { 'user-agent': 'Mozilla/5.0 (compatible; Googlebot/2.1)' });
    assert.equal(crawler.status, 503);
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(app.starts(), startsBefore);
    assert.equal(proxy.router.service('quiet')!.napper!.state, 'stopped');
    // Awake, a bot is served but does not count as activity.
    await proxy.router.napWake('quiet');
    const napper = proxy.router.service('quiet')!.napper!;
    const lastActivity = napper.lastActivityMs;
    await new Promise((r) => setTimeout(r, 20));
    assert.equal((await get('quiet.example.com', '/', { 'user-agent': 'UptimeRobot/2.0' })).status, 200);
    assert.equal(napper.lastActivityMs, lastActivity);
  });

  test('a failing start answers 503 with Retry-After, and the next request recovers once the app is fixed', async () => {
    // The app's command fails at once while the marker file exists.
    const broken = join(dir, 'broken');
    await deployNapping('flaky', 0, {}, `[ -e ${broken} ] && exit 3; `);
    await proxy.router.napNap('flaky');
    writeFileSync(broken, '');
    const failed = await get('flaky.example.com', '/', { accept: 'application/json' });
    assert.equal(failed.status, 503);
    assert.equal(failed.headers['retry-after'], '1');
    assert.equal(proxy.router.service('flaky')!.napper!.state, 'stopped', 'back to stopped after the failed wake');
    rmSync(broken);
    const ok = await get('flaky.example.com');
    assert.deepEqual([ok.status, ok.body], [200, 'hello from flaky']);
  });

  test('a browser navigation gets the waiting page at once (503, Retry-After, no-store); the app then wakes', async () => {
    await deployNapping('browser', 0, { READY_DELAY_MS: '500' });
    await proxy.router.napNap('browser');
    const page = await get('browser.example.com', '/dashboard', { accept: 'text/html,application/xhtml+xml', 'sec-fetch-mode': 'navigate' });
    assert.equal(page.status, 503);
    assert.equal(page.headers['retry-after'], '1');
    assert.equal(page.headers['cache-control'], 'no-store');
    assert.match(page.body, /Waking up browser/);
    assert.match(page.body, /\/\.kamal-napper\/events/);
    const napper = proxy.router.service('browser')!.napper!;
    await waitFor(() => napper.awake, 10_000);
    assert.equal((await get('browser.example.com', '/dashboard')).body, 'hello from browser');
  });
  test("the waiting page's feed follows the wake, or joins it; in maintenance or for a monitor it ends empty and wakes nothing", async () => {
    const app = await deployNapping('feed', 0, { READY_DELAY_MS: '200' });
    await proxy.router.napNap('feed');
    const starts = app.starts();
    const feed = (headers: Record<string, string> = {}) => get('feed.example.com', '/.kamal-napper/events', headers);
    const monitor = await feed({ 'user-agent': 'Mozilla/5.0 (compatible; UptimeRobot/2.0)' });
    await proxy.router.stop('feed', 1_000, 'Back soon');
    const maintenance = await feed();
    await proxy.router.resume('feed');
    assert.deepEqual([monitor.status, maintenance.status], [204, 204]);
    assert.equal(app.starts(), starts, 'neither woke the app');
    // A feed that finds no wake under way (the page's own wake has not reached
    // this thread yet) asks for it: the stream ends with ready.
    const joined = await feed();
    assert.equal(joined.status, 200);
    const events = joined.body.split('\n').filter((l) => l.startsWith('data: ')).map((l) => JSON.parse(l.slice(6)) as { ready: boolean });
    assert.equal(events.at(-1)?.ready, true);
    assert.equal(app.starts() - starts, 1);
  });

  test('a restart of the proxy keeps a sleeping app asleep, and its next request wakes it', async () => {
    const restartDir = scratchDir('kn-nap-restart-');
    const first = await startTestProxy(restartDir);
    const app = await napApp(restartDir, 'sleepy');
    await first.router.deploy({ ...deployParams('sleepy', [app.address], { options: { hosts: ['sleepy.example.com'] } }), nap: napRequest({ command: app.command, idleTimeoutMs: 60_000 }) });
    const awake = await napApp(restartDir, 'busy');
    await first.router.deploy({ ...deployParams('busy', [awake.address], { options: { hosts: ['busy.example.com'] } }), nap: napRequest({ command: awake.command, idleTimeoutMs: 60_000 }) });
    await first.router.napNap('sleepy');
    await first.stop();

    const second = await startTestProxy(restartDir);
    try {
      assert.equal(second.router.service('sleepy')!.napper!.state, 'stopped', 'still asleep');
      assert.equal(app.starts(), 1, 'the restart did not start it');
      assert.equal(second.router.service('busy')!.napper!.awake, true, 'an awake app stays awake (its process was adopted)');
      assert.equal(awake.starts(), 1, 'and was not started a second time');
      const res = await request(second.url('/'), { headers: { host: 'sleepy.example.com' } });
      assert.equal(await res.body.text(), 'hello from sleepy');
      assert.equal(app.starts(), 2);
    } finally {
      await second.router.remove('sleepy');
      await second.router.remove('busy');
      await second.stop();
    }
  });
});
