// DockerRuntime against the fake Engine: state mapping, group wake and nap
// (and what a group must never touch), errors, and external changes.
import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, test } from 'node:test';
import { DockerEngine } from '../../src/docker/engine.ts';
import { DockerRuntime, type DockerRuntimeOptions } from '../../src/nap/docker-runtime.ts';
import type { RuntimeState } from '../../src/nap/runtime.ts';
import { FakeEngine, FakeFailure, type FakeContainer, type FakeStatus } from './fake-engine.ts';

let fake: FakeEngine;
let engine: DockerEngine;
const runtimes: DockerRuntime[] = [];

beforeEach(async () => {
  fake = await FakeEngine.start();
  engine = new DockerEngine({ socketPath: fake.socketPath, timeoutMs: 2000 });
});
afterEach(async () => {
  for (const r of runtimes.splice(0)) r.close();
  await engine.close();
  await fake.close();
});

function runtime(container: string, options: Partial<DockerRuntimeOptions> = {}): DockerRuntime {
  const r = new DockerRuntime({ engine, container, ...options });
  runtimes.push(r);
  return r;
}

// A Kamal app container: `<service>-<role>[-<destination>]-<version>` with its three labels.
function kamal(
  service: string,
  role: string,
  version: string,
  options: { destination?: string; status?: FakeStatus; ageSeconds?: number } = {},
): FakeContainer {
  const destination = options.destination ?? '';
  return fake.add({
    name: [service, role, destination, version].filter((s) => s !== '').join('-'),
    labels: { service, role, destination },
    status: options.status ?? 'exited',
    created: Date.now() - (options.ageSeconds ?? 0) * 1000,
  });
}

const statuses = (...cs: FakeContainer[]) => cs.map((c) => `${c.name}:${fake.get(c.id).status}`);

describe('DockerRuntime.inspect', () => {
  test('maps Docker states to running, stopped and missing', async () => {
    const cases: Array<[FakeStatus, RuntimeState]> = [
      ['running', 'running'],
      ['exited', 'stopped'],
      ['created', 'stopped'],
      ['paused', 'stopped'],
      ['restarting', 'stopped'],
      ['dead', 'stopped'],
    ];
    for (const [status, expected] of cases) {
      const c = fake.add({ name: `c-${status}`, status });
      assert.equal(await runtime(c.id.slice(0, 12)).inspect(), expected, status);
    }
    assert.equal(await runtime('0123456789ab').inspect(), 'missing');
  });

  test('describes itself for logs', () => {
    assert.equal(runtime('app-web-1').description, 'docker:app-web-1');
    assert.equal(runtime('0123456789ab', { group: true }).description, 'docker:0123456789ab (group)');
  });
});

describe('DockerRuntime start and stop', () => {
  test('without group, only the target starts and stops', async () => {
    const web = kamal('app', 'web', 'v1');
    const job = kamal('app', 'job', 'v1');
    const r = runtime(web.id.slice(0, 12));
    await r.start();
    assert.deepEqual(statuses(web, job), ['app-web-v1:running', 'app-job-v1:exited']);
    job.status = 'running';
    await r.stop();
    assert.deepEqual(statuses(web, job), ['app-web-v1:exited', 'app-job-v1:running']);
    await r.stop(); // stopping a stopped app is fine
  });

  test('a target given by name works the same', async () => {
    const web = kamal('app', 'web', 'v1');
    await runtime('app-web-v1').start();
    assert.equal(fake.get(web.id).status, 'running');
  });

  test('group: the newest container of each other role, never old versions, other services or destinations', async () => {
    const webOld = kamal('app', 'web', 'v1', { ageSeconds: 600 });
    const web = kamal('app', 'web', 'v2', { ageSeconds: 60 });
    const jobOld = kamal('app', 'job', 'v1', { ageSeconds: 600 });
    const job = kamal('app', 'job', 'v2', { ageSeconds: 60 });
    const mailer = kamal('app', 'mailer', 'v2', { ageSeconds: 60 });
    const stagingJob = kamal('app', 'job', 'v2', { destination: 'staging', ageSeconds: 60 });
    const otherJob = kamal('app2', 'job', 'v2', { ageSeconds: 10 });
    const accessory = fake.add({ name: 'app-db', labels: { service: 'app-db' }, status: 'exited' });
    const unlabelled = fake.add({ name: 'app-job-manual', status: 'exited' });
    const bystanders = [webOld, jobOld, stagingJob, otherJob, accessory, unlabelled];

    const r = runtime(web.id.slice(0, 12), { group: true });
    await r.start();
    await waitUntil(() => fake.get(job.id).status === 'running' && fake.get(mailer.id).status === 'running');
    assert.deepEqual(statuses(web, job, mailer), ['app-web-v2:running', 'app-job-v2:running', 'app-mailer-v2:running']);
    assert.ok(bystanders.every((c) => fake.get(c.id).status === 'exited'), statuses(...bystanders).join(' '));

    // While the group naps, another service's containers keep running.
    otherJob.status = 'running';
    jobOld.status = 'running'; // someone ran an old version by hand: not ours to stop
    await r.stop();
    assert.deepEqual(statuses(web, job, mailer), ['app-web-v2:exited', 'app-job-v2:exited', 'app-mailer-v2:exited']);
    assert.deepEqual(statuses(otherJob, jobOld), ['app2-job-v2:running', 'app-job-v1:running']);
  });

  test('group with a destination stays inside that destination', async () => {
    const web = kamal('app', 'web', 'v1', { destination: 'staging' });
    const job = kamal('app', 'job', 'v1', { destination: 'staging' });
    const prodJob = kamal('app', 'job', 'v1');
    await runtime(web.name, { group: true }).start();
    await waitUntil(() => fake.get(job.id).status === 'running');
    assert.equal(fake.get(prodJob.id).status, 'exited');
  });

  test('group: the target starts first, then the others in parallel', async () => {
    const web = kamal('app', 'web', 'v1');
    const job = kamal('app', 'job', 'v1');
    const mailer = kamal('app', 'mailer', 'v1');
    const log: string[] = [];
    let arrived = 0;
    let releaseMembers!: () => void;
    const bothArrived = new Promise<void>((resolve) => (releaseMembers = resolve));
    fake.onAction = async (action, c) => {
      if (action !== 'start') return;
      log.push(`begin ${c.name}`);
      if (c.id !== web.id) {
        // Each member waits until both have arrived: sequential starts would never get there.
        if (++arrived === 2) releaseMembers();
        await Promise.race([bothArrived, sleep(1000)]);
      }
      log.push(`end ${c.name}`);
    };
    await runtime(web.id, { group: true }).start();
    // start() resolves with the target: the visitor does not wait for the rest.
    assert.deepEqual(log.slice(0, 2), ['begin app-web-v1', 'end app-web-v1']);
    await waitUntil(() => log.length === 6);
    assert.deepEqual(new Set(log.slice(2, 4)), new Set(['begin app-job-v1', 'begin app-mailer-v1']));
    assert.equal(arrived, 2);
  });

  test('stop waits for a group start still in flight, so nothing starts after the nap', async () => {
    const web = kamal('app', 'web', 'v1');
    const job = kamal('app', 'job', 'v1');
    fake.onAction = async (action, c) => {
      if (action === 'start' && c.id === job.id) await sleep(200);
    };
    const r = runtime(web.id, { group: true });
    await r.start();
    await r.stop();
    assert.deepEqual(statuses(web, job), ['app-web-v1:exited', 'app-job-v1:exited']);
  });

  test('group on a container without Kamal labels starts only that container', async () => {
    const lone = fake.add({ name: 'lone', status: 'exited' });
    const other = fake.add({ name: 'other', status: 'exited' });
    await runtime('lone', { group: true }).start();
    await sleep(50);
    assert.deepEqual(statuses(lone, other), ['lone:running', 'other:exited']);
  });

  test('a group member that fails to start is a warning, not a failed wake', async () => {
    const web = kamal('app', 'web', 'v1');
    const job = kamal('app', 'job', 'v1');
    const warnings: string[] = [];
    fake.onAction = (action, c) => {
      if (action === 'start' && c.id === job.id) throw new FakeFailure(500, 'oci runtime error: no memory');
    };
    await runtime(web.id, { group: true, onWarning: (m) => warnings.push(m) }).start();
    await waitUntil(() => warnings.length > 0);
    assert.equal(fake.get(web.id).status, 'running');
    assert.match(warnings[0]!, /could not start group member app-job-v1: oci runtime error: no memory/);
  });

  test('a paused target is unpaused by start', async () => {
    const web = kamal('app', 'web', 'v1', { status: 'paused' });
    await runtime(web.id).start();
    assert.equal(fake.get(web.id).status, 'running');
    assert.ok(fake.requests.some((r) => r.endsWith(`/containers/${web.id}/unpause`)));
  });

  test('a missing target: inspect says missing, start rejects, stop is fine', async () => {
    const r = runtime('deadbeef0000');
    assert.equal(await r.inspect(), 'missing');
    await assert.rejects(r.start(), /docker:deadbeef0000: container deadbeef0000 does not exist/);
    await r.stop();
  });

  test("a failed start rejects with the Engine's message", async () => {
    const web = kamal('app', 'web', 'v1');
    fake.onAction = () => {
      throw new FakeFailure(500, 'driver failed programming external connectivity');
    };
    await assert.rejects(
      runtime(web.id.slice(0, 12)).start(),
      /could not start app-web-v1: driver failed programming external connectivity/,
    );
  });

  test('stop passes the grace period to the Engine', async () => {
    const web = kamal('app', 'web', 'v1', { status: 'running' });
    await runtime(web.id, { stopTimeoutSeconds: 3 }).stop();
    assert.ok(fake.requests.includes(`POST /v1.41/containers/${web.id}/stop?t=3`), fake.requests.join('\n'));
  });
});

describe('DockerRuntime.onExternalChange', () => {
  test('reports crashes, starts by hand and removal, but not our own start and stop', async () => {
    const web = kamal('app', 'web', 'v1');
    const r = runtime(web.id.slice(0, 12));
    const seen: RuntimeState[] = [];
    const off = r.onExternalChange((s) => seen.push(s));
    await subscribed(); // let the subscription take its baseline

    await r.start();
    await r.stop();
    await r.start();
    fake.setStatus(web.id, 'exited'); // a crash
    await waitUntil(() => seen.length === 1);
    fake.setStatus(web.id, 'running'); // `docker start` by someone else
    await waitUntil(() => seen.length === 2);
    fake.setStatus(web.id, 'paused');
    await waitUntil(() => seen.length === 3);
    fake.remove(web.id);
    await waitUntil(() => seen.length === 4);
    assert.deepEqual(seen, ['stopped', 'running', 'stopped', 'missing']);

    off();
    await waitUntil(() => fake.eventStreamCount === 0);
  });

  test('ignores other containers whose name starts like the target', async () => {
    const web = kamal('app', 'web', 'v1');
    const replaced = fake.add({ name: 'app-web-v1_replaced_1234', labels: web.labels, status: 'exited' });
    const seen: RuntimeState[] = [];
    runtime('app-web-v1').onExternalChange((s) => seen.push(s));
    await subscribed();
    fake.setStatus(replaced.id, 'running');
    fake.setStatus(web.id, 'running');
    await waitUntil(() => seen.length === 1);
    await sleep(50);
    assert.deepEqual(seen, ['running']);
  });

  test('after the event stream drops, it reconnects and reports what it missed', async () => {
    const web = kamal('app', 'web', 'v1', { status: 'running' });
    const seen: RuntimeState[] = [];
    const warnings: string[] = [];
    const r = runtime(web.id, { reconnectDelayMs: 20, onWarning: (m) => warnings.push(m) });
    r.onExternalChange((s) => seen.push(s));
    await subscribed();

    fake.dropEventStreams();
    fake.setStatus(web.id, 'exited'); // happens while nobody listens
    await waitUntil(() => seen.length === 1);
    assert.deepEqual(seen, ['stopped']);
    assert.match(warnings[0]!, /Docker event stream ended .*reconnecting in 20 ms/);
    assert.equal(fake.eventStreamCount, 1);

    fake.setStatus(web.id, 'running'); // and the new stream works
    await waitUntil(() => seen.length === 2);
    assert.deepEqual(seen, ['stopped', 'running']);
  });

  test('close() ends the event stream and stops reporting', async () => {
    const web = kamal('app', 'web', 'v1');
    const seen: RuntimeState[] = [];
    const r = runtime(web.id);
    r.onExternalChange((s) => seen.push(s));
    await waitUntil(() => fake.eventStreamCount === 1);
    r.close();
    await waitUntil(() => fake.eventStreamCount === 0);
    fake.setStatus(web.id, 'running');
    await sleep(50);
    assert.deepEqual(seen, []);
    assert.equal(fake.get(web.id).status, 'running', 'close() does not stop the app');
  });
});

// The runtime has its event stream open and has taken its baseline inspect.
async function subscribed(): Promise<void> {
  await waitUntil(() => {
    const i = fake.requests.findIndex((r) => r.includes('/events?'));
    return fake.eventStreamCount === 1 && i >= 0 && fake.requests.slice(i + 1).some((r) => /\/containers\/[^/]+\/json$/.test(r));
  });
  await sleep(5); // the inspect's answer reaches the runtime
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

async function waitUntil(check: () => boolean, timeoutMs = 3000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await sleep(5);
  }
}
