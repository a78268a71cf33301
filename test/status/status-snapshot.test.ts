// The status snapshot (/status.json and the status page) from a Router with
// services deployed to real backends on 127.0.0.1: routes, targets and their
// health, a rollout, maintenance states, and a napping app through a nap and
// a wake.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { loadNapConfig } from '../../src/nap/nap-config.ts';
import { renderStatusPage } from '../../src/pages/status-page.ts';
import { Router } from '../../src/router/router.ts';
import { statusSnapshot } from '../../src/status/status-snapshot.ts';
import type { StatusSnapshot } from '../../src/status/status-snapshot.ts';
import { statusJson, statusPage } from '../../src/status/status.ts';
import { startBackend } from '../helpers/backend.ts';
import type { Backend } from '../helpers/backend.ts';
import { napApp, napRequest } from '../helpers/nap.ts';
import type { NapApp } from '../helpers/nap.ts';
import { deployParams, quietLogs } from '../helpers/proxy.ts';
import { scratchDir } from '../helpers/scratch-dir.ts';
import { selfSigned, tempDir } from '../tls/openssl.ts';

quietLogs();

const ISO = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;

let router: Router;
let dir: string;
const backends: Record<string, Backend> = {};
let sleepy: NapApp;

before(async () => {
  dir = scratchDir('kn-status-');
  // Idle timeout 0: only the service deployed with napping naps.
  router = new Router(join(dir, 'kamal-proxy.state'), {
    config: loadNapConfig({ KAMAL_NAPPER_IDLE_TIMEOUT: '0' }, '/nonexistent'),
    docker: null,
    runtimeDir: join(dir, 'nap'),
  });
  for (const name of ['web1', 'web2', 'reader', 'canary', 'api', 'held']) backends[name] = await startBackend(name);

  const cert = selfSigned(tempDir(), 'status', ['a.example.com', 'b.example.com']);
  await router.deploy(deployParams('web', [backends.web1.address, backends.web2.address], {
    readers: [backends.reader.address],
    options: { hosts: ['a.example.com', 'b.example.com'], tlsEnabled: true, tlsCertificatePath: cert.certPath, tlsPrivateKeyPath: cert.keyPath },
  }));
  await router.rolloutDeploy({ service: 'web', targets: [backends.canary.address], readers: [], deployTimeoutMs: 5_000, drainTimeoutMs: 1_000 });
  await router.rolloutSet('web', 25, ['beta']);

  await router.deploy(deployParams('api', [backends.api.address], { options: { pathPrefixes: ['/api'] } }));
  await router.stop('api', 1_000, 'Back at <noon> & "soon"');

  await router.deploy(deployParams('held', [backends.held.address], { options: { hosts: ['held.example.com'] } }));
  await router.pause('held', 1_000, 60_000);

  sleepy = await napApp(dir, 'sleepy');
  await router.deploy({
    ...deployParams('sleepy', [sleepy.address], { options: { hosts: ['sleepy.example.com'] }, deployTimeoutMs: 10_000 }),
    nap: napRequest({ command: sleepy.command, idleTimeoutMs: 3_600_000 }),
  });
});

after(async () => {
  await router.remove('sleepy').catch(() => {}); // stops its app
  await router.resume('held').catch(() => {});
  router.close();
  for (const b of Object.values(backends)) await b.close();
});

const find = (s: StatusSnapshot, name: string) => {
  const found = s.services.find((v) => v.name === name);
  assert.ok(found, name);
  return found;
};

test('every service, sorted, with its routes, TLS and targets with their health', () => {
  const s = statusSnapshot(router);
  assert.deepEqual(s.services.map((v) => v.name), ['api', 'held', 'sleepy', 'web']);
  const healthy = (b: Backend) => ({ address: b.address, health: 'healthy', inFlight: 0 });
  assert.deepEqual(find(s, 'web'), {
    name: 'web',
    hosts: ['a.example.com', 'b.example.com'],
    pathPrefixes: ['/'],
    tls: true,
    maintenance: 'running',
    stopMessage: '',
    targets: [healthy(backends.web1), healthy(backends.web2)],
    readers: [healthy(backends.reader)],
    rollout: { targets: [healthy(backends.canary)], readers: [], split: { percentage: 25, allowlist: ['beta'] } },
    nap: null,
  });
});

test('maintenance: a stopped service with its message, a paused one; the catch-all host is "any host"', () => {
  const s = statusSnapshot(router);
  const api = find(s, 'api');
  assert.deepEqual([api.hosts, api.pathPrefixes, api.tls], [[], ['/api'], false]);
  assert.deepEqual([api.maintenance, api.stopMessage], ['stopped', 'Back at <noon> & "soon"']);
  const held = find(s, 'held');
  assert.deepEqual([held.maintenance, held.stopMessage, held.nap], ['paused', '', null]);
});

test('a napping app through a nap and a wake: state, activity, wakes, wake time, memory given back', async () => {
  const awake = find(statusSnapshot(router), 'sleepy').nap;
  assert.ok(awake !== null);
  assert.ok(awake.state === 'idle' || awake.state === 'running', awake.state);
  assert.equal(awake.idleTimeoutSeconds, 3600);
  assert.match(awake.runtime, /^process:pid \d+$/);
  assert.equal(awake.wakes, 1, 'the deploy started the app: a wake, kept in the state file');
  assert.equal(awake.memoryAtSleepBytes, 0, 'awake: nothing given back');
  assert.match(awake.lastActivityAt, ISO);

  await router.napNap('sleepy');
  const asleep = statusSnapshot(router);
  const napping = find(asleep, 'sleepy').nap!;
  assert.equal(napping.state, 'stopped');
  assert.ok(napping.memoryAtSleepBytes > 0, `the app's memory when put to sleep: ${napping.memoryAtSleepBytes}`);
  assert.equal(asleep.memoryGivenBackBytes, napping.memoryAtSleepBytes, 'the total over sleeping apps (only one sleeps)');

  const later = statusSnapshot(router, [], Date.parse(napping.lastActivityAt) + 180_000);
  assert.match(renderStatusPage(later), /<time datetime="[^"]+">3 min ago<\/time>/, 'last activity, relative to the snapshot');

  await router.napWake('sleepy');
  const woken = find(statusSnapshot(router), 'sleepy').nap!;
  assert.ok(woken.state === 'idle' || woken.state === 'running', woken.state);
  assert.equal(woken.wakes, 2);
  assert.equal(woken.wakesSinceStart.woken, napping.wakesSinceStart.woken + 1);
  assert.equal(woken.wakesSinceStart.failed, 0);
  assert.ok(woken.medianWakeSeconds !== null && woken.medianWakeSeconds > 0, String(woken.medianWakeSeconds));
  assert.equal(woken.memoryAtSleepBytes, 0);
  assert.equal(statusSnapshot(router).memoryGivenBackBytes, 0, 'nothing sleeps now');
  assert.deepEqual([woken.heldNow, typeof woken.heldTotal], [0, 'number']);
});

test('/status.json is the snapshot, as JSON; the page shows the same services', () => {
  const json = JSON.parse(statusJson(router)) as StatusSnapshot;
  assert.deepEqual(Object.keys(json), ['generatedAt', 'startedAt', 'memoryGivenBackBytes', 'services']);
  assert.match(json.generatedAt, ISO);
  assert.match(json.startedAt, ISO);
  assert.ok(Date.parse(json.startedAt) <= Date.parse(json.generatedAt));
  assert.deepEqual({ ...json, generatedAt: '' }, { ...statusSnapshot(router), generatedAt: '' });
  assert.deepEqual(Object.keys(json.services[0]!), ['name', 'hosts', 'pathPrefixes', 'tls', 'maintenance', 'stopMessage', 'targets', 'readers', 'rollout', 'nap']);
  assert.deepEqual(Object.keys(find(json, 'sleepy').nap!), [
    'state', 'runtime', 'activeRequests', 'idleTimeoutSeconds', 'lastActivityAt', 'wakes', 'wakesSinceStart',
    'medianWakeSeconds', 'heldNow', 'heldTotal', 'memoryAtSleepBytes',
  ]);

  const page = statusPage(router);
  for (const name of ['api', 'held', 'sleepy', 'web']) assert.match(page, new RegExp(`data-service="${name}"`));
  assert.ok(page.includes('Back at &lt;noon&gt; &amp; &#34;soon&#34;'));
});

test('with workers: their requests in flight and held are added to this thread\'s', () => {
  const others = [
    { thread: 1, http: null, held: [{ service: 'sleepy', now: 2, total: 5, paused: 0 }], inFlight: [{ service: 'web', address: backends.web1!.address, count: 3 }] },
    { thread: 2, http: null, held: [{ service: 'sleepy', now: 1, total: 1, paused: 0 }], inFlight: [{ service: 'web', address: backends.web1!.address, count: 1 }] },
  ];
  const alone = statusSnapshot(router);
  const s = statusSnapshot(router, others);
  assert.equal(find(s, 'web').targets[0]!.inFlight, find(alone, 'web').targets[0]!.inFlight + 4);
  assert.equal(find(s, 'web').targets[1]!.inFlight, find(alone, 'web').targets[1]!.inFlight, 'only the target named');
  assert.equal(find(s, 'sleepy').nap!.heldNow, find(alone, 'sleepy').nap!.heldNow + 3);
});
