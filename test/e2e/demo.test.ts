// `npm start`, as a newcomer runs it: both demo apps answer through the
// proxy, the printed deploy command switches with zero downtime, and Ctrl-C
// leaves nothing running.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { connect } from 'node:net';
import { join } from 'node:path';
import { test } from 'node:test';
import { request } from 'undici';
import { freePort } from '../helpers/free-port.ts';
import { NODE } from '../helpers/nap.ts';
import { ROOT } from '../helpers/proxy.ts';
import { shellSplit } from '../helpers/shell.ts';

test('npm start serves the demo and the napping demo, deploys as printed, and stops cleanly', { timeout: 60_000 }, async (t) => {
  const [port, httpsPort] = [await freePort(), await freePort()];
  const child = spawn(NODE, [join(ROOT, 'src/demo/main.ts')], {
    cwd: ROOT,
    // A short boot keeps the test quick; the napping app still starts for real.
    env: { ...process.env, PORT: String(port), HTTPS_PORT: String(httpsPort), BOOT_DELAY_MS: '100' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  t.after(() => void (child.exitCode === null && child.kill('SIGKILL')));
  let banner = '';
  await new Promise<void>((resolve, reject) => {
    child.stderr!.on('data', (d: Buffer) => {
      banner += d;
      if (banner.includes('Ctrl-C stops everything')) resolve();
    });
    child.once('exit', (code) => reject(new Error(`demo exited with ${code}: ${banner}`)));
  });
  let logs = '';
  child.stdout!.on('data', (d: Buffer) => (logs += d));
  const get = async (path: string) => {
    const res = await request(`http://127.0.0.1:${port}${path}`);
    return { status: res.statusCode, body: await res.body.text() };
  };

  assert.match((await get('/')).body, /Hello from demo app #1/);
  const napping = await get('/sleepy/');
  assert.equal(napping.status, 200);
  assert.match(napping.body, /Hello from the napping demo app/);

  // The deploy line exactly as printed (KAMAL_PROXY_SOCKET=... bin/kamal-proxy deploy ...).
  const line = /Deploy\s+(.+)/.exec(banner)![1]!;
  const [assignment, bin, ...args] = shellSplit(line);
  const [name, value] = assignment!.split('=');
  const deployed = await new Promise<number | null>((resolve) => {
    spawn(join(ROOT, bin!), args, { env: { ...process.env, [name!]: value }, stdio: 'ignore' }).once('exit', resolve);
  });
  assert.equal(deployed, 0);
  assert.match((await get('/')).body, /Hello from demo app #2/);

  const sleepyPort = Number(/"msg":"Deployed","service":"sleepy".*?"targets":\["127\.0\.0\.1:(\d+)"\]/.exec(logs)?.[1] ?? NaN);
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
  child.kill('SIGINT');
  assert.equal(await exited, 0);
  assert.equal(Number.isNaN(sleepyPort), false, 'the napping app deploy is logged with its target');
  const refused = await new Promise<boolean>((resolve) => {
    const s = connect(sleepyPort, '127.0.0.1', () => (s.destroy(), resolve(false)));
    s.once('error', () => resolve(true));
  });
  assert.equal(refused, true, 'the napping app stopped with the demo');
});
