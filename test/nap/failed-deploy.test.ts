// A deploy that fails (its health check never passes) must not leave behind a
// --nap-command process it started: no deployment owns it, so nothing would
// ever stop it, and it outlives the proxy. What was running already (the
// current deployment's app, adopted by a redeploy of the same command) stays.
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { request } from 'undici';
import { freePort } from '../helpers/free-port.ts';
import { napApp, napRequest } from '../helpers/nap.ts';
import type { NapApp } from '../helpers/nap.ts';
import { deployParams, quietLogs, startTestProxy } from '../helpers/proxy.ts';
import type { TestProxy } from '../helpers/proxy.ts';
import { scratchDir } from '../helpers/scratch-dir.ts';
import { waitFor } from '../helpers/wait.ts';

quietLogs();

// The pid of each start, in order (the app appends it to its start log).
function startedPids(app: NapApp): number[] {
  return existsSync(app.startLog) ? readFileSync(app.startLog, 'utf8').trim().split('\n').filter(Boolean).map(Number) : [];
}

// Zombies count as gone: an orphan may wait a while for someone to reap it.
function running(pid: number): boolean {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const state = text.slice(text.lastIndexOf(')') + 2).split(' ')[0];
    return state !== 'Z' && state !== 'X';
  } catch {
    return false;
  }
}

describe('a failed --nap-command deploy', () => {
  let proxy: TestProxy;
  let dir: string;
  const pids: number[] = [];
  before(async () => {
    dir = scratchDir('kn-failed-deploy-');
    proxy = await startTestProxy(dir);
  });
  after(async () => {
    for (const s of proxy.router.napStatus()) await proxy.router.remove(s.service).catch(() => {});
    await proxy.stop();
    // Whatever a failing run left behind must not outlive the test.
    for (const pid of pids) if (running(pid)) process.kill(-pid, 'SIGKILL');
  });

  const get = async (host: string) => {
    const res = await request(proxy.url('/'), { headers: { host, accept: 'application/json' } });
    return { status: res.statusCode, body: await res.body.text() };
  };

  // A deploy whose health check cannot pass: it probes a port nobody listens on,
  // while the command runs the app on its own port.
  async function failingDeploy(service: string, command: string): Promise<void> {
    const nowhere = `127.0.0.1:${await freePort()}`;
    const params = deployParams(service, [nowhere], { options: { hosts: [`${service}.example.com`] }, deployTimeoutMs: 3_000 });
    await assert.rejects(proxy.router.deploy({ ...params, nap: napRequest({ command, idleTimeoutMs: 0 }) }), /target failed to become healthy/);
  }

  async function deploy(service: string, app: NapApp): Promise<void> {
    await proxy.router.deploy({ ...deployParams(service, [app.address], { options: { hosts: [`${service}.example.com`] } }), nap: napRequest({ command: app.command, idleTimeoutMs: 0 }) });
  }

  test('a new service: the app it started is stopped, its pid file removed', async () => {
    const app = await napApp(dir, 'fresh');
    await failingDeploy('fresh', app.command);
    const [pid] = startedPids(app);
    assert.ok(pid, 'the deploy started the app');
    pids.push(pid);
    assert.equal(running(pid), false, 'the app no deployment owns is gone');
    assert.equal(existsSync(join(dir, 'nap', 'fresh.pid')), false, 'and no pid file points at it');
    assert.equal(proxy.router.service('fresh'), undefined);
  });

  test('a redeploy of the same command leaves the running app of the current deployment alone', async () => {
    const app = await napApp(dir, 'steady');
    await deploy('steady', app);
    const [pid] = startedPids(app);
    pids.push(pid!);
    await failingDeploy('steady', app.command);
    assert.equal(app.starts(), 1, 'the redeploy adopted the running app');
    assert.equal(running(pid!), true, 'and did not stop it');
    assert.equal(proxy.router.service('steady')!.napper!.awake, true);
    assert.deepEqual(await get('steady.example.com'), { status: 200, body: 'hello from steady' });
  });

  test('a redeploy of a sleeping app stops what it started; the next request wakes the current deployment', async () => {
    const app = await napApp(dir, 'sleepy');
    await deploy('sleepy', app);
    await proxy.router.napNap('sleepy');
    await failingDeploy('sleepy', app.command);
    const started = startedPids(app);
    assert.equal(started.length, 2, 'the redeploy started the sleeping app');
    pids.push(...started);
    assert.equal(running(started[1]!), false, 'and stopped it again');
    assert.equal(proxy.router.service('sleepy')!.napper!.state, 'stopped', 'the current deployment still sleeps');
    assert.deepEqual(await get('sleepy.example.com'), { status: 200, body: 'hello from sleepy' });
    const woken = startedPids(app);
    assert.equal(woken.length, 3, 'its wake started the app once more');
    pids.push(woken[2]!);
  });

  test('a redeploy with another command stops the new app; the next request wakes the current one again', async () => {
    const current = await napApp(dir, 'current');
    await deploy('swap', current);
    pids.push(...startedPids(current));
    // Never ready within the deploy timeout.
    const next = await napApp(dir, 'next', { READY_DELAY_MS: '60000' });
    await failingDeploy('swap', next.command);
    const [pid] = startedPids(next);
    assert.ok(pid, 'the deploy started the new app');
    pids.push(pid);
    assert.equal(running(pid), false, 'the new app is gone');
    // The deploy stopped the current app to make way for the new one; the
    // current deployment sees that at once and wakes it on the next request.
    await waitFor(() => proxy.router.service('swap')!.napper!.state === 'stopped', 5_000);
    assert.deepEqual(await get('swap.example.com'), { status: 200, body: 'hello from current' });
    pids.push(...startedPids(current));
  });
});
