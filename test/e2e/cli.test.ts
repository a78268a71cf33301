// The real executable against a running proxy, as Kamal drives it:
// `docker exec kamal-proxy kamal-proxy deploy ...` is this process call.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { request } from 'undici';
import { startBackend } from '../helpers/backend.ts';
import type { Backend } from '../helpers/backend.ts';
import { cli, quietLogs, startTestProxy } from '../helpers/proxy.ts';
import type { TestProxy } from '../helpers/proxy.ts';
import { shellSplit } from '../helpers/shell.ts';
import { napApp } from '../helpers/nap.ts';
import { scratchDir } from '../helpers/scratch-dir.ts';

quietLogs();

describe('CLI against a running proxy', () => {
  let proxy: TestProxy;
  let app: Backend;
  let env: NodeJS.ProcessEnv;

  before(async () => {
    app = await startBackend('app');
    proxy = await startTestProxy();
    env = { KAMAL_PROXY_SOCKET: proxy.socketPath, HOME: proxy.dir };
  });
  after(async () => {
    await proxy.stop();
    await app.close();
  });

  // A line as Kamal writes it, minus `docker exec kamal-proxy`.
  const kamal = (line: string) => cli(shellSplit(line).slice(1), env);

  test("Kamal's deploy, list and remove lines work verbatim", async () => {
    const deployed = await kamal(
      `kamal-proxy deploy app-web --target="${app.address}" --host="app.example.com" --deploy-timeout="30s" --drain-timeout="30s" ` +
        `--health-check-interval="1s" --health-check-timeout="5s" --health-check-path="/up" --target-timeout="30s" ` +
        `--buffer-requests --buffer-responses --log-request-header="Cache-Control" --log-request-header="Last-Modified" ` +
        `--log-request-header="User-Agent" --forward-headers="false" --tls-redirect="false"`,
    );
    assert.equal(deployed.stderr, '');
    assert.equal(deployed.code, 0);

    const res = await request(proxy.url('/'), { headers: { host: 'app.example.com' } });
    assert.equal(await res.body.text(), 'app');

    const listed = await kamal('kamal-proxy list');
    assert.equal(listed.code, 0);
    const plain = listed.stdout.replace(/\x1b\[[0-9;]*m/g, '');
    assert.match(plain, /^Service\s+Host\s+Path\s+Target\s+State\s+TLS$/m);
    assert.match(plain, new RegExp(`^app-web\\s+app\\.example\\.com\\s+/\\s+${app.address}\\s+running\\s+no$`, 'm'));
    assert.match(listed.stdout, /\x1b\[3;94mService\x1b\[0m/, 'header in italic bright blue, as kamal-proxy');

    const removed = await kamal('kamal-proxy remove app-web');
    assert.deepEqual([removed.code, removed.stderr], [0, '']);
    const after = await request(proxy.url('/'), { headers: { host: 'app.example.com' } });
    assert.equal(after.statusCode, 404);
    await after.body.dump();
  });

  test('a deploy whose target never becomes healthy exits 1 with kamal-proxy\'s message', async () => {
    const sick = await startBackend('sick', { healthy: false });
    const r = await cli(['deploy', 'sick', `--target=${sick.address}`, '--deploy-timeout=300ms', '--health-check-interval=50ms'], env);
    assert.equal(r.code, 1);
    assert.equal(r.stderr, 'Error: target failed to become healthy within configured timeout (300ms)\n');
    await sick.close();
  });

  test('bad input gets a clear error and exit status 1', async () => {
    const cases: [string[], string][] = [
      [['deploy', 'a', `--target=${app.address}`, '--bogus'], 'Error: unknown flag: --bogus\n'],
      [['deploy', 'a', `--target=${app.address}`, '--deploy-timeout=30'], 'Error: invalid argument "30" for "--deploy-timeout" flag: time: missing unit in duration "30"\n'],
      [['deploy', 'a', `--target=${app.address}`, '--drain-timeout=soon'], 'Error: invalid argument "soon" for "--drain-timeout" flag: time: invalid duration "soon"\n'],
      [['deploy', 'a', '--target=/nope'], 'Error: /nope :invalid host pattern\n'],
      [['deploy', 'a', `--target=${app.address}`, '--health-check-port=eighty'], 'Error: invalid argument "eighty" for "--health-check-port" flag: strconv.ParseInt: parsing "eighty": invalid syntax\n'],
      [['deploy', `--target=${app.address}`], 'Error: accepts 1 arg(s), received 0\n'],
      [['deploy', 'a'], 'Error: required flag(s) "target" not set\n'],
      [['remove', 'missing-service'], 'Error: service not found\n'],
      [['frobnicate'], 'Error: unknown command "frobnicate" for "kamal-proxy"\nRun \'kamal-proxy --help\' for usage.\n'],
      [['list', 'extra'], 'Error: unknown command "extra" for "kamal-proxy list"\n'],
    ];
    for (const [args, stderr] of cases) {
      const r = await cli(args, env);
      assert.deepEqual({ code: r.code, stderr: r.stderr }, { code: 1, stderr }, args.join(' '));
    }
  });

  test('a socket with no server behind it is a clear error, not a hang', async () => {
    const socket = join(scratchDir('kn-nosock-'), 'kamal-proxy.sock');
    const r = await cli(['list'], { KAMAL_PROXY_SOCKET: socket });
    assert.equal(r.code, 1);
    assert.equal(r.stderr, `Error: cannot reach the proxy at ${socket}: is "kamal-proxy run" running? (ENOENT)\n`);
  });

  test('help lists the commands', async () => {
    const r = await cli(['--help'], env);
    assert.equal(r.code, 0);
    assert.match(r.stdout, /deploy\s+Deploy a target host/);
    const d = await cli(['deploy', '--help'], env);
    assert.match(d.stdout, /--target strings/);
    assert.match(d.stdout, /--deploy-timeout duration\s+.*\(default 30s\)/);
  });
  test("Kamal's maintenance lines (stop, resume) and the pause and rollout commands", async () => {
    assert.equal((await kamal(`kamal-proxy deploy maint-web --target="${app.address}" --host="maint.example.com"`)).code, 0);
    const stopped = await kamal('kamal-proxy stop maint-web --drain-timeout="30s" --message="Down for maintenance, back at 5pm"');
    assert.deepEqual([stopped.code, stopped.stderr], [0, '']);
    const page = await request(proxy.url('/'), { headers: { host: 'maint.example.com' } });
    assert.equal(page.statusCode, 503);
    assert.match(await page.body.text(), /back at 5pm/);
    assert.match((await kamal('kamal-proxy list')).stdout, /stopped/);
    assert.equal((await kamal('kamal-proxy resume maint-web')).code, 0);
    const live = await request(proxy.url('/'), { headers: { host: 'maint.example.com' } });
    assert.equal(await live.body.text(), 'app');

    assert.equal((await kamal('kamal-proxy pause maint-web --drain-timeout=1s --max-pause=100ms')).code, 0);
    assert.equal((await request(proxy.url('/'), { headers: { host: 'maint.example.com' } })).statusCode, 504);
    assert.equal((await kamal('kamal-proxy resume maint-web')).code, 0);

    const noRollout = await kamal('kamal-proxy rollout set maint-web --percent=10');
    assert.deepEqual([noRollout.code, noRollout.stderr], [1, 'Error: rollout target not set\n']);
    assert.equal((await kamal(`kamal-proxy rollout deploy maint-web --target=${app.address}`)).code, 0);
    assert.equal((await kamal('kamal-proxy rollout set maint-web --percent=10 --list=a,b')).code, 0);
    assert.equal((await kamal('kamal-proxy rollout stop maint-web')).code, 0);
    const missing = await kamal('kamal-proxy rollout set maint-web');
    assert.deepEqual([missing.code, missing.stderr], [1, 'Error: at least one of the flags in the group [percent list] is required\n']);
    assert.equal((await kamal('kamal-proxy remove maint-web')).code, 0);
  });
  test('napping from the command line: deploy flags, status, nap, wake, stop-all, list', async () => {
    const app = await napApp(proxy.dir, 'cli-nap');
    const napper = (args: string[]) => cli(args, env);
    const deployed = await napper(['deploy', 'cli-nap', `--target=${app.address}`, '--host=nap.example.com', '--idle-timeout=0', `--nap-command=${app.command}`]);
    assert.deepEqual([deployed.code, deployed.stderr], [0, '']);
    assert.match((await napper(['status'])).stdout, /^cli-nap\s+idle\s+0\s+\S+ ago\s+never\s+1\s+process:pid \d+$/m);
    assert.equal((await napper(['nap', 'cli-nap'])).code, 0);
    assert.match((await napper(['status'])).stdout, /^cli-nap\s+stopped\s/m);
    assert.match((await napper(['list'])).stdout.replace(/\x1b\[[0-9;]*m/g, ''), /^cli-nap\s+nap\.example\.com\s+\/\s+\S+\s+running\s+no\s+stopped$/m);
    assert.equal((await napper(['wake', 'cli-nap'])).code, 0);
    assert.match((await napper(['status'])).stdout, /^cli-nap\s+idle\s+0\s+\S+ ago\s+never\s+2\s/m);
    assert.equal((await napper(['stop-all'])).stdout, 'Napping: cli-nap\n');
    const notNapping = await napper(['nap', 'app-nowhere']);
    assert.deepEqual([notNapping.code, notNapping.stderr], [1, 'Error: service not found\n']);
    assert.equal((await napper(['remove', 'cli-nap'])).code, 0);
  });
});
