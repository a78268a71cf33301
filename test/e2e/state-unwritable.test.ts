// A command either fails before it changes anything, or succeeds (issue #15).
// Kamal stops the new container when a deploy fails, so a deploy that failed
// *after* the swap (its state save failing) took down what already served.
// Here: a state directory the proxy's uid cannot write (Kamal's
// kamal-proxy-config volume keeps the owner of whichever image used it first)
// refuses every change with a clear error; a save that fails only after that
// check passed (a full disk) leaves the command a success, logged as an error
// and shown by `status` until a save succeeds.
//
// The proxy runs as the real executable. Tests run as root, which permissions
// do not stop, so the first test runs it as uid 65534 (setpriv). The second
// limits the proxy's file size (prlimit): the check writes no bytes and
// passes, the save writes the state and fails with EFBIG, as it would with
// ENOSPC on a full disk; a state with no services is small enough to save.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { chmodSync, chownSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { request } from 'undici';
import { startBackend, type Backend } from '../helpers/backend.ts';
import { freePort } from '../helpers/free-port.ts';
import { BIN } from '../helpers/proxy.ts';
import type { CliResult } from '../helpers/proxy.ts';
import { waitFor } from '../helpers/wait.ts';
import { scratchDir } from '../helpers/scratch-dir.ts';

const NOBODY = 65534;
const AS_NOBODY = ['setpriv', `--reuid=${NOBODY}`, `--regid=${NOBODY}`, '--clear-groups'];
const isRoot = process.getuid?.() === 0;

// `prefix` runs the executable under another command (setpriv, prlimit).
function run(prefix: string[], args: string[], env: NodeJS.ProcessEnv): ChildProcess {
  const argv = [...prefix, BIN, ...args];
  return spawn(argv[0]!, argv.slice(1), { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
}

function cliAs(prefix: string[], args: string[], env: NodeJS.ProcessEnv): Promise<CliResult> {
  return new Promise((resolve) => {
    const child = run(prefix, args, env);
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (d) => (stdout += d));
    child.stderr!.on('data', (d) => (stderr += d));
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

// `kamal-proxy run`; resolves once `Server started` is logged. Killed when the test ends.
function startAs(prefix: string[], args: string[], env: NodeJS.ProcessEnv, t: TestContext): Promise<{ output: () => string }> {
  return new Promise((resolve, reject) => {
    const child = run(prefix, ['run', ...args], env);
    t.after(() => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    });
    let out = '';
    child.stdout!.on('data', (d) => {
      out += d;
      if (out.includes('"Server started"')) resolve({ output: () => out });
    });
    child.stderr!.on('data', (d) => (out += d));
    child.on('exit', (code) => reject(new Error(`proxy exited with ${code}: ${out}`)));
  });
}

const closeAfter = (t: TestContext, ...backends: Backend[]) => t.after(() => Promise.all(backends.map((b) => b.close())));

const get = async (port: number, host: string) => {
  const res = await request(`http://127.0.0.1:${port}/`, { headers: { host } });
  return { status: res.statusCode, body: await res.body.text() };
};

const plain = (s: string) => s.replace(/\x1b\[[0-9;]*m/g, '');

// The complete log lines (JSON) whose msg is `msg`.
const logged = (output: string, msg: string) =>
  output
    .slice(0, output.lastIndexOf('\n') + 1)
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Record<string, unknown>)
    .filter((l) => l.msg === msg);

test('a state directory the proxy cannot write: every change fails before it takes effect, and the old deployment serves on', { skip: !isRoot && 'needs root to run the proxy as another uid' }, async (t) => {
  const old = await startBackend('old');
  const fresh = await startBackend('new');
  closeAfter(t, old, fresh);

  // HOME and the state directory as a volume owned by another uid leaves
  // them: readable, not writable. The state already has a service.
  const home = scratchDir('kn-unwritable-');
  chmodSync(home, 0o755);
  const stateDir = join(home, '.config', 'kamal-proxy');
  mkdirSync(stateDir, { recursive: true, mode: 0o755 });
  chmodSync(stateDir, 0o755);
  const statePath = join(stateDir, 'kamal-proxy.state');
  const saved = JSON.stringify([{ name: 'web', options: { hosts: ['web.example.com'] }, active_targets: [old.address] }]) + '\n';
  writeFileSync(statePath, saved, { mode: 0o644 });
  const socketDir = scratchDir('kn-unwritable-sock-');
  chownSync(socketDir, NOBODY, NOBODY);

  const port = await freePort();
  const env = { HOME: home, KAMAL_PROXY_SOCKET: join(socketDir, 'kamal-proxy.sock'), KAMAL_PROXY_HTTPS_PORT: String(await freePort()) };
  const proxy = await startAs(AS_NOBODY, [`--http-port=${port}`], env, t);
  const kamal = (...args: string[]) => cliAs(AS_NOBODY, args, env);

  const problem =
    `cannot save state to ${statePath}: permission denied (EACCES); ` +
    `the directory ${stateDir} must be writable by uid ${NOBODY} (it is owned by uid 0, mode 0755)`;
  // Said once at start, loudly; the proxy still starts and serves what it restored.
  const startup = logged(proxy.output(), 'State cannot be saved: deploy, remove and every other change will fail until it can');
  assert.deepEqual(startup.map((l) => [l.level, l.path, l.error]), [['ERROR', statePath, problem]]);
  assert.deepEqual(await get(port, 'web.example.com'), { status: 200, body: 'old' });

  // A redeploy: refused after the health check, before the swap.
  const redeploy = await kamal('deploy', 'web', `--target=${fresh.address}`, '--host=web.example.com', '--health-check-interval=50ms');
  assert.deepEqual([redeploy.code, redeploy.stderr, redeploy.stdout], [1, `Error: ${problem}\n`, '']);
  assert.deepEqual(await get(port, 'web.example.com'), { status: 200, body: 'old' });
  assert.equal(fresh.requests, 0);

  // A service that did not exist: no route appears.
  const added = await kamal('deploy', 'other', `--target=${fresh.address}`, '--host=other.example.com', '--health-check-interval=50ms');
  assert.deepEqual([added.code, added.stderr], [1, `Error: ${problem}\n`]);
  assert.equal((await get(port, 'other.example.com')).status, 404);

  // Remove, and maintenance mode (what Kamal runs): refused, the service serves on.
  for (const args of [['remove', 'web'], ['stop', 'web', '--drain-timeout=1s'], ['pause', 'web'], ['resume', 'web']]) {
    const r = await kamal(...args);
    assert.deepEqual([args[0], r.code, r.stderr], [args[0], 1, `Error: ${problem}\n`]);
    assert.deepEqual(await get(port, 'web.example.com'), { status: 200, body: 'old' });
  }
  // A missing service is still reported as such, whatever the disk.
  assert.deepEqual(await kamal('remove', 'missing'), { code: 1, stdout: '', stderr: 'Error: service not found\n' });
  // The proxy's log says it too, once per refused command.
  await waitFor(() => logged(proxy.output(), 'Command refused: state cannot be saved').length >= 6);
  const refused = logged(proxy.output(), 'Command refused: state cannot be saved');
  assert.deepEqual(refused.map((l) => [l.level, l.error]), Array(6).fill(['ERROR', problem]));

  const listed = await kamal('list');
  assert.equal(listed.code, 0);
  assert.match(plain(listed.stdout), new RegExp(`^web\\s+web\\.example\\.com\\s+/\\s+${old.address}\\s+running\\s+no`, 'm'));
  assert.doesNotMatch(listed.stdout, /other/);
  // Nothing changed, so nothing is unsaved: the state file still says so.
  const status = await kamal('status');
  assert.equal(status.code, 0);
  assert.doesNotMatch(status.stdout, /Warning/);
  assert.equal(readFileSync(statePath, 'utf8'), saved);
  assert.deepEqual(readdirSync(stateDir), ['kamal-proxy.state']);
});

test('a save that fails after the check: the command succeeds, the error is logged and shown by status until a save succeeds', async (t) => {
  const web = await startBackend('web');
  closeAfter(t, web);
  const home = scratchDir('kn-unsaved-');
  const stateDir = join(home, '.config', 'kamal-proxy');
  const statePath = join(stateDir, 'kamal-proxy.state');
  const port = await freePort();
  // The compile cache would be written under the same limit: off.
  const env = { HOME: home, KAMAL_PROXY_SOCKET: join(home, 'kamal-proxy.sock'), KAMAL_PROXY_HTTPS_PORT: String(await freePort()), NODE_DISABLE_COMPILE_CACHE: '1' };
  const proxy = await startAs(['prlimit', '--fsize=256'], [`--http-port=${port}`], env, t);
  const kamal = (...args: string[]) => cliAs([], args, env);
  assert.doesNotMatch(proxy.output(), /State cannot be saved/);

  const problem = `cannot save state to ${statePath}: file too large (EFBIG); raise the file size limit (ulimit -f) of the proxy process`;
  const deployed = await kamal('deploy', 'web', `--target=${web.address}`, '--host=web.example.com', '--health-check-interval=50ms');
  assert.deepEqual([deployed.code, deployed.stderr], [0, '']);
  assert.deepEqual(await get(port, 'web.example.com'), { status: 200, body: 'web' });
  await waitFor(() => logged(proxy.output(), 'Failed to save state').length === 1);
  assert.deepEqual(logged(proxy.output(), 'Failed to save state').map((l) => [l.level, l.path, l.error]), [['ERROR', statePath, problem]]);
  assert.deepEqual(readdirSync(stateDir), [], 'no state file, and no temp file left behind');

  const warning = /^Warning: state not saved since (\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z): (.*)$/;
  const first = await kamal('status');
  assert.equal(first.code, 0);
  const [, since, error] = first.stdout.split('\n')[0]!.match(warning) ?? [];
  assert.equal(error, problem, first.stdout);
  // `list` stays exactly kamal-proxy's table.
  const listed = await kamal('list');
  assert.match(plain(listed.stdout), /^Service\s+Host\s+Path\s+Target\s+State\s+TLS\s*\n/);
  assert.doesNotMatch(listed.stdout, /Warning/);

  // Still failing: the warning keeps the time of the first failure.
  assert.equal((await kamal('deploy', 'web', `--target=${web.address}`, '--host=web.example.com', '--health-check-interval=50ms')).code, 0);
  const second = await kamal('status');
  assert.equal(second.stdout.split('\n')[0]!.match(warning)?.[1], since, second.stdout);

  // The next good save (no services: a few bytes) clears it.
  assert.deepEqual(await kamal('remove', 'web'), { code: 0, stdout: '', stderr: '' });
  assert.equal(readFileSync(statePath, 'utf8'), '[]\n');
  const cleared = await kamal('status');
  assert.equal(cleared.code, 0);
  assert.doesNotMatch(cleared.stdout, /Warning/);
  await waitFor(() => logged(proxy.output(), 'Saved state again').length === 1);
});
