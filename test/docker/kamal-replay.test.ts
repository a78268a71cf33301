// Kamal replay: our proxy image booted and driven with the exact lines Kamal
// v2.12.0 runs (test/helpers/kamal.ts lists the few adaptations), against a
// real dockerd: boot, deploy, redeploy under load, a failing deploy,
// maintenance, reboot, remove, and three fixes seen in the field (the
// client address, bare-LF responses, an unwritable state volume).
// Napping is in kamal-replay-napping.test.ts, so the two files run in parallel.
//
// The test process sends traffic only to the proxy's ports published on
// 127.0.0.1; the proxy reaches the apps by their 12-hex ids on a network
// this file creates, as Kamal's proxy does on `kamal`.
//
// With no daemon the file is skipped, saying so; with
// KAMAL_NAPPER_REQUIRE_DOCKER=1 (CI, after test/docker/setup.sh) it fails instead.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { Agent } from 'undici';
import {
  APP_IMAGE,
  KAMAL_PROXY_MIN_VERSION,
  KamalHost,
  PROXY_IMAGE_TITLE_LABEL,
  appPrograms,
  buildProxyImage,
  withDocker,
  explain,
  must,
  poll,
  randomId,
  versionAtLeast,
} from '../helpers/kamal.ts';
import type { KamalApp, KamalProxy, Reply } from '../helpers/kamal.ts';


await withDocker('Kamal replay', replayTests);

function replayTests(): void {
  let host: KamalHost;
  let proxy: KamalProxy;

  // The image build comes first: on a cold cache it is most of the time.
  before(async () => {
    host = await KamalHost.open(await buildProxyImage());
    proxy = await host.proxy();
    await proxy.boot();
  }, { timeout: 290_000 });

  after(async () => {
    await host?.close();
  }, { timeout: 120_000 });

  const expectOk = (r: Reply, body: string, what: string) => assert.deepEqual([r.status, r.body], [200, body], what);

  describe('one app through its lifecycle, as Kamal drives it', () => {
    const appHost = 'app.example.com';
    let service: string; // Kamal's `service:`
    let v1: KamalApp;
    let v2: KamalApp;

    test('boot: the run line starts the proxy as the kamal-proxy user, empty, and its tag passes the version check', async () => {
      service = host.name('app');
      const messages = (await proxy.jsonLogs()).map((l) => l.msg);
      const noState = messages.indexOf('No previous state to restore');
      const started = messages.indexOf('Server started');
      assert.ok(noState >= 0, `"No previous state to restore" logged; got ${JSON.stringify(messages)}`);
      assert.ok(started > noState, `"Server started" logged after it; got ${JSON.stringify(messages)}`);

      // The image's user, the server process (as the host sees it) and a
      // `docker exec` all run as kamal-proxy, uid 1001. (The image has no
      // `id`: the exec'd shell reads its own /proc entry with builtins.)
      assert.match(await must(`docker inspect -f '{{.Config.User}}' ${proxy.name}`), /^kamal-proxy(:|$)/, 'USER kamal-proxy');
      const pid = await must(`docker inspect -f '{{.State.Pid}}' ${proxy.name}`);
      const uids = /^Uid:\s+(.*)$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]?.split(/\s+/);
      assert.deepEqual(uids, ['1001', '1001', '1001', '1001'], 'the server runs as uid 1001 (real, effective, saved, fs)');
      const exec = await proxy.exec(`sh -c 'while read -r k v; do [ "$k" = Uid: ] && echo $v; done < /proc/self/status'`);
      assert.deepEqual(exec.stdout.trim().split(/\s+/), ['1001', '1001', '1001', '1001'], `docker exec runs as uid 1001: ${explain(exec)}`);

      const list = await proxy.exec('kamal-proxy list');
      assert.equal(list.code, 0, explain(list));
      assert.match(list.stdout, /Service/, 'list prints its table header');

      // `kamal proxy boot` reads the tag and compares it as a Gem::Version.
      const tag = await proxy.version();
      const m = /^v(\d+(?:\.\d+)*)$/.exec(tag);
      assert.ok(m, `the image tag ${JSON.stringify(tag)} is v<digits and dots>`);
      assert.ok(versionAtLeast(m[1]!, KAMAL_PROXY_MIN_VERSION), `${tag} >= v${KAMAL_PROXY_MIN_VERSION}`);
      // What `kamal proxy reboot` prunes by.
      const [k, v] = PROXY_IMAGE_TITLE_LABEL.split('=');
      assert.equal(await must(`docker inspect -f '{{index .Config.Labels "${k}"}}' ${proxy.name}`), v);
    });

    test('deploy: Kamal\'s line to an app container by its 12-hex id routes its host, and only its host', async () => {
      v1 = await host.runApp({ service, cmd: appPrograms.static('v1') });
      const r = await proxy.deploy(v1, { hosts: [appHost] });
      assert.equal(r.code, 0, explain(r));
      expectOk(await proxy.get(appHost), 'v1\n', 'v1 answers for its host');
      assert.equal((await proxy.get('other.example.com')).status, 404, 'another host is not routed');
      const list = await proxy.exec('kamal-proxy list');
      const plain = list.stdout.replace(/\x1b\[[0-9;]*m/g, ''); // the table is coloured, as kamal-proxy's
      assert.match(plain, new RegExp(`^${v1.prefix}\\s+${appHost}\\s+/\\s+${v1.id}:80\\s+running\\b`, 'm'), plain);
    });

    test('redeploy under load: new version, Kamal\'s deploy line, docker stop of the old one; not one request fails', async () => {
      v2 = await host.runApp({ service, cmd: appPrograms.static('v2') });
      const load = startLoad(proxy, appHost, { workers: 4, maxPerWorker: 5_000, maxMs: 90_000 });
      try {
        await poll('every worker has seen v1', async () => load.workers.every((w) => w.filter((b) => b === 'v1\n').length >= 5), 20_000);
        const r = await proxy.deploy(v2, { hosts: [appHost] });
        assert.equal(r.code, 0, explain(r));
        await host.stopVersion(v1);
        const mark = load.workers.map((w) => w.length);
        await poll('every worker has 20 responses after the old container stopped', async () => load.workers.every((w, i) => w.length >= mark[i]! + 20), 20_000);
      } finally {
        await load.stop();
      }
      assert.deepEqual(load.failures, [], 'no request failed');
      for (const [i, w] of load.workers.entries()) {
        const firstV2 = w.indexOf('v2\n');
        assert.ok(firstV2 > 0, `worker ${i} saw v1, then v2`);
        assert.ok(w.slice(0, firstV2).every((b) => b === 'v1\n'), `worker ${i}: only v1 before the switch`);
        assert.ok(w.slice(firstV2).every((b) => b === 'v2\n'), `worker ${i}: only v2 once it saw v2 (never back to v1)`);
      }
      assert.equal(await must(`docker inspect -f '{{.State.Running}}' ${v1.id}`), 'false', 'the old container is stopped');
    });

    test('a deploy whose target never becomes healthy fails with the timeout message; the old version still serves', async () => {
      const bad = await host.runApp({ service, cmd: appPrograms.neverHealthy() });
      // deploy.yml `deploy_timeout: 5` (Kamal's default of 30 would only make this slower).
      const r = await proxy.deploy(bad, { hosts: [appHost], deployTimeout: 5 });
      assert.notEqual(r.code, 0, explain(r));
      assert.match(r.stderr, /target failed to become healthy within configured timeout \(5s\)/, explain(r));
      await host.stopVersion(bad); // what Kamal does after a failed deploy
      expectOk(await proxy.get(appHost), 'v2\n', 'v2 still serves');
    });

    test('maintenance: kamal app maintenance answers 503 with the message; kamal app live serves again', async () => {
      const stop = await proxy.maintenance(v2.prefix, 'Back soon');
      assert.equal(stop.code, 0, explain(stop));
      const down = await proxy.get(appHost);
      assert.equal(down.status, 503);
      assert.match(down.body, /Back soon/);
      const live = await proxy.live(v2.prefix);
      assert.equal(live.code, 0, explain(live));
      expectOk(await proxy.get(appHost), 'v2\n', 'serving again after resume');
    });

    test('kamal proxy reboot: stop, prune by label, run again on the same volume: the state is restored and routes', async () => {
      const { oldId } = await proxy.reboot();
      await proxy.waitForLog('Restored saved state');
      // Before anything is redeployed: only the restored state can route this.
      expectOk(await proxy.get(appHost), 'v2\n', 'the restored service routes to v2');
      assert.equal(await must(`docker ps --all --quiet --no-trunc --filter id=${oldId}`), '', 'the old proxy container was pruned');
      assert.notEqual(await proxy.containerId(), oldId, 'a new container runs under the same name');
    });

    test('kamal app stop: remove, then the app container is stopped; the host is no longer routed', async () => {
      const r = await proxy.remove(v2.prefix);
      assert.equal(r.code, 0, explain(r));
      assert.equal((await proxy.get(appHost)).status, 404);
      const stop = await host.stopCurrent(service, 'web');
      assert.equal(stop.code, 0, explain(stop));
      assert.equal(await must(`docker inspect -f '{{.State.Running}}' ${v2.id}`), 'false');
    });
  });

  describe('fixes, through Kamal\'s lines', () => {
    // `kamal proxy boot` again: a no-op on a running proxy, and a fresh one
    // if a lifecycle test above left it stopped or pruned.
    before(() => proxy.boot());

    test('the app and the request log see the client as the gateway\'s IPv4 address, never ::ffff:-mapped', async () => {
      const echoHost = 'echo.example.com';
      const app = await host.runApp({ service: host.name('echo'), cmd: appPrograms.echoForwardedFor() });
      const r = await proxy.deploy(app, { hosts: [echoHost] });
      assert.equal(r.code, 0, explain(r));
      // docker-proxy relays 127.0.0.1:<port> from the network's gateway address.
      const gateway = await must(`docker network inspect -f '{{range .IPAM.Config}}{{.Gateway}}{{end}}' ${host.network}`);
      assert.match(gateway, /^\d+\.\d+\.\d+\.\d+$/, 'the test network has an IPv4 gateway');

      const path = `/cgi-bin/xff?probe=${randomId()}`;
      const res = await proxy.get(echoHost, path);
      assert.equal(res.status, 200, res.body);
      const xff = res.body.trim();
      assert.doesNotMatch(xff, /::ffff:/i, `X-Forwarded-For ${xff}`);
      assert.equal(xff, gateway, 'X-Forwarded-For is the client, the gateway');

      const line = await poll('the request log line', async () =>
        (await proxy.jsonLogs()).find((l) => l.msg === 'Request' && l.host === echoHost && typeof l.path === 'string' && `${l.path}?${l.query}` === path),
      10_000);
      assert.equal(line.client_addr, gateway, `client_addr in ${JSON.stringify(line)}`);
      assert.equal(line.remote_addr, gateway, `remote_addr in ${JSON.stringify(line)}`);
    });

    test('an app whose response headers end in a bare LF passes its health check and answers through the buffering proxy', async () => {
      const lfHost = 'lf.example.com';
      const app = await host.runApp({ service: host.name('lf'), cmd: appPrograms.bareLf() });
      const r = await proxy.deploy(app, { hosts: [lfHost], deployTimeout: 10 });
      assert.equal(r.code, 0, `${explain(r)}\n--- proxy log\n${await proxy.tail()}`);
      expectOk(await proxy.get(lfHost), 'ok', 'the bare-LF response, relayed');
      expectOk(await proxy.get(lfHost, '/again'), 'ok', 'and again');
    });

    test('a state volume owned by another uid: a deploy either fails before switching, saying why, or switches; never fails after switching', async () => {
      // Kamal's kamal-proxy-config volume, left owned by another image's user.
      // The marker file keeps the volume non-empty, so Docker does not copy
      // the image's directory (and its owner) into it on the first mount.
      const volume = await host.createVolume('kamal-proxy-config-foreign');
      const ownVolume = (uid: number) =>
        must(`docker run --rm --network none -v ${volume}:/data ${APP_IMAGE} sh -c 'touch /data/marker && chown -R ${uid}:${uid} /data && chmod 700 /data'`);
      await ownVolume(4242);
      const p = await host.proxy({ volume });
      await p.boot();
      const dir = '/home/kamal-proxy/.config/kamal-proxy';
      assert.equal(await must(`docker run --rm --network none -v ${volume}:/data ${APP_IMAGE} stat -c %u:%a /data`), '4242:700', 'precondition: the state dir is 4242\'s alone');
      assert.notEqual((await p.exec(`sh -c 'test -w ${dir}'`)).code, 0, 'precondition: the proxy cannot write its state dir');

      const stateHost = 'state.example.com';
      const service = host.name('state');
      let serving: string | null = null; // the body the host answers with; null: not routed
      // One deploy, and the invariant. Returns whether it succeeded.
      const deployChecked = async (text: string): Promise<boolean> => {
        const app = await host.runApp({ service, cmd: appPrograms.static(text) });
        const r = await p.deploy(app, { hosts: [stateHost], deployTimeout: 10 });
        const res = await p.get(stateHost);
        const context = `${explain(r)}\n--- got ${res.status} ${res.body.slice(0, 200)}\n--- proxy log\n${await p.tail()}`;
        if (r.code === 0) {
          expectOk(res, `${text}\n`, `deploy of ${text} succeeded, so its route is live\n${context}`);
          serving = `${text}\n`;
          return true;
        }
        if (serving === null) assert.equal(res.status, 404, `deploy of ${text} failed, yet its route is live\n${context}`);
        else expectOk(res, serving, `deploy of ${text} failed: the previous version must still serve\n${context}`);
        assert.match(r.stderr, /sav(e|ing)\b.*\bstate/i, `deploy of ${text} failed: it must say the state could not be saved\n${context}`);
        await host.stopVersion(app); // what Kamal does after a failed deploy
        return false;
      };

      // Booted on the foreign volume.
      await deployChecked('s1');
      // The operator gives the directory to kamal-proxy: deploys work, with no reboot.
      await ownVolume(1001);
      assert.equal(await deployChecked('s2'), true, 'once the state dir is writable, a deploy succeeds');
      // Taken away again under the running proxy, with s2 serving.
      await ownVolume(4242);
      await deployChecked('s3');
    });
  });
}

// Load from the test process: `workers` loops, each one request at a time on
// a shared keep-alive pool, bounded by a count and a time. Each worker keeps
// the bodies of its 200s in order; anything else is a failure.
function startLoad(proxy: KamalProxy, hostName: string, o: { workers: number; maxPerWorker: number; maxMs: number }) {
  const agent = new Agent({ connections: o.workers, keepAliveTimeout: 2_000 });
  const deadline = Date.now() + o.maxMs;
  const workers: string[][] = Array.from({ length: o.workers }, () => []);
  const failures: string[] = [];
  let stopped = false;
  const loops = workers.map(async (bodies) => {
    while (!stopped && bodies.length < o.maxPerWorker && Date.now() < deadline) {
      try {
        const r = await proxy.get(hostName, '/', { dispatcher: agent, timeoutMs: 30_000 });
        if (r.status === 200) bodies.push(r.body);
        else failures.push(`${r.status} ${r.body.slice(0, 200)}`);
      } catch (err) {
        failures.push(String(err));
      }
    }
  });
  return {
    workers,
    failures,
    async stop() {
      stopped = true;
      await Promise.all(loops);
      await agent.close();
    },
  };
}
