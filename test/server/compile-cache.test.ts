// `npm ci` runs scripts/warm-compile-cache.ts ("prepare"), which fills the
// compile cache with every module of src/, so that no start has to load
// Node's TypeScript stripper (17 MB for the process's lifetime), not even the
// first one or the first use of a module loaded on demand.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { freePort } from '../helpers/free-port.ts';
import { BIN, ROOT, cli, spawnProxy } from '../helpers/proxy.ts';

const PROBE = join(ROOT, 'test', 'fixtures', 'stripper-probe.mjs');
const WARM_UP = join(ROOT, 'scripts', 'warm-compile-cache.ts');

type Probe = { argv: string[]; thread: number; stripper: boolean; http: boolean };

function probes(dir: string): Probe[] {
  return readdirSync(dir).map((f) => JSON.parse(readFileSync(join(dir, f), 'utf8')) as Probe);
}

test('after the install-time warm-up, neither the server, nor its worker threads, nor the CLI loads the TypeScript stripper', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'kn-cc-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const [cold, warm, probeDir] = [join(dir, 'cold'), join(dir, 'warm'), join(dir, 'probes')];
  for (const d of ['cold', 'warm']) mkdirSync(join(probeDir, d), { recursive: true });
  const env = (cache: string, probe: string) => ({ NODE_COMPILE_CACHE: cache, NODE_OPTIONS: `--import=${PROBE}`, PROBE_DIR: probe });

  // The probe can tell: a start with an empty cache loads the stripper.
  execFileSync(BIN, ['--help'], { env: { ...process.env, ...env(cold, join(probeDir, 'cold')) }, stdio: 'ignore' });
  assert.deepEqual(probes(join(probeDir, 'cold')).map((p) => p.stripper), [true]);

  execFileSync(BIN, ['--help'], { env: { ...process.env, NODE_COMPILE_CACHE: warm, NODE_OPTIONS: `--import=${WARM_UP}` }, stdio: 'ignore' });
  const home = join(dir, 'home');
  const runEnv = { ...env(warm, join(probeDir, 'warm')), HOME: home, KAMAL_PROXY_SOCKET: join(dir, 's.sock') };
  // A worker thread finds the entries the warm-up wrote (it runs no worker).
  const { child } = await spawnProxy([`--http-port=${await freePort()}`, `--https-port=${await freePort()}`, '--workers=2'], runEnv, t);
  // A client verb, and on the server a module loaded on demand (the
  // custom-certificate loader, for a deploy whose certificate is missing).
  // --force: kamal-proxy loads the certificate after the health wait.
  const deploy = await cli(['deploy', 'app', '--target=127.0.0.1:9', '--force', '--host=a.example.test', '--tls', '--tls-certificate-path=/nonexistent.pem', '--tls-private-key-path=/nonexistent.key'], runEnv);
  assert.notEqual(deploy.code, 0);
  assert.match(deploy.stderr, /certificate/);
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  await exited;

  const seen = probes(join(probeDir, 'warm'));
  assert.deepEqual(seen.filter((p) => p.thread === 0).map((p) => p.argv[0]).sort(), ['deploy', 'run']);
  assert.ok(seen.find((p) => p.argv[0] === 'run')!.http, 'the server ran');
  assert.equal(seen.filter((p) => p.thread !== 0).length, 1, 'one worker thread ran');
  assert.deepEqual(seen.filter((p) => p.stripper).map((p) => (p.thread === 0 ? p.argv[0] : 'worker')), []);
});
