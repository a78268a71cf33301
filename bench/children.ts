// Every process and temp dir the bench creates is registered here, so one
// cleanup() removes them all: on success, on error, on Ctrl-C/SIGTERM and on the
// overall deadline.
//
// Children are spawned `detached` (their own process group) so that a signal to
// the group also reaches grandchildren (nginx workers, the node behind
// bin/kamal-proxy); the price is that Ctrl-C no longer reaches them directly,
// which is why the signal handlers below must run cleanup().
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export type Child = { name: string; proc: ChildProcess; exited: Promise<number | null>; error?: Error };
export type Output = { code: number | null; stdout: string; stderr: string; timedOut: boolean };

const children = new Set<Child>();
const dirs: string[] = [];

export function makeTempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'napper-bench-'));
  // nginx running as root drops its workers to `nobody`, which must be able to
  // reach the files below (mkdtemp creates the dir 0700).
  chmodSync(dir, 0o755);
  dirs.push(dir);
  return dir;
}

type Stdio = 'ignore' | 'pipe' | 'inherit' | number;

export function start(name: string, cmd: string, args: string[], opts: { env?: NodeJS.ProcessEnv; stdout?: Stdio; stderr?: Stdio } = {}): Child {
  const proc = spawn(cmd, args, {
    detached: true,
    env: opts.env ?? process.env,
    stdio: ['ignore', opts.stdout ?? 'ignore', opts.stderr ?? 'ignore'],
  });
  const child: Child = { name, proc, exited: Promise.resolve(null) };
  child.exited = new Promise<number | null>((resolve) => {
    proc.on('error', (err) => {
      child.error = err;
      resolve(null);
    });
    // 'close' rather than 'exit': it comes after the stdio pipes are drained.
    proc.on('close', (code) => resolve(code));
  });
  children.add(child);
  void child.exited.then(() => children.delete(child));
  return child;
}

// Runs a command to completion, killing it after timeoutMs.
export async function run(cmd: string, args: string[], opts: { timeoutMs: number; env?: NodeJS.ProcessEnv }): Promise<Output> {
  const child = start(cmd, cmd, args, { env: opts.env, stdout: 'pipe', stderr: 'pipe' });
  let stdout = '';
  let stderr = '';
  child.proc.stdout?.on('data', (d: Buffer) => (stdout += d));
  child.proc.stderr?.on('data', (d: Buffer) => (stderr += d));
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    killGroup(child, 'SIGKILL');
  }, opts.timeoutMs);
  const code = await child.exited;
  clearTimeout(timer);
  if (child.error) throw new Error(`cannot run ${cmd}: ${child.error.message}`);
  return { code, stdout, stderr, timedOut };
}

function killGroup(child: Child, signal: NodeJS.Signals): void {
  if (child.proc.pid === undefined) return;
  try {
    process.kill(-child.proc.pid, signal);
  } catch {
    // already gone
  }
}

export async function stop(child: Child, graceMs = 3000): Promise<void> {
  killGroup(child, 'SIGTERM');
  const gone = await Promise.race([child.exited.then(() => true), sleep(graceMs).then(() => false)]);
  // SIGKILL the group even after a clean exit of the leader: a grandchild
  // may have outlived it.
  killGroup(child, 'SIGKILL');
  if (!gone) await Promise.race([child.exited, sleep(1000)]);
}

let cleaning: Promise<void> | undefined;

export function cleanup(): Promise<void> {
  cleaning ??= (async () => {
    await Promise.all([...children].map((c) => stop(c)));
    removeDirs();
  })();
  return cleaning;
}

function removeDirs(): void {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
}

let stopReason: string | undefined;

// Set once a signal or the deadline has started shutting down: the failures
// that follow (wrk killed mid-run) are consequences, not news.
export function stopping(): string | undefined {
  return stopReason;
}

export function installExitHandlers(deadlineMs: number): void {
  const bail = (why: string, code: number) => {
    if (stopReason) return;
    stopReason = why;
    process.stderr.write(`\n${why}: cleaning up\n`);
    void cleanup().finally(() => process.exit(code));
  };
  process.once('SIGINT', () => bail('interrupted', 130));
  process.once('SIGTERM', () => bail('terminated', 143));
  setTimeout(() => bail(`deadline of ${Math.round(deadlineMs / 1000)} s reached`, 1), deadlineMs).unref();
  // Last resort if the process exits before cleanup() has finished: the 'exit'
  // event allows only synchronous work.
  process.on('exit', () => {
    for (const c of children) killGroup(c, 'SIGKILL');
    removeDirs();
  });
}

// Runs a bench's main: cleans up and exits 0 when it ends, 1 (saying why)
// when it fails; after Ctrl-C or the deadline the exit handler reports and exits.
export function runBench(name: string, main: () => Promise<void>): void {
  main().then(
    async () => {
      await cleanup();
      process.exit(0);
    },
    async (e: unknown) => {
      if (stopping()) return;
      console.error(`\n${name} failed: ${e instanceof Error ? e.message : String(e)}`);
      await cleanup();
      process.exit(1);
    },
  );
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
