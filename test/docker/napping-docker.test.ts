// Napping with the Docker runtime against a real dockerd: the wake and idle
// tests of test/e2e/napping.test.ts, with containers instead of processes.
//
// Kamal's targets are container ids that Docker's DNS resolves; we may only
// send traffic to 127.0.0.1, so every app here runs with --network host on
// 127.0.0.1:<port>, is deployed with that target, and names its container
// with --nap-container (nap.container) instead.
//
// Starts are counted from the Engine's own `start` events, not from anything
// the proxy says about itself.
//
// With no daemon the file is skipped, saying so; with
// KAMAL_NAPPER_REQUIRE_DOCKER=1 (CI, after test/docker/setup.sh) it fails instead.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import type { Server } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Agent, request } from 'undici';
import { DEFAULT_NAP_IGNORE_USER_AGENTS } from '../../src/config/defaults.ts';
import { log } from '../../src/log/logger.ts';
import { loadNapConfig } from '../../src/nap/nap-config.ts';
import type { NapConfig } from '../../src/nap/nap-config.ts';
import type { NapRequest } from '../../src/control/protocol.ts';
import type { ServiceOptions } from '../../src/config/service-options.ts';
import { docker, removeAllDockerApps, startDockerApp, withDocker } from '../helpers/docker-app.ts';
import type { DockerApp, DockerAppOptions } from '../helpers/docker-app.ts';
import { deployParams, quietLogs, startTestProxy } from '../helpers/proxy.ts';
import type { TestProxy } from '../helpers/proxy.ts';
import { waitFor } from '../helpers/wait.ts';
import { openWebSocket } from '../helpers/ws-echo.ts';
import { scratchDir } from '../helpers/scratch-dir.ts';

// A monitor of our own, on top of the built-in list: "configured" bots.
const MONITOR_UA = 'KnTestMonitor/1.0 (+https://monitor.example.com)';
// For the failing-start tests: a failed wake costs up to this long, and the
// recovering wake (a real `docker start`) must fit in it on a busy machine.
const FAILING_WAKE_TIMEOUT_MS = 3_000;


await withDocker('napping with the Docker runtime', napTests);

function napTests(): void {
  const logFile = quietLogs();
  const napConfig: NapConfig = { ...loadNapConfig(), ignoreUserAgents: [...DEFAULT_NAP_IGNORE_USER_AGENTS, 'KnTestMonitor'] };
  const blockers: Server[] = [];
  const proxies: TestProxy[] = [];

  // Every proxy and container goes, whatever the tests did.
  after(async () => {
    try {
      for (const p of proxies) {
        for (const s of p.router.napStatus()) await p.router.remove(s.service).catch(() => {});
        await p.stop().catch(() => {});
      }
      for (const b of blockers) if (b.listening) b.close();
    } finally {
      await removeAllDockerApps();
    }
  });

  async function proxyOn(dir: string): Promise<TestProxy> {
    const p = await startTestProxy(dir, { docker: true, napConfig });
    proxies.push(p);
    return p;
  }

  // A napping app as Kamal leaves it: created, not started.
  function napApp(o: DockerAppOptions = {}): Promise<DockerApp> {
    return startDockerApp({ start: false, ...o });
  }

  const hostOf = (app: DockerApp) => `${app.service}.example.com`;

  // Routed by Host (hostOf) unless given other routing options.
  async function deploy(p: TestProxy, app: DockerApp, nap: Partial<NapRequest> & { idleTimeoutMs: number }, route?: Partial<ServiceOptions>): Promise<void> {
    await p.router.deploy({
      ...deployParams(app.service, [`127.0.0.1:${app.port}`], { options: route ?? { hosts: [hostOf(app)] } }),
      nap: { wakeTimeoutMs: 10_000, container: app.shortId, command: '', group: false, ...nap },
    });
  }

  const get = async (p: TestProxy, host: string, path = '/', headers: Record<string, string> = {}) => {
    const res = await request(p.url(path), { headers: { host, ...headers } });
    return { status: res.statusCode, headers: res.headers, body: await res.body.text() };
  };

  // ---- what the Engine says

  const running = async (id: string) => (await docker(['inspect', '-f', '{{.State.Running}}', id])) === 'true';
  const startedAt = (id: string) => docker(['inspect', '-f', '{{.State.StartedAt}}', id]);
  const now = () => (Date.now() / 1000).toFixed(3);

  // Events of one kind (start, kill...) of one container since `since` (a `now()`), until the present.
  async function events(action: string, id: string, since: string): Promise<number> {
    const out = await docker(['events', '--since', since, '--until', now(), '--filter', `container=${id}`, '--filter', `event=${action}`, '--format', '{{.ID}}']);
    return out.split('\n').filter(Boolean).length;
  }
  const starts = (id: string, since: string) => events('start', id, since);

  function wakingLines(service: string): number {
    log.flushSync();
    return readFileSync(logFile, 'utf8')
      .split('\n')
      .filter((l) => l.includes('"msg":"Waking"') && l.includes(`"service":"${service}"`)).length;
  }

  describe('napping (Docker runtime, real dockerd)', () => {
    let proxy: TestProxy;
    before(async () => {
      proxy = await proxyOn(scratchDir('kn-napd-'));
    });

    test('deploy starts a created container; after the idle timeout it is stopped', async () => {
      const app = await napApp();
      const since = now();
      // Long enough that the request below comes well before it, even on a busy machine.
      await deploy(proxy, app, { idleTimeoutMs: 1_000 });
      const res = await get(proxy, hostOf(app));
      assert.deepEqual([res.status, res.body], [200, `${app.name}\n`]);
      await waitFor(() => proxy.router.service(app.service)!.napper!.state === 'stopped', 5_000);
      assert.equal(await running(app.id), false, 'docker inspect: not running');
      assert.equal(await starts(app.id, since), 1, 'deploy started the container; the request found it awake');
      await assert.rejects(fetch(`${app.url}/up`, { signal: AbortSignal.timeout(1000) }), 'nothing listens any more');
    });

    test('200 concurrent requests to a stopped container: exactly one docker start, 200 times 200 OK', async () => {
      const app = await napApp({ readyAfterMs: 300 });
      await deploy(proxy, app, { idleTimeoutMs: 0 });
      await proxy.router.napNap(app.service);
      assert.equal(await running(app.id), false);
      const since = now();
      const wakingBefore = wakingLines(app.service);
      const agent = new Agent({ connections: 200 });
      try {
        const results = await Promise.all(
          Array.from({ length: 200 }, () =>
            request(proxy.url('/'), { headers: { host: hostOf(app), accept: 'application/json' }, dispatcher: agent }).then(async (r) => ({
              status: r.statusCode,
              body: await r.body.text(),
            })),
          ),
        );
        assert.equal(results.filter((r) => r.status === 200 && r.body === `${app.name}\n`).length, 200);
      } finally {
        await agent.close();
      }
      assert.equal(await starts(app.id, since), 1, 'one docker start, shared by every request');
      assert.equal(wakingLines(app.service) - wakingBefore, 1, 'one wake logged');
      assert.equal(await running(app.id), true);
    });

    // The bound is only there so a socket that never opens or never echoes
    // fails the test instead of hanging the run.
    test('a WebSocket opened to a stopped container connects after the wake', { timeout: 30_000 }, async () => {
      // httpd cannot speak WebSocket: this container runs nap-app.ts on Node.
      const app = await napApp({ app: 'node' });
      // A WebSocket client cannot set Host: the app is the catch-all on a
      // path of its own, so it shares this proxy with the other tests' hosts.
      const path = `/${app.service}/cable`;
      await deploy(proxy, app, { idleTimeoutMs: 0 }, { pathPrefixes: [path], stripPrefix: false });
      await proxy.router.napNap(app.service);
      assert.equal(await running(app.id), false, 'asleep before the WebSocket');
      const since = now();
      const wakingBefore = wakingLines(app.service);

      const socket = new WebSocket(`ws://127.0.0.1:${proxy.httpPort}${path}`);
      try {
        // Two messages: the first proves the upgrade reached the woken
        // container, the second that the tunnel stays up after it.
        const echoed = await new Promise<string[]>((resolve, reject) => {
          const received: string[] = [];
          socket.onopen = () => socket.send('after the wake');
          socket.onmessage = (e) => {
            received.push(String(e.data));
            if (received.length === 1) socket.send('and again');
            else resolve(received);
          };
          socket.onerror = () => reject(new Error('websocket failed'));
          socket.onclose = (e) => reject(new Error(`websocket closed (code ${e.code}) after ${received.length} echoes`));
        });
        assert.deepEqual(echoed, ['after the wake', 'and again']);
      } finally {
        socket.close();
      }
      assert.equal(await starts(app.id, since), 1, 'the upgrade woke the container with one docker start');
      assert.equal(wakingLines(app.service) - wakingBefore, 1, 'one wake logged');
      assert.equal(await running(app.id), true);
    });

    test('an open WebSocket keeps the container awake past the idle timeout; closing it lets it nap', { timeout: 30_000 }, async () => {
      const app = await napApp({ app: 'node' });
      const path = `/${app.service}/live`;
      // Routed by path, as above: a WebSocket client cannot set Host.
      await deploy(proxy, app, { idleTimeoutMs: 300 }, { pathPrefixes: [path], stripPrefix: false });
      const napper = proxy.router.service(app.service)!.napper!;
      const socket = await openWebSocket(`ws://127.0.0.1:${proxy.httpPort}${path}`);
      try {
        await new Promise((r) => setTimeout(r, 1_200)); // four idle timeouts
        assert.equal(napper.state, 'running', 'an open WebSocket is activity');
        assert.equal(await running(app.id), true, 'docker inspect: still running');
      } finally {
        socket.close();
      }
      await waitFor(() => napper.state === 'stopped', 10_000);
      assert.equal(await running(app.id), false, 'docker inspect: stopped once the socket closed');
    });

    test('health checks and configured bots neither wake the container nor keep it awake', async () => {
      const app = await napApp();
      await deploy(proxy, app, { idleTimeoutMs: 800 });
      const napper = proxy.router.service(app.service)!.napper!;
      await proxy.router.napNap(app.service);
      const since = now();

      const health = await get(proxy, hostOf(app), '/up');
      assert.deepEqual([health.status, health.body], [200, ''], 'outside health checks keep this host in rotation');
      for (const ua of [MONITOR_UA, 'Mozilla/5.0 (compatible; UptimeRobot/2.0)']) {
        const bot = await get(proxy, hostOf(app), '/', { 'user-agent': ua });
        assert.equal(bot.status, 503, ua);
        assert.equal(bot.headers['retry-after'], '1', ua);
      }
      await new Promise((r) => setTimeout(r, 300));
      assert.equal(await starts(app.id, since), 0, 'no docker start');
      assert.equal(await running(app.id), false);
      assert.equal(napper.state, 'stopped');

      // Awake, the monitor is served but does not count: the idle timeout
      // (800 ms) still puts the container to sleep while it polls.
      await proxy.router.napWake(app.service);
      const served = await get(proxy, hostOf(app), '/', { 'user-agent': MONITOR_UA });
      assert.deepEqual([served.status, served.body], [200, `${app.name}\n`], 'served while awake');
      const deadline = Date.now() + 5_000;
      while (napper.state !== 'stopped' && Date.now() < deadline) {
        await get(proxy, hostOf(app), '/', { 'user-agent': MONITOR_UA });
        await new Promise((r) => setTimeout(r, 100));
      }
      assert.equal(napper.state, 'stopped', 'the monitor did not keep it awake');
      assert.equal(await running(app.id), false);
    });

    test('a removed --nap-container: 503 with Retry-After; recreated, the next request wakes it', async () => {
      // Referenced by name, the way a container that is recreated keeps its identity.
      const app = await napApp();
      const same = { service: app.service, role: app.role, name: app.name, port: app.port };
      await deploy(proxy, app, { idleTimeoutMs: 0, wakeTimeoutMs: FAILING_WAKE_TIMEOUT_MS, container: app.name });
      await proxy.router.napNap(app.service);
      await app.remove();

      const failed = await get(proxy, hostOf(app), '/', { accept: 'application/json' });
      assert.equal(failed.status, 503);
      assert.equal(failed.headers['retry-after'], '1');
      assert.equal(proxy.router.service(app.service)!.napper!.state, 'stopped', 'back to stopped after the failed wake');

      const again = await napApp(same);
      const ok = await get(proxy, hostOf(app));
      assert.deepEqual([ok.status, ok.body], [200, `${again.name}\n`]);
      assert.equal(await running(again.id), true);
    });

    test('a container that exits at once: 503 with Retry-After; once the cause is gone, the next request wakes it', async () => {
      const app = await napApp();
      await deploy(proxy, app, { idleTimeoutMs: 0, wakeTimeoutMs: FAILING_WAKE_TIMEOUT_MS });
      await proxy.router.napNap(app.service);
      // Something else now holds the app's port: httpd cannot bind and the
      // container exits right after `docker start` succeeded. The blocker
      // drops every connection, so the readiness probe never passes.
      const blocker = await occupy(app.port);
      blockers.push(blocker);
      const since = now();

      const failed = await get(proxy, hostOf(app), '/', { accept: 'application/json' });
      assert.equal(failed.status, 503);
      assert.equal(failed.headers['retry-after'], '1');
      assert.equal(await starts(app.id, since), 1, 'docker start itself succeeded (no retries)');
      await waitFor(async () => !(await running(app.id)), 5_000);
      // Nobody stopped it (a `docker stop` sends a signal: a kill event): it died by itself.
      assert.equal(await events('die', app.id, since), 1);
      assert.equal(await events('kill', app.id, since), 0);
      assert.equal(proxy.router.service(app.service)!.napper!.state, 'stopped');

      await new Promise<void>((resolve) => blocker.close(() => resolve()));
      const ok = await get(proxy, hostOf(app));
      assert.deepEqual([ok.status, ok.body], [200, `${app.name}\n`]);
      assert.equal(await running(app.id), true);
    });

    test('--nap-group stops and starts the other roles of the service and destination, nothing else', async () => {
      const web = await napApp({ role: 'web', destination: 'production' });
      const job = await napApp({ service: web.service, role: 'job', destination: 'production' });
      // Same service, other destination; and another service: both running, neither ours.
      const staging = await startDockerApp({ service: web.service, role: 'job', destination: 'staging' });
      const other = await startDockerApp({ role: 'job', destination: 'production' });
      const untouched = async () => ({ staging: await startedAt(staging.id), other: await startedAt(other.id) });
      const baseline = await untouched();

      await deploy(proxy, web, { idleTimeoutMs: 0, group: true });
      await waitFor(() => running(job.id), 10_000); // the group starts in the background

      await proxy.router.napNap(web.service);
      assert.equal(await running(web.id), false);
      assert.equal(await running(job.id), false, 'the job role napped with the web role');
      assert.equal(await running(staging.id), true, 'another destination is untouched');
      assert.equal(await running(other.id), true, 'another service is untouched');

      const since = now();
      const res = await get(proxy, hostOf(web));
      assert.deepEqual([res.status, res.body], [200, `${web.name}\n`]);
      await waitFor(() => running(job.id), 10_000);
      assert.equal(await starts(job.id, since), 1, 'the job role woke with the web role');
      assert.deepEqual(await untouched(), baseline, 'neither was restarted');
    });
  });

  test('a restart of the proxy keeps a sleeping container asleep; its next request wakes it', async () => {
    const dir = scratchDir('kn-napd-restart-');
    const first = await proxyOn(dir);
    const sleepy = await napApp();
    const busy = await napApp();
    await deploy(first, sleepy, { idleTimeoutMs: 60_000 });
    await deploy(first, busy, { idleTimeoutMs: 60_000 });
    await first.router.napNap(sleepy.service);
    const busyStartedAt = await startedAt(busy.id);
    const since = now();
    await first.stop();
    proxies.splice(proxies.indexOf(first), 1);

    const second = await proxyOn(dir);
    assert.equal(second.router.service(sleepy.service)!.napper!.state, 'stopped', 'still asleep');
    assert.equal(second.router.service(busy.service)!.napper!.awake, true, 'an awake container stays awake');
    await new Promise((r) => setTimeout(r, 200)); // room for a wrong start to show
    assert.equal(await running(sleepy.id), false);
    assert.equal(await starts(sleepy.id, since), 0, 'the restart did not start it');
    assert.equal(await startedAt(busy.id), busyStartedAt, 'the awake one was adopted, not restarted');

    const res = await get(second, hostOf(sleepy));
    assert.deepEqual([res.status, res.body], [200, `${sleepy.name}\n`]);
    assert.equal(await starts(sleepy.id, since), 1);
  });
}

// Holds 127.0.0.1:<port>, dropping every connection.
function occupy(port: number): Promise<Server> {
  return new Promise((resolve, reject) => {
    const server = createServer((socket) => socket.destroy());
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve(server));
  });
}
