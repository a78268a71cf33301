import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { ProcessRuntime, type ProcessRuntimeOptions } from '../../src/nap/process-runtime.ts';
import { freePort } from '../helpers/free-port.ts';

const node = process.execPath;

// A temp dir and a runtime factory whose runtimes are stopped after the test.
async function setup(t: TestContext) {
  const dir = await mkdtemp(join(tmpdir(), 'process-runtime-'));
  const pidFile = join(dir, 'app.pid');
  const runtimes: ProcessRuntime[] = [];
  t.after(async () => {
    for (const runtime of runtimes) await runtime.stop().catch(() => {});
    await rm(dir, { recursive: true, force: true });
  });
  const make = (options: Partial<ProcessRuntimeOptions> & { command: string }) => {
    const runtime = new ProcessRuntime({ pidFile, ...options });
    runtimes.push(runtime);
    return runtime;
  };
  return { dir, pidFile, make };
}

function stat(pid: number): { state: string; startTime: number } | null {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
    return { state: fields[0]!, startTime: Number(fields[19]) };
  } catch {
    return null;
  }
}

// Zombies count as dead: an orphan may wait a while for someone to reap it.
function running(pid: number): boolean {
  const s = stat(pid);
  return s !== null && s.state !== 'Z' && s.state !== 'X';
}

async function waitFor(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 3000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await delay(20);
  }
}

async function get(port: number): Promise<string | null> {
  try {
    return await (await fetch(`http://127.0.0.1:${port}/`)).text();
  } catch {
    return null;
  }
}

test('start runs the command, inspect sees it, stop ends it', async (t) => {
  const { pidFile, make } = await setup(t);
  const port = await freePort();
  const command = `exec ${node} -e "require('http').createServer((q,s)=>s.end('ok')).listen(${port},'127.0.0.1')"`;
  const runtime = make({ command, stopTimeoutMs: 20_000 });
  assert.equal(await runtime.inspect(), 'stopped');
  await runtime.stop(); // stopping a stopped app is fine

  await runtime.start();
  const pid = runtime.pid!;
  assert.ok(running(pid));
  assert.equal(await runtime.inspect(), 'running');
  assert.equal(runtime.description, `process:pid ${pid}`);
  await waitFor('the app to answer', async () => (await get(port)) === 'ok');

  const recorded = JSON.parse(readFileSync(pidFile, 'utf8'));
  assert.equal(recorded.pid, pid);
  assert.equal(recorded.command, command);
  assert.equal(statSync(pidFile).mode & 0o777, 0o600);

  await runtime.start(); // already running: no second copy
  assert.equal(runtime.pid, pid);

  const began = Date.now();
  await runtime.stop();
  // Far below the 20 s grace period: the process went on SIGTERM, it was not killed after waiting.
  assert.ok(Date.now() - began < 5000, 'a process that honours SIGTERM is not waited out');
  assert.equal(running(pid), false);
  assert.equal(await runtime.inspect(), 'stopped');
  assert.equal(runtime.pid, null);
  assert.equal(existsSync(pidFile), false);
  assert.equal(await get(port), null);
});

test('concurrent starts spawn one process', async (t) => {
  const { make } = await setup(t);
  const runtime = make({ command: 'exec sleep 1000' });
  const seen = new Set<number>();
  await Promise.all([runtime.start().then(() => seen.add(runtime.pid!)), runtime.start().then(() => seen.add(runtime.pid!))]);
  assert.equal(seen.size, 1);
});

test('stop kills a process that ignores SIGTERM after the timeout', async (t) => {
  const { make } = await setup(t);
  const runtime = make({ command: "trap '' TERM; sleep 1000", stopTimeoutMs: 300 });
  await runtime.start();
  const pid = runtime.pid!;
  const began = Date.now();
  await runtime.stop();
  assert.ok(Date.now() - began >= 300, 'waited for the grace period first');
  assert.equal(running(pid), false);
  assert.equal(await runtime.inspect(), 'stopped');
});

test('stop ends the whole process group, not just the shell', async (t) => {
  const { dir, make } = await setup(t);
  const childPidFile = join(dir, 'child.pid');
  const runtime = make({ command: `sleep 1000 & echo $! > ${childPidFile}; wait` });
  await runtime.start();
  await waitFor('the forked child', () => existsSync(childPidFile) && readFileSync(childPidFile, 'utf8').trim() !== '');
  const childPid = Number(readFileSync(childPidFile, 'utf8'));
  assert.ok(running(childPid));
  await runtime.stop();
  assert.equal(running(runtime.pid ?? childPid), false);
  assert.equal(running(childPid), false);
});

test('a command that fails at once rejects start with its exit code', async (t) => {
  const { dir, pidFile, make } = await setup(t);
  await assert.rejects(make({ command: 'exit 3' }).start(), /"exit 3" exited with code 3/);
  await assert.rejects(make({ command: 'no-such-command-xyz' }).start(), /"no-such-command-xyz" exited with code 127/);
  await assert.rejects(make({ command: 'true', cwd: join(dir, 'missing') }).start(), /cannot run "true" in .*missing/);
  assert.equal(existsSync(pidFile), false);

  const logFile = join(dir, 'app.log');
  const failing = make({ command: 'echo boom >&2; exit 1', logFile });
  await assert.rejects(failing.start(), /exited with code 1/);
  assert.equal(await failing.inspect(), 'stopped');
  assert.equal(readFileSync(logFile, 'utf8'), 'boom\n');
});

test('a crash is reported through onExternalChange', async (t) => {
  const { pidFile, make } = await setup(t);
  const runtime = make({ command: 'exec sleep 1000' });
  const changes: string[] = [];
  runtime.onExternalChange((state) => changes.push(state));
  await runtime.start();
  process.kill(runtime.pid!, 'SIGKILL');
  await waitFor('the crash report', () => changes.length > 0);
  assert.deepEqual(changes, ['stopped']);
  assert.equal(await runtime.inspect(), 'stopped');
  assert.equal(existsSync(pidFile), false);

  // A stop we asked for is not a crash.
  await runtime.start();
  await runtime.stop();
  await delay(100);
  assert.deepEqual(changes, ['stopped']);
});

test('a second runtime adopts the running process and can stop it', async (t) => {
  const { pidFile, make } = await setup(t);
  const first = make({ command: 'exec sleep 1000' });
  await first.start();
  const pid = first.pid!;
  first.close(); // the proxy restarts; the app keeps running
  assert.ok(running(pid));

  const second = make({ command: 'exec sleep 1000' });
  assert.equal(second.pid, pid);
  assert.equal(await second.inspect(), 'running');
  await second.start();
  assert.equal(second.pid, pid, 'no second copy');

  await second.stop();
  assert.equal(running(pid), false);
  assert.equal(await second.inspect(), 'stopped');
  assert.equal(existsSync(pidFile), false);
});

test('an adopted process that crashes is reported', async (t) => {
  const { make } = await setup(t);
  const first = make({ command: 'exec sleep 1000' });
  await first.start();
  first.close();
  const second = make({ command: 'exec sleep 1000' });
  const changes: string[] = [];
  second.onExternalChange((state) => changes.push(state));
  process.kill(second.pid!, 'SIGKILL');
  await waitFor('the crash report', () => changes.length > 0, 3000);
  assert.deepEqual(changes, ['stopped']);
  assert.equal(await second.inspect(), 'stopped');
});

test('a stale pid file is ignored and never signalled', async (t) => {
  const { pidFile, make } = await setup(t);
  const command = 'exec sleep 1000';
  const other = spawn('sleep', ['1000'], { stdio: 'ignore' });
  t.after(() => other.kill('SIGKILL'));
  await new Promise((resolve) => other.once('spawn', resolve));
  const otherStart = stat(other.pid!)!.startTime;
  const dead = spawn('true');
  await new Promise((resolve) => dead.once('exit', resolve));

  const stale = [
    { pid: dead.pid, startTime: 1, command }, // the process is gone
    { pid: other.pid, startTime: otherStart - 1, command }, // the pid now belongs to another process
    { pid: other.pid, startTime: otherStart, command: 'exec sleep 2000' }, // written for another command
  ];
  for (const record of stale) {
    writeFileSync(pidFile, JSON.stringify(record));
    const runtime = make({ command });
    assert.equal(runtime.pid, null);
    assert.equal(await runtime.inspect(), 'stopped');
    await runtime.stop();
    assert.ok(running(other.pid!), 'the unrelated process was not signalled');
  }

  writeFileSync(pidFile, 'not json');
  const runtime = make({ command });
  assert.equal(await runtime.inspect(), 'stopped');
  await runtime.start(); // replaces the stale file
  assert.notEqual(runtime.pid, other.pid);
  assert.equal(JSON.parse(readFileSync(pidFile, 'utf8')).pid, runtime.pid);
});
