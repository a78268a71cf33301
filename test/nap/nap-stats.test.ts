// NapStats (wakes, median wake time, held requests) and the memory reading
// taken before a nap, through both runtimes: a process group's resident set,
// and a container's memory from the (fake) Engine as `docker stats` counts it.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { DockerEngine } from '../../src/docker/engine.ts';
import { DockerRuntime } from '../../src/nap/docker-runtime.ts';
import { memoryOf, NapStats } from '../../src/nap/nap-stats.ts';
import { ProcessRuntime } from '../../src/nap/process-runtime.ts';
import type { Runtime } from '../../src/nap/runtime.ts';
import { FakeEngine } from '../docker/fake-engine.ts';

const MiB = 1024 * 1024;

test('wakes are counted by outcome; only successful ones are timed and make the median', () => {
  const stats = new NapStats();
  assert.equal(stats.medianWakeSeconds(), null, 'before the first wake');
  stats.recordWake('woken', 3);
  stats.recordWake('failed', 60);
  assert.deepEqual(stats.wakes, { woken: 1, failed: 1 });
  assert.equal(stats.medianWakeSeconds(), 3);
  stats.recordWake('woken', 1);
  assert.equal(stats.medianWakeSeconds(), 2, 'the middle two of an even count');
  stats.recordWake('woken', 10);
  assert.equal(stats.medianWakeSeconds(), 3);
  assert.deepEqual([stats.wakeDuration.count, stats.wakeDuration.sum], [3, 14]);
});

test('the median is of the last 64 wakes', () => {
  const stats = new NapStats();
  for (let i = 0; i < 100; i++) stats.recordWake('woken', 100); // old and slow
  for (let i = 0; i < 64; i++) stats.recordWake('woken', 0.5);
  assert.equal(stats.medianWakeSeconds(), 0.5);
  assert.equal(stats.wakes.woken, 164);
});

test('a held request counts while it waits, whether the wake succeeds or fails', async () => {
  const stats = new NapStats();
  let wake!: () => void;
  let fail!: (e: Error) => void;
  const ok = stats.hold(new Promise<void>((resolve) => (wake = resolve)));
  const bad = stats.hold(new Promise<void>((_, reject) => (fail = reject)));
  assert.deepEqual([stats.heldNow, stats.heldTotal], [2, 2]);
  wake();
  await ok;
  assert.equal(stats.heldNow, 1);
  fail(new Error('could not start'));
  await assert.rejects(bad, /could not start/);
  assert.deepEqual([stats.heldNow, stats.heldTotal], [0, 2]);
});

const runtimeWith = (memoryBytes: Runtime['memoryBytes']): Runtime => ({
  description: 'test',
  inspect: async () => 'running',
  start: async () => {},
  stop: async () => {},
  close: () => {},
  ...(memoryBytes ? { memoryBytes } : {}),
});

test('memory before a nap: summed over runtimes; a failing, missing or slow reading counts as unknown and never holds the nap up', async () => {
  assert.equal(await memoryOf([runtimeWith(async () => 10), runtimeWith(async () => 32)]), 42);
  assert.equal(await memoryOf([runtimeWith(async () => 10), runtimeWith(async () => null), runtimeWith(undefined)]), 10);
  assert.equal(await memoryOf([runtimeWith(async () => 10), runtimeWith(async () => Promise.reject(new Error('no /proc')))]), 10);
  const started = Date.now();
  assert.equal(await memoryOf([runtimeWith(() => new Promise(() => {}))], 200), 0);
  assert.ok(Date.now() - started < 2_000, 'gave up after the timeout');
});

test("a process app's memory is its process group's resident set; none once stopped", async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'nap-stats-'));
  // A shell that keeps a child: both are in the group.
  const runtime = new ProcessRuntime({ command: `${process.execPath} -e "setInterval(() => {}, 1000)" & exec sleep 60`, pidFile: join(dir, 'app.pid'), stopTimeoutMs: 2_000 });
  t.after(async () => {
    await runtime.stop().catch(() => {});
    runtime.close();
    await rm(dir, { recursive: true, force: true });
  });
  assert.equal(await runtime.memoryBytes(), null, 'not started');
  await runtime.start();
  // Node's resident set alone is tens of MiB once it has started.
  let bytes = 0;
  for (let i = 0; i < 50 && bytes < 10 * MiB; i++) {
    await new Promise((r) => setTimeout(r, 100));
    bytes = (await runtime.memoryBytes()) ?? 0;
  }
  assert.ok(bytes >= 10 * MiB && bytes < 4096 * MiB, `the group's resident memory: ${bytes}`);
  await runtime.stop();
  assert.equal(await runtime.memoryBytes(), null, 'stopped');
});

test("a container's memory is usage less its inactive file cache (cgroup v1 and v2), with its group's running members", async (t) => {
  const fake = await FakeEngine.start();
  const engine = new DockerEngine({ socketPath: fake.socketPath, timeoutMs: 2_000 });
  t.after(async () => {
    await engine.close();
    await fake.close();
  });
  const labels = (role: string) => ({ service: 'blog', role, destination: '' });
  const web = fake.add({ name: 'blog-web-1', labels: labels('web'), status: 'running' });
  const job = fake.add({ name: 'blog-job-1', labels: labels('job'), status: 'running' });
  const mail = fake.add({ name: 'blog-mail-1', labels: labels('mail'), status: 'exited' });
  Object.assign(web, { memoryUsage: 100 * MiB, inactiveFile: 30 * MiB });
  Object.assign(job, { memoryUsage: 20 * MiB, inactiveFile: 5 * MiB });
  Object.assign(mail, { memoryUsage: 999 * MiB, inactiveFile: 0 });

  const alone = new DockerRuntime({ engine, container: web.name });
  const group = new DockerRuntime({ engine, container: web.name, group: true });
  t.after(() => (alone.close(), group.close()));
  assert.equal(await alone.memoryBytes(), 70 * MiB);
  assert.equal(await group.memoryBytes(), 85 * MiB, 'the stopped member adds nothing');
  fake.cgroupVersion = 1;
  assert.equal(await alone.memoryBytes(), 70 * MiB);
  // A cache figure not below usage is not subtracted (as the docker CLI does).
  web.inactiveFile = 200 * MiB;
  assert.equal(await alone.memoryBytes(), 100 * MiB);
  fake.setStatus(web.id, 'exited');
  assert.equal(await group.memoryBytes(), null, 'the app is not running');
  assert.ok(fake.requests.some((r) => /^GET \/v1\.41\/containers\/[0-9a-f]{64}\/stats\?stream=false&one-shot=true$/.test(r)), fake.requests.join('\n'));
});

test('a napper restored asleep shows the memory the state file kept, and saves it again; awake it is 0', async () => {
  const { Napper } = await import('../../src/nap/napper.ts');
  const options = { idleTimeoutMs: 60_000, wakeTimeoutMs: 30_000, runtime: { kind: 'process', command: 'true' } } as const;
  const hooks = { probe: async () => true, ready() {}, asleep() {}, changed() {} };
  const config = { maxRetries: 0, pollIntervalMs: 0 };
  const asleep = new Napper('app', options, [], hooks, config, { options, asleep: true, lastActivityMs: 1, wakes: 3, memoryAtSleepBytes: 50 * MiB });
  assert.equal(asleep.stats.memoryAtSleepBytes, 50 * MiB);
  assert.equal(asleep.persisted().memoryAtSleepBytes, 50 * MiB);
  asleep.close();
  const awake = new Napper('app', options, [], hooks, config, { options, asleep: false, lastActivityMs: Date.now(), wakes: 3, memoryAtSleepBytes: 50 * MiB });
  assert.equal(awake.stats.memoryAtSleepBytes, 0);
  awake.close();
});
