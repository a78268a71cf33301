// A deploy that has to start its app (asleep, or never started) for the health
// check counts as a wake in `kamal-napper status`, as a request's wake does; a
// redeploy keeps the service's count, and one that finds the app running
// (adopted) is no wake.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { request } from 'undici';
import { napApp, napRequest } from '../helpers/nap.ts';
import type { NapApp } from '../helpers/nap.ts';
import { deployParams, quietLogs, startTestProxy } from '../helpers/proxy.ts';
import type { TestProxy } from '../helpers/proxy.ts';
import { scratchDir } from '../helpers/scratch-dir.ts';

quietLogs();

let proxy: TestProxy;
let dir: string;
before(async () => {
  dir = scratchDir('kn-deploy-wake-');
  proxy = await startTestProxy(dir);
});
after(async () => {
  for (const s of proxy.router.napStatus()) await proxy.router.remove(s.service).catch(() => {});
  await proxy.stop();
});

const wakes = (service: string) => proxy.router.napStatus().find((e) => e.service === service)!.wakes;

async function deploy(app: NapApp): Promise<void> {
  await proxy.router.deploy({ ...deployParams('counted', [app.address], { options: { hosts: ['counted.example.com'] } }), nap: napRequest({ command: app.command, idleTimeoutMs: 0 }) });
}

test('deploys that start the app count as wakes; one that finds it running does not', async () => {
  const app = await napApp(dir, 'counted');
  await deploy(app);
  assert.deepEqual([app.starts(), wakes('counted')], [1, 1], 'a never started app: the deploy started it, a wake');

  await deploy(app);
  assert.deepEqual([app.starts(), wakes('counted')], [1, 1], 'running already (adopted): no start, no wake');

  await proxy.router.napNap('counted');
  await deploy(app);
  assert.deepEqual([app.starts(), wakes('counted')], [2, 2], 'asleep: the deploy woke it, and the count carried over');

  await proxy.router.napNap('counted');
  const res = await request(proxy.url('/'), { headers: { host: 'counted.example.com' } });
  assert.equal(await res.body.text(), 'hello from counted');
  assert.deepEqual([app.starts(), wakes('counted')], [3, 3], 'a request wake counts as before');
});
