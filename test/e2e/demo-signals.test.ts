// `npm start` ends however a newcomer ends it: Ctrl-C or SIGTERM to npm (which
// passes them to its `sh -c`, not to us), SIGHUP, its parent killed. Each
// time the demo, its napping app and its temp dir go; and a busy port is one
// clear line, not a stack trace.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import type { Server } from 'node:net';
import { join } from 'node:path';
import { test } from 'node:test';
import type { TestContext } from 'node:test';
import { request } from 'undici';
import { freePort } from '../helpers/free-port.ts';
import { NODE } from '../helpers/nap.ts';
import { ROOT } from '../helpers/proxy.ts';
import { scratchDir } from '../helpers/scratch-dir.ts';
import { waitFor } from '../helpers/wait.ts';

const MAIN = join(ROOT, 'src/demo/main.ts');
// How the demo is started: as the README says, by node itself, or under a
// shell that does not exec it (as npm's `sh -c` does not).
type How = 'npm start' | 'node' | 'sh -c';

interface Demo {
  child: ChildProcess;
  tmp: string; // the demo's TMPDIR: its temp dir goes in here
  port: number;
  httpsPort: number;
  output: () => string; // stdout and stderr
  stderr: () => string;
}

function launch(t: TestContext, how: How, ports: { port: number; httpsPort: number }): Demo {
  // A temp dir of its own, to see what the demo leaves there.
  const tmp = scratchDir('kn-demo-tmp-');
  const env = { ...process.env, PORT: String(ports.port), HTTPS_PORT: String(ports.httpsPort), BOOT_DELAY_MS: '100', TMPDIR: tmp };
  const [command, args] =
    how === 'npm start' ? ['npm', ['start']] : how === 'node' ? [NODE, [MAIN]] : ['sh', ['-c', `'${NODE}' '${MAIN}'; exit $?`]];
  // Its own process group, so cleanup reaches a demo left behind by its parent.
  const child = spawn(command, args, { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  let out = '';
  let err = '';
  child.stdout!.on('data', (d: Buffer) => (out += d));
  child.stderr!.on('data', (d: Buffer) => ((out += d), (err += d)));
  t.after(() => killGroup(child.pid!));
  return { child, tmp, ...ports, output: () => out, stderr: () => err };
}

async function startDemo(t: TestContext, how: How): Promise<Demo & { sleepyPort: number }> {
  const demo = launch(t, how, { port: await freePort(), httpsPort: await freePort() });
  await waitFor(() => demo.output().includes('Ctrl-C stops everything') || demo.child.exitCode !== null, 60_000);
  assert.match(demo.output(), /Ctrl-C stops everything/, 'the demo started');
  // Wake the napping app, so there is a process of its own to stop too.
  const res = await request(`http://127.0.0.1:${demo.port}/sleepy/`);
  assert.match(await res.body.text(), /Hello from the napping demo app/);
  // Log lines reach stdout in batches, written off the event loop: the line
  // may follow the stderr banner and even the response by a moment.
  const deployed = () => /"msg":"Deployed","service":"sleepy".*?"targets":\["127\.0\.0\.1:(\d+)"\]/.exec(demo.output());
  await waitFor(() => deployed() !== null, 10_000).catch(() => {});
  const sleepyPort = Number(deployed()?.[1]);
  assert.ok(sleepyPort > 0, `the napping app deploy is logged with its target:\n${demo.output()}`);
  return { ...demo, sleepyPort };
}

// Everything the demo started is gone: its temp dir (removed last, on exit),
// its port and its napping app's port.
async function assertAllStopped(demo: Demo & { sleepyPort: number }): Promise<void> {
  // npm 11 keeps a compile cache of its own in the temp dir (node-compile-cache).
  const left = () => readdirSync(demo.tmp).filter((name) => name !== 'node-compile-cache');
  await waitFor(() => left().length === 0, 30_000).catch(() => {
    throw new Error(`the demo's temp dir is still there: ${left().join(', ')}`);
  });
  assert.equal(await refused(demo.port), true, 'the proxy stopped');
  assert.equal(await refused(demo.sleepyPort), true, 'the napping app stopped');
}

function refused(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1', () => (s.destroy(), resolve(false)));
    s.once('error', () => resolve(true));
  });
}

function exitOf(child: ChildProcess): Promise<number | null> {
  return child.exitCode !== null ? Promise.resolve(child.exitCode) : new Promise((resolve) => child.once('exit', resolve));
}

// A demo the test left running (a failure): SIGTERM first, so it still stops
// its napping app, then SIGKILL whatever is left of the group.
async function killGroup(pgid: number): Promise<void> {
  const alive = () => {
    try {
      process.kill(-pgid, 0);
      return true;
    } catch {
      return false;
    }
  };
  if (!alive()) return;
  process.kill(-pgid, 'SIGTERM');
  await waitFor(() => !alive(), 15_000).catch(() => {});
  if (alive()) process.kill(-pgid, 'SIGKILL');
}

for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  test(`npm start, then ${signal} to npm: the demo and its napping app stop, and its temp dir goes`, { timeout: 120_000 }, async (t) => {
    const demo = await startDemo(t, 'npm start');
    demo.child.kill(signal); // npm alone, as `kill <npm's pid>` does
    // npm waits for its shell, and the shell for the demo.
    await waitFor(() => demo.child.exitCode !== null || demo.child.signalCode !== null, 30_000);
    await assertAllStopped(demo);
  });
}

test('SIGHUP (the terminal closed) stops everything, exit status 0', { timeout: 120_000 }, async (t) => {
  const demo = await startDemo(t, 'node');
  demo.child.kill('SIGHUP');
  assert.equal(await exitOf(demo.child), 0);
  await assertAllStopped(demo);
});

test('SIGTERM stops everything, exit status 0', { timeout: 120_000 }, async (t) => {
  const demo = await startDemo(t, 'node');
  demo.child.kill('SIGTERM');
  assert.equal(await exitOf(demo.child), 0);
  await assertAllStopped(demo);
});

test('its parent killed outright: the demo notices and stops everything', { timeout: 120_000 }, async (t) => {
  const demo = await startDemo(t, 'sh -c');
  demo.child.kill('SIGKILL'); // the shell: no signal reaches the demo
  await exitOf(demo.child);
  await assertAllStopped(demo);
});

for (const busy of ['port', 'httpsPort'] as const) {
  test(`a busy ${busy === 'port' ? 'PORT' : 'HTTPS_PORT'}: one line saying which variable to set, exit status 1, nothing left behind`, { timeout: 60_000 }, async (t) => {
    const ports = { port: await freePort(), httpsPort: await freePort() };
    const holder = await occupy(ports[busy]);
    t.after(() => holder.close());
    const demo = launch(t, 'node', ports);
    await new Promise((resolve) => demo.child.once('close', resolve)); // its output read to the end
    assert.equal(demo.child.exitCode, 1);
    const expected =
      busy === 'port'
        ? new RegExp(`(^|\n)port ${ports.port} is in use: set PORT=\\.\\.\\. \\(and HTTPS_PORT=\\.\\.\\.\\), e\\.g\\. PORT=\\d+ HTTPS_PORT=\\d+ npm start\n$`)
        : new RegExp(`(^|\n)port ${ports.httpsPort} is in use: set HTTPS_PORT=\\.\\.\\., e\\.g\\. HTTPS_PORT=\\d+ npm start\n$`);
    assert.match(demo.stderr(), expected, demo.output());
    assert.doesNotMatch(demo.stderr(), /^\s+at /m, 'no stack trace');
    assert.deepEqual(readdirSync(demo.tmp), [], 'no temp dir left');
  });
}

// On every address, as the demo's proxy listens.
function occupy(port: number): Promise<Server> {
  return new Promise((resolve, reject) => {
    const server = createServer().once('error', reject);
    server.listen({ port, host: '::' }, () => resolve(server));
  });
}
