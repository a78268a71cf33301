// Two builds of kamal-napper under the same load at the same time: this
// checkout (B) and a base revision (A, checked out in a temporary git
// worktree). Both proxies run in front of one backend, each with its own wrk
// (-t1 -c50), started together, so whatever the shared box does to one run it
// does to the other. Both proxies are pinned to CPU 0 and everything else
// (this script, the backend, the two wrk) to CPU 1: the kernel then shares
// CPU 0 evenly between the proxies; unpinned, it placed them unevenly and the
// same comparison came out anywhere from 0.85 to 1.36. Per round it prints the requests each completed and the
// CPU time each proxy used per request (user + system, /proc/<pid>/stat),
// and the B/A ratios; the medians at the end are the figures to quote.
//
// This is the way to tell whether a change pays: `npm run bench` interleaves
// runs, and on this box two runs a minute apart differ by more than most
// changes do. Comparing a build with itself (--base HEAD, no local changes)
// gives ratios of 0.99–1.00.
//
// Usage: node bench/side-by-side.ts [--base REV] [--rounds 5] [--duration 5]
import { readFileSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { startBackend } from './backend.ts';
import { BODY } from './body.ts';
import { cpus } from 'node:os';
import { cleanup, installExitHandlers, makeTempDir, run } from './children.ts';
import { get } from './net.ts';
import { median } from './report.ts';
import { startNapper, type Napper } from './targets.ts';
import { requireTools, ROOT } from './tools.ts';
import { failure, wrk, type WrkResult } from './wrk.ts';

const WARMUP_SECONDS = 1;

function cpuTicks(pid: number): number {
  // Fields after the command name, which may itself hold spaces and parentheses.
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(fields[11]) + Number(fields[12]); // utime + stime
}

async function git(args: string[]): Promise<string> {
  const out = await run('git', ['-C', ROOT, ...args], { timeoutMs: 60_000 });
  if (out.code !== 0) throw new Error(`git ${args.join(' ')} failed:\n${out.stderr}`);
  return out.stdout.trim();
}

// Every thread of the process; threads made later inherit it.
async function pin(pid: number, cpu: number): Promise<void> {
  const out = await run('taskset', ['-a', '-p', '-c', String(cpu), String(pid)], { timeoutMs: 5000 });
  if (out.code !== 0) throw new Error(`taskset failed for ${pid}: ${out.stderr}`);
}

async function both(a: Napper, b: Napper, wrkBin: string, seconds: number): Promise<[WrkResult, WrkResult]> {
  const [ra, rb] = await Promise.all([wrk(wrkBin, a.port, seconds, false), wrk(wrkBin, b.port, seconds, false)]);
  for (const [n, r] of [[a, ra], [b, rb]] as const) {
    const bad = failure(r);
    if (bad) throw new Error(`${n.name}: ${bad}`);
  }
  return [ra, rb];
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      base: { type: 'string', default: 'HEAD' },
      rounds: { type: 'string', default: '5' },
      duration: { type: 'string', default: '5' },
    },
  });
  const rounds = Number(values.rounds);
  const seconds = Number(values.duration);
  if (!(rounds >= 1 && seconds >= 1)) throw new Error('--rounds and --duration must be at least 1');
  const tools = requireTools();
  installExitHandlers((90 + rounds * (seconds + WARMUP_SECONDS + 2) * 2) * 1000);
  const tick = Number((await run('getconf', ['CLK_TCK'], { timeoutMs: 5000 })).stdout.trim()) || 100;

  if (cpus().length < 2) throw new Error('needs at least 2 CPUs: the proxies get CPU 0, the load CPU 1');
  await pin(process.pid, 1); // the backend and wrk, started from here, inherit it
  const dir = makeTempDir();
  // Both start with an empty compile cache: the base checkout's files are
  // new to the shared one, and a proxy that had to load Node's TypeScript
  // stripper ran 2-7% faster than one that found everything cached (more
  // heap, fewer collections), which would tilt the comparison.
  process.env.NODE_COMPILE_CACHE = join(dir, 'compile-cache');
  const baseDir = join(dir, 'base');
  const rev = await git(['rev-parse', '--short', values.base]);
  await git(['worktree', 'add', '--detach', baseDir, rev]);
  try {
    symlinkSync(join(ROOT, 'node_modules'), join(baseDir, 'node_modules'));
    const backend = await startBackend(dir, tools.nginx);
    const a = await startNapper(dir, backend, { root: baseDir, name: `A (${rev})` });
    const b = await startNapper(dir, backend, { name: 'B (this checkout)' });
    for (const p of [a, b]) {
      await pin(p.pid, 0);
      const res = await get(p.port);
      if (res.status !== 200 || !res.body.equals(BODY)) throw new Error(`correctness check failed for ${p.name}: status ${res.status}`);
    }
    console.log(`A: ${a.name}, B: ${b.name}; backend: ${backend.kind}; ${rounds} round(s) of ${seconds} s, both loaded at once\n`);
    console.log('round  A requests  B requests  B/A     A µs/req  B µs/req  B/A');
    const reqRatios: number[] = [];
    const cpuRatios: number[] = [];
    for (let i = 1; i <= rounds; i++) {
      await both(a, b, tools.wrk, WARMUP_SECONDS);
      const [a0, b0] = [cpuTicks(a.pid), cpuTicks(b.pid)];
      const [ra, rb] = await both(a, b, tools.wrk, seconds);
      const [ua, ub] = [((cpuTicks(a.pid) - a0) * 1e6) / tick / ra.requests, ((cpuTicks(b.pid) - b0) * 1e6) / tick / rb.requests];
      reqRatios.push(rb.requests / ra.requests);
      cpuRatios.push(ub / ua);
      const cols = [String(i).padEnd(5), String(ra.requests).padStart(10), String(rb.requests).padStart(10), (rb.requests / ra.requests).toFixed(2).padStart(5)];
      console.log(`${cols.join('  ')}   ${ua.toFixed(0).padStart(8)}  ${ub.toFixed(0).padStart(8)}  ${(ub / ua).toFixed(2)}`);
    }
    console.log(`\nmedian B/A: requests ${median(reqRatios).toFixed(2)}, CPU per request ${median(cpuRatios).toFixed(2)}`);
  } finally {
    await cleanup();
    await git(['worktree', 'remove', '--force', baseDir]).catch((e: Error) => console.error(e.message));
  }
}

try {
  await main();
} catch (err) {
  process.stderr.write(`side-by-side bench failed: ${(err as Error).message}\n`);
  process.exitCode = 1;
  await cleanup();
}
