// Kamal replay, napping: our proxy image booted with Kamal's run line plus the
// `proxy.run.options` a user adds for napping (the Docker socket, its group,
// KAMAL_NAPPER_DOCKER=1, KAMAL_NAPPER_IDLE_TIMEOUT), and apps deployed with
// Kamal's unchanged lines: with no per-app setup, every Kamal app container
// (labels service and role) naps; `kamal-napper.<flag>` labels from
// deploy.yml's `labels:` tune it per app. Lifecycle without napping is in
// kamal-replay.test.ts; the two files run in parallel.
//
// States are read from the Engine (docker inspect, docker events), and waited
// for by polling. A claim that something does *not* happen (an app that must
// stay up, a stopped one that must stay down) is watched for a window of a
// few idle timeouts, anchored where possible to a control app that does nap
// in the same time.
//
// With no daemon the file is skipped, saying so; with
// KAMAL_NAPPER_REQUIRE_DOCKER=1 (CI, after test/docker/setup.sh) it fails instead.
import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, test } from 'node:test';
import {
  KamalHost,
  appPrograms,
  buildProxyImage,
  countEvents,
  dockerNow,
  withDocker,
  explain,
  isRunning,
  must,
  poll,
} from '../helpers/kamal.ts';
import type { KamalApp, KamalProxy, Reply } from '../helpers/kamal.ts';


// The proxy-wide idle timeout, as a user would write it in deploy.yml.
const IDLE = '3s';
const IDLE_MS = 3_000;
// Bounds for waiting, never expectations: a nap is due IDLE_MS after the last
// request; a busy machine may take longer to get there.
const NAP_WAIT_MS = 15_000;
// How long "stays running" / "stays stopped" is watched.
const WATCH_MS = 2 * IDLE_MS;

await withDocker('Kamal replay: napping', napTests);

function napTests(): void {
  let host: KamalHost;
  let proxy: KamalProxy; // KAMAL_NAPPER_IDLE_TIMEOUT=3s: every Kamal app naps
  let socketGid: string;

  // proxy.run.options in deploy.yml, e.g.
  //   proxy: { run: { options: { env: [...], volume: ..., group-add: ... } } }
  const napOptions = (idleTimeout: string) => ({
    env: ['KAMAL_NAPPER_DOCKER=1', `KAMAL_NAPPER_IDLE_TIMEOUT=${idleTimeout}`],
    volume: '/var/run/docker.sock:/var/run/docker.sock',
    'group-add': socketGid,
  });

  before(async () => {
    socketGid = await must('stat -c %g /var/run/docker.sock');
    host = await KamalHost.open(await buildProxyImage());
    proxy = await host.proxy({ runOptions: napOptions(IDLE) });
    await proxy.boot();
  }, { timeout: 290_000 });

  after(async () => {
    await host?.close();
  }, { timeout: 120_000 });

  // ---- helpers

  let n = 0;
  // A Kamal app (service <base>-<id>, role web) answering `<text>\n`.
  function app(base: string, text: string, labels?: Record<string, string>): Promise<KamalApp> {
    return host.runApp({ service: host.name(`${base}${n++}`), cmd: appPrograms.static(text), labels });
  }
  const hostOf = (a: { service: string }) => `${a.service}.example.com`;

  async function deploy(p: KamalProxy, a: KamalApp, hosts = [hostOf(a)]): Promise<void> {
    const r = await p.deploy(a, { hosts });
    assert.equal(r.code, 0, `${explain(r)}\n--- proxy log\n${await p.tail()}`);
  }

  const ok = (r: Reply, body: string, what: string) => assert.deepEqual([r.status, r.body], [200, body], what);

  async function waitStopped(id: string, what: string): Promise<void> {
    await poll(`${what} stopped (docker inspect)`, async () => !(await isRunning(id)), NAP_WAIT_MS, 200);
  }

  // Watches the container for WATCH_MS: it must be in `running` state at
  // every look, and have no die/start event in the window.
  async function staysRunning(id: string, running: boolean, what: string): Promise<void> {
    const since = dockerNow();
    const end = Date.now() + WATCH_MS;
    while (Date.now() < end) {
      assert.equal(await isRunning(id), running, `${what}: ${running ? 'still running' : 'still stopped'}`);
      await new Promise((r) => setTimeout(r, 250));
    }
    assert.equal(await countEvents(id, running ? 'die' : 'start', since), 0, `${what}: no ${running ? 'die' : 'start'} event while watched`);
  }

  // `kamal-napper status`: the state column of the service's row.
  async function napState(p: KamalProxy, service: string): Promise<string | undefined> {
    const r = await p.exec('kamal-napper status');
    assert.equal(r.code, 0, explain(r));
    const row = r.stdout.split('\n').find((l) => l.split(/\s+/)[0] === service);
    return row?.split(/\s+/)[1];
  }

  describe('napping with no per-app setup, driven by Kamal\'s lines', () => {
    // `kamal proxy boot` before each: a no-op on a running proxy, so one test
    // that leaves it stopped (a failed reboot) does not fail the rest.
    beforeEach(() => proxy.boot());

    test('by default: a Kamal app naps after the idle timeout; a plain request wakes it; 20 at once cost one start', async () => {
      const a = await app('sleepy', 'awake');
      await deploy(proxy, a);
      ok(await proxy.get(hostOf(a)), 'awake\n', 'serves once deployed');
      await waitStopped(a.id, 'the idle app');
      await poll('kamal-napper status lists it as stopped', async () => (await napState(proxy, a.prefix)) === 'stopped', 10_000);

      let since = dockerNow();
      ok(await proxy.get(hostOf(a)), 'awake\n', 'the request that wakes it');
      assert.equal(await isRunning(a.id), true, 'running again');
      assert.equal(await countEvents(a.id, 'start', since), 1, 'one docker start');

      await waitStopped(a.id, 'the app, idle again');
      since = dockerNow();
      const replies = await Promise.all(Array.from({ length: 20 }, () => proxy.get(hostOf(a))));
      assert.deepEqual(replies.map((r) => `${r.status} ${r.body}`), Array(20).fill('200 awake\n'), 'all 20 answered by the app');
      assert.equal(await countEvents(a.id, 'start', since), 1, 'exactly one docker start for the 20');
      assert.equal(await isRunning(a.id), true);
    });

    test('by label: kamal-napper.idle-timeout=2s naps an app under a proxy whose default is off (KAMAL_NAPPER_IDLE_TIMEOUT=0)', async () => {
      const off = await host.proxy({ runOptions: napOptions('0') });
      await off.boot();
      const labelled = await app('labelled', 'labelled', { 'kamal-napper.idle-timeout': '2s' });
      const plain = await app('plain', 'plain');
      await deploy(off, labelled);
      await deploy(off, plain);
      ok(await off.get(hostOf(labelled)), 'labelled\n', 'the labelled app serves');
      ok(await off.get(hostOf(plain)), 'plain\n', 'the plain app serves');
      await waitStopped(labelled.id, 'the labelled app');
      await staysRunning(plain.id, true, 'the unlabelled app under a proxy with napping off by default');

      const since = dockerNow();
      ok(await off.get(hostOf(labelled)), 'labelled\n', 'the request that wakes it');
      assert.equal(await countEvents(labelled.id, 'start', since), 1, 'one docker start');
    });

    test('opted out: kamal-napper.idle-timeout=0 keeps an app up while a default app on the same proxy naps', async () => {
      const kept = await app('kept', 'kept', { 'kamal-napper.idle-timeout': '0' });
      const control = await app('control', 'control');
      await deploy(proxy, kept);
      await deploy(proxy, control);
      ok(await proxy.get(hostOf(kept)), 'kept\n', 'the opted-out app serves');
      ok(await proxy.get(hostOf(control)), 'control\n', 'the control serves');
      await waitStopped(control.id, 'the control app');
      await staysRunning(kept.id, true, 'the opted-out app');
      ok(await proxy.get(hostOf(kept)), 'kept\n', 'still serving');
    });

    test('a label value that does not parse fails the deploy, naming the label; nothing is routed', async () => {
      const bad = await app('badlabel', 'bad', { 'kamal-napper.idle-timeout': 'soon' });
      const r = await proxy.deploy(bad, { hosts: [hostOf(bad)] });
      assert.notEqual(r.code, 0, explain(r));
      assert.match(r.stderr, /kamal-napper\.idle-timeout/, explain(r));
      await host.stopVersion(bad); // what Kamal does after a failed deploy
      assert.equal((await proxy.get(hostOf(bad))).status, 404, 'the failed deploy routes nothing');
    });

    test('maintenance while asleep: 503 with the message and the app stays stopped; after live, a request wakes it', async () => {
      const a = await app('maint', 'maint');
      await deploy(proxy, a);
      await waitStopped(a.id, 'the idle app');
      const since = dockerNow();
      const stop = await proxy.maintenance(a.prefix, 'Back soon');
      assert.equal(stop.code, 0, explain(stop));
      const down = await proxy.get(hostOf(a));
      assert.equal(down.status, 503);
      assert.match(down.body, /Back soon/);
      assert.equal(await isRunning(a.id), false, 'still stopped');
      assert.equal(await countEvents(a.id, 'start', since), 0, 'maintenance and its 503 started nothing');

      const live = await proxy.live(a.prefix);
      assert.equal(live.code, 0, explain(live));
      ok(await proxy.get(hostOf(a)), 'maint\n', 'the request after live wakes it');
      assert.equal(await countEvents(a.id, 'start', since), 1, 'one docker start');
    });

    test('kamal proxy reboot while asleep: the new proxy leaves the app stopped, and the next request wakes it', async () => {
      const a = await app('reboot', 'rebooted');
      await deploy(proxy, a);
      await waitStopped(a.id, 'the idle app');
      const since = dockerNow();
      await proxy.reboot();
      await proxy.waitForLog('Restored saved state');
      assert.equal(await isRunning(a.id), false, 'still stopped after the reboot');
      assert.equal(await countEvents(a.id, 'start', since), 0, 'the reboot started nothing');
      await poll('kamal-napper status of the new proxy lists it as stopped', async () => (await napState(proxy, a.prefix)) === 'stopped', 10_000);
      ok(await proxy.get(hostOf(a)), 'rebooted\n', 'the next request wakes it');
      assert.equal(await countEvents(a.id, 'start', since), 1, 'one docker start');
    });

    test('deploy while asleep: the new version serves, and the sleeping old one is not woken', async () => {
      const old = await app('redeploy', 'old');
      await deploy(proxy, old);
      await waitStopped(old.id, 'the old version');
      const since = dockerNow();
      const fresh = await host.runApp({ service: old.service, cmd: appPrograms.static('new') });
      await deploy(proxy, fresh, [hostOf(old)]);
      await host.stopVersion(old); // Kamal stops the old version after the deploy
      ok(await proxy.get(hostOf(old)), 'new\n', 'the new version answers');
      assert.equal(await countEvents(old.id, 'start', since), 0, 'the old version was never started');
    });

    test('kamal app stop while asleep keeps it stopped (no request, no timer wakes it); kamal app start serves again', async () => {
      const a = await app('appstop', 'restarted');
      await deploy(proxy, a);
      await waitStopped(a.id, 'the idle app');
      const rm = await proxy.remove(a.prefix);
      assert.equal(rm.code, 0, explain(rm));
      // Nothing runs, so Kamal's `... | xargs docker stop` has nothing to stop (and Kamal ignores its exit).
      await host.stopCurrent(a.service, a.role);
      assert.equal((await proxy.get(hostOf(a))).status, 404, 'not routed any more');
      await staysRunning(a.id, false, 'the stopped app');
      assert.equal(await napState(proxy, a.prefix), undefined, 'kamal-napper status no longer lists it');

      // kamal app start: docker start, then the deploy line again.
      const start = await host.startApp(a);
      assert.equal(start.code, 0, explain(start));
      await deploy(proxy, a);
      ok(await proxy.get(hostOf(a)), 'restarted\n', 'serves again');
    });

    test('an accessory behind the proxy (labelled only service=<svc>-db) never naps', async () => {
      const db = await host.runAccessory(`${host.name(`app${n++}`)}-db`, appPrograms.static('db'));
      const control = await app('dbcontrol', 'control');
      const r = await proxy.deploy(db, { hosts: [hostOf(db)] });
      assert.equal(r.code, 0, explain(r));
      await deploy(proxy, control);
      ok(await proxy.get(hostOf(db)), 'db\n', 'the accessory serves');
      ok(await proxy.get(hostOf(control)), 'control\n', 'the control serves');
      await waitStopped(control.id, 'the control app');
      await staysRunning(db.id, true, 'the accessory');
    });
  });
}
