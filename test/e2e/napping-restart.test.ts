// A restarted proxy knows when each napping app was last used from the state
// file: `status` shows that time, and the idle clock counts from it, so a proxy
// restarted more often than the idle timeout still lets idle apps nap. For
// that the file must keep up with a busy app's activity.
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { test } from 'node:test';
import { request } from 'undici';
import { napApp, napRequest } from '../helpers/nap.ts';
import type { NapApp } from '../helpers/nap.ts';
import { cli, deployParams, quietLogs, startTestProxy } from '../helpers/proxy.ts';
import type { TestProxy } from '../helpers/proxy.ts';
import { scratchDir } from '../helpers/scratch-dir.ts';
import { waitFor } from '../helpers/wait.ts';

quietLogs();

type SavedService = { name: string; napper?: { last_activity_ms: number } };
const savedServices = (proxy: TestProxy) => JSON.parse(readFileSync(proxy.statePath, 'utf8')) as SavedService[];
const keptActivityMs = (proxy: TestProxy, service: string) => savedServices(proxy).find((s) => s.name === service)!.napper!.last_activity_ms;

async function deploy(proxy: TestProxy, app: NapApp, service: string, idleTimeoutMs: number): Promise<void> {
  await proxy.router.deploy({ ...deployParams(service, [app.address], { options: { hosts: [`${service}.example.com`] } }), nap: napRequest({ command: app.command, idleTimeoutMs }) });
}

async function removeAll(proxy: TestProxy): Promise<void> {
  for (const s of proxy.router.napStatus()) await proxy.router.remove(s.service).catch(() => {});
  await proxy.stop();
}

test('after a restart, status shows the kept last activity, and the idle clock counts from it', async (t) => {
  const dir = scratchDir('kn-nap-restart-');
  const first = await startTestProxy(dir);
  const recent = await napApp(dir, 'recent');
  const stale = await napApp(dir, 'stale');
  await deploy(first, recent, 'recent', 120_000);
  await deploy(first, stale, 'stale', 30_000);
  await first.stop(); // the apps keep running, to be adopted

  // Both were last used 40 s before the restart (rather than waiting 40 s):
  // within recent's idle timeout, past stale's.
  const keptMs = Date.now() - 40_000;
  const state = savedServices(first);
  for (const s of state) s.napper!.last_activity_ms = keptMs;
  writeFileSync(first.statePath, JSON.stringify(state));

  const second = await startTestProxy(dir);
  t.after(() => removeAll(second));
  const entry = second.router.napStatus().find((e) => e.service === 'recent')!;
  assert.deepEqual([entry.state, entry.lastActivityMs], ['idle', keptMs], 'awake, last used when the file says');
  const status = await cli(['status'], { KAMAL_PROXY_SOCKET: second.socketPath, HOME: dir });
  const ago = /^recent\s+idle\s+0\s+(\d+)s ago\s/m.exec(status.stdout);
  assert.ok(ago, status.stdout);
  assert.ok(Number(ago[1]) >= 40, `status shows the kept time: ${ago[0]}`);

  // Idle for longer than its timeout already: it naps now, not 30 s from now.
  await waitFor(() => second.router.service('stale')!.napper!.state === 'stopped', 10_000);
  await assert.rejects(request(`http://${stale.address}/up`), 'its process is gone');
  assert.equal(second.router.service('recent')!.napper!.state, 'idle', 'recent has 80 s to go');
});

test("a busy app's activity reaches the state file, so a restart does not count from an older time", async (t) => {
  const dir = scratchDir('kn-nap-activity-');
  const proxy = await startTestProxy(dir);
  t.after(() => removeAll(proxy));
  const app = await napApp(dir, 'busy');
  await deploy(proxy, app, 'busy', 10_000);
  const deployedMs = keptActivityMs(proxy, 'busy');
  // Longer than the file may lag behind activity (a tenth of the idle timeout).
  await new Promise((r) => setTimeout(r, 1_100));
  const res = await request(proxy.url('/'), { headers: { host: 'busy.example.com' } });
  assert.equal(await res.body.text(), 'hello from busy');
  const napper = proxy.router.service('busy')!.napper!;
  // Well before the idle timeout, whose nap would save it too.
  await waitFor(() => napper.active === 0 && keptActivityMs(proxy, 'busy') === napper.lastActivityMs, 5_000);
  assert.ok(napper.lastActivityMs > deployedMs);
});
