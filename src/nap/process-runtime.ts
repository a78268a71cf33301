// The "process" nap runtime: an app deployed with `--nap-command "CMD"` is a
// local shell command. start() runs it as `/bin/sh -c CMD` in its own process
// group, stop() signals that whole group (shells fork, and an app's workers
// must go with it), and a pid file lets a restarted proxy adopt the app it
// left running instead of starting a second copy or forgetting to stop it.
import { spawn, type ChildProcess } from 'node:child_process';
import { dirname } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { fs, fsAsync } from '../util/node-fs.ts';
import type { Runtime, RuntimeState } from './runtime.ts';

const { closeSync, openSync, readFileSync, readdirSync, unlinkSync } = fs;
const { mkdir, rename, unlink, writeFile } = fsAsync;

export interface ProcessRuntimeOptions {
  command: string;
  cwd?: string;
  env?: Record<string, string>; // added to the proxy's own environment (apps need PATH, HOME…)
  stopTimeoutMs?: number;
  pidFile: string;
  logFile?: string; // stdout and stderr are appended here; discarded without it
}

const DEFAULT_STOP_TIMEOUT_MS = 10_000;
// A broken command (typo, missing file) exits at once: fail the wake then,
// not after the whole health-check wait.
const EARLY_EXIT_WINDOW_MS = 100;
// An adopted process is not our child, so no 'exit' event: we poll /proc.
const ADOPTED_POLL_MS = 1000;
const STOP_POLL_MS = 50;
// After SIGKILL the kernel needs a moment; we do not wait for ever on a group
// stuck in uninterruptible sleep.
const KILL_GRACE_MS = 2000;

// What the pid file holds. A pid alone can be recycled, and the command line in
// /proc is no identity either: `exec node app.js` replaces the shell's. The
// start time (clock ticks since boot, /proc/<pid>/stat field 22) survives exec
// and differs for any later process with the same pid.
interface Leader {
  pid: number;
  startTime: number;
  command: string;
}

export class ProcessRuntime implements Runtime {
  readonly #options: ProcessRuntimeOptions;
  readonly #stopTimeoutMs: number;
  readonly #listeners = new Set<(state: RuntimeState) => void>();
  #leader: Leader | null; // the group leader we started or adopted
  #child: ChildProcess | null = null; // set only while we watch our own child's 'exit'
  #poll: NodeJS.Timeout | null = null; // set only while we watch an adopted process
  #queue: Promise<void> = Promise.resolve();

  constructor(options: ProcessRuntimeOptions) {
    this.#options = options;
    this.#stopTimeoutMs = options.stopTimeoutMs ?? DEFAULT_STOP_TIMEOUT_MS;
    // A stale file (dead pid, recycled pid, other command) is just ignored;
    // the next start() replaces it.
    const recorded = readPidFile(options.pidFile, options.command);
    this.#leader = recorded && isAlive(recorded) ? recorded : null;
    if (this.#leader) this.#watchAdopted(this.#leader);
  }

  get description(): string {
    return this.#leader ? `process:pid ${this.#leader.pid}` : 'process:stopped';
  }

  get pid(): number | null {
    return this.#leader?.pid ?? null;
  }

  async inspect(): Promise<RuntimeState> {
    return this.#leader && isAlive(this.#leader) ? 'running' : 'stopped';
  }

  // start and stop run one at a time, so a start racing a stop (or a second
  // start) sees the outcome of the first instead of spawning a second copy.
  start(): Promise<void> {
    return this.#serially(() => this.#start());
  }

  stop(): Promise<void> {
    return this.#serially(() => this.#stop());
  }

  // The resident memory of the app's process group (the shell, the app and
  // its workers; pages they share are counted in each); null when stopped.
  async memoryBytes(): Promise<number | null> {
    const leader = this.#leader;
    return leader && isAlive(leader) ? groupResidentBytes(leader.pid) : null;
  }

  onExternalChange(listener: (state: RuntimeState) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  close(): void {
    this.#unwatch();
    this.#listeners.clear();
  }

  // Private

  #serially(operation: () => Promise<void>): Promise<void> {
    const result = this.#queue.then(operation);
    this.#queue = result.catch(() => {});
    return result;
  }

  async #start(): Promise<void> {
    if (this.#leader && isAlive(this.#leader)) return;
    this.#forget();
    const { command, cwd, env, logFile } = this.#options;
    const log = logFile ? openSync(logFile, 'a', 0o600) : null;
    let child: ChildProcess;
    let exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
    try {
      const output = log ?? 'ignore';
      // detached: setsid(), so the shell leads a new process group (and session:
      // the app outlives the proxy, which is what lets a restart adopt it).
      child = spawn('/bin/sh', ['-c', command], {
        cwd,
        env: { ...process.env, ...env },
        detached: true,
        stdio: ['ignore', output, output],
      });
      // Listen before any await: a broken command can exit while we wait.
      exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
      await new Promise<void>((resolve, reject) => {
        child.once('spawn', resolve);
        child.on('error', reject); // later errors (there are none we act on) land here harmlessly
      });
    } catch (err) {
      throw new Error(`cannot run "${command}"${cwd ? ` in ${cwd}` : ''}: ${(err as Error).message}`);
    } finally {
      if (log !== null) closeSync(log); // the child has its own copy
    }
    child.unref(); // a running app must not keep the proxy's event loop alive
    const pid = child.pid!;
    const leader: Leader = { pid, startTime: readStat(pid)?.startTime ?? -1, command };
    this.#leader = leader;
    try {
      await writePidFile(this.#options.pidFile, leader);
    } catch (err) {
      await this.#stop(); // untracked across a restart is worse than not started
      throw new Error(`cannot write pid file ${this.#options.pidFile}: ${(err as Error).message}`);
    }

    const early = await Promise.race([exited, delay(EARLY_EXIT_WINDOW_MS, null)]);
    if (early) {
      this.#forget();
      // A clean exit may be a hand-off to a daemon: the health check decides.
      if (early.code === 0) return;
      const how = early.signal ? `was killed by ${early.signal}` : `exited with code ${early.code}`;
      throw new Error(`"${command}" ${how} right after start`);
    }
    this.#child = child;
    exited.then(() => {
      if (this.#child === child) this.#exitedByItself();
    });
  }

  async #stop(): Promise<void> {
    const leader = this.#leader;
    if (!leader) return;
    this.#unwatch(); // from here on the exit is ours, not a crash
    if (ownsGroup(leader) && signalGroup(leader.pid, 'SIGTERM')) {
      if (!(await groupGone(leader.pid, this.#stopTimeoutMs))) {
        signalGroup(leader.pid, 'SIGKILL');
        await groupGone(leader.pid, KILL_GRACE_MS);
      }
    }
    this.#forget();
  }

  #watchAdopted(leader: Leader): void {
    this.#poll = setInterval(() => {
      if (!isAlive(leader)) this.#exitedByItself();
    }, ADOPTED_POLL_MS);
    this.#poll.unref();
  }

  #exitedByItself(): void {
    this.#forget();
    for (const listener of [...this.#listeners]) listener('stopped');
  }

  #unwatch(): void {
    this.#child = null;
    if (this.#poll) clearInterval(this.#poll);
    this.#poll = null;
  }

  #forget(): void {
    this.#unwatch();
    if (!this.#leader) return;
    this.#leader = null;
    try {
      unlinkSync(this.#options.pidFile);
    } catch {
      // already gone
    }
  }
}

interface ProcStat {
  state: string;
  pgrp: number;
  startTime: number;
}

// /proc/<pid>/stat: "pid (comm) state ppid pgrp … starttime …". comm may hold
// spaces and parentheses, so fields are counted from the last ')'.
function readStat(pid: number): ProcStat | null {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return null;
  }
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  return { state: fields[0]!, pgrp: Number(fields[2]), startTime: Number(fields[19]) };
}

// Alive means: that very process (same start time), and not a zombie.
function isAlive(leader: Leader): boolean {
  const stat = readStat(leader.pid);
  return stat !== null && stat.state !== 'Z' && stat.state !== 'X' && stat.startTime === leader.startTime;
}

// The group id is the leader's pid, which the kernel never reuses while the
// group has members; only once another process holds that pid could the
// group be someone else's, and then we must not signal it.
function ownsGroup(leader: Leader): boolean {
  const stat = readStat(leader.pid);
  return stat === null || stat.startTime === leader.startTime;
}

function signalGroup(pgid: number, signal: NodeJS.Signals | 0): boolean {
  try {
    process.kill(-pgid, signal);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ESRCH') return false;
    throw err;
  }
}

async function groupGone(pgid: number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (groupHasLiveMember(pgid)) {
    if (Date.now() >= deadline) return false;
    await delay(STOP_POLL_MS);
  }
  return true;
}

function groupHasLiveMember(pgid: number): boolean {
  if (!signalGroup(pgid, 0)) return false; // 0: existence check only
  // kill(0) also counts zombies, which nobody may ever reap (a proxy running as
  // PID 1 without an init reaps only its own children), so look closer.
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = readStat(Number(entry));
    if (stat && stat.pgrp === pgid && stat.state !== 'Z' && stat.state !== 'X') return true;
  }
  return false;
}

function groupResidentBytes(pgid: number): number {
  let total = 0;
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = readStat(Number(entry));
    if (stat !== null && stat.pgrp === pgid) total += residentBytes(Number(entry));
  }
  return total;
}

// VmRSS of /proc/<pid>/status ("VmRSS:   51234 kB"); 0 for a process gone
// meanwhile or a zombie (which has none).
function residentBytes(pid: number): number {
  try {
    const m = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m === null ? 0 : Number(m[1]) * 1024;
  } catch {
    return 0;
  }
}

function readPidFile(path: string, command: string): Leader | null {
  try {
    const record = JSON.parse(readFileSync(path, 'utf8')) as Partial<Leader>;
    if (typeof record.pid !== 'number' || typeof record.startTime !== 'number') return null;
    return record.command === command ? (record as Leader) : null;
  } catch {
    return null; // missing or unreadable: nothing to adopt
  }
}

// Temp file + rename: a proxy that dies mid-write leaves the old file or the
// new one, never half of one. 0600: it names a process we will signal.
async function writePidFile(path: string, leader: Leader): Promise<void> {
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  const temp = `${path}.${process.pid}.tmp`;
  await unlink(temp).catch(() => {});
  await writeFile(temp, `${JSON.stringify(leader)}\n`, { mode: 0o600, flag: 'wx' });
  await rename(temp, path);
}
