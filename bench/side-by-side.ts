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
// With --http2 the load is h2load (-t1 -c50 -m10) over TLS to each proxy's
// HTTPS port instead, the service deployed with a throwaway certificate as
// `npm run bench` deploys its TLS one.
//
// With --post every wrk request is a POST with a small JSON body (as a form
// post or an API call sends), in one write with its head. With --https1 the
// load is HTTP/1.1 over TLS (h2load --h1 -t1 -c50), as a CDN or an API client
// connects to its origin.
//
// Usage: node bench/side-by-side.ts [--base REV] [--rounds 5] [--duration 5] [--http2 | --https1 | --post]
import { readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { startBackend } from './backend.ts';
import { BODY } from './body.ts';
import { cpus } from 'node:os';
import { cleanup, installExitHandlers, makeTempDir, run, stop } from './children.ts';
import { get } from './net.ts';
import { median } from './report.ts';
import { startNapper, type Napper } from './targets.ts';
import { requireTools, ROOT } from './tools.ts';
import { failure, wrk } from './wrk.ts';
import { h2Failure, h2load, h2loadRequests } from './h2load.ts';
import { h2Get, makeCertificate } from './tls.ts';

const WARMUP_SECONDS = 1;
const H2_WARMUP_REQUESTS = 5000; // about a second's worth (see h2loadRequests)

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

// One load run against a proxy (seconds 0: a warm-up): the requests it
// completed, or why the run failed.
type Load = (p: Napper, seconds: number) => Promise<number>;

function wrkLoad(bin: string, script?: string): Load {
  return async (p, seconds) => {
    const r = await wrk(bin, p.port, seconds || WARMUP_SECONDS, false, script);
    const bad = failure(r);
    if (bad) throw new Error(`${p.name}: ${bad}`);
    return r.requests;
  };
}

function h2Load(bin: string, h1: boolean): Load {
  return async (p, seconds) => {
    const o = { h1 };
    const r = seconds === 0 ? await h2loadRequests(bin, p.httpsPort, H2_WARMUP_REQUESTS, o) : await h2load(bin, p.httpsPort, seconds, o);
    const bad = h2Failure(r, h1 ? 'http/1.1' : 'h2');
    if (bad) throw new Error(`${p.name}: ${bad}`);
    return r.requests;
  };
}

function both(a: Napper, b: Napper, load: Load, seconds: number): Promise<[number, number]> {
  return Promise.all([load(a, seconds), load(b, seconds)]);
}

// A wrk script that makes every request a POST with a small JSON body.
function postScript(dir: string): string {
  const file = join(dir, 'post.lua');
  const body = JSON.stringify({ user: { name: 'Ada Lovelace', email: 'ada@example.com', note: 'a small JSON body, as an API call sends' } });
  writeFileSync(file, `wrk.method = "POST"\nwrk.body = '${body}'\nwrk.headers["Content-Type"] = "application/json"\n`);
  return file;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      base: { type: 'string', default: 'HEAD' },
      rounds: { type: 'string', default: '5' },
      duration: { type: 'string', default: '5' },
      http2: { type: 'boolean', default: false },
      https1: { type: 'boolean', default: false },
      post: { type: 'boolean', default: false },
    },
  });
  if ([values.http2, values.https1, values.post].filter(Boolean).length > 1) throw new Error('--http2, --https1 and --post go one at a time');
  const overTls = values.http2 || values.https1;
  const rounds = Number(values.rounds);
  const seconds = Number(values.duration);
  if (!(rounds >= 1 && seconds >= 1)) throw new Error('--rounds and --duration must be at least 1');
  const tools = requireTools();
  if (overTls && (tools.h2load === undefined || tools.openssl === undefined)) {
    throw new Error('--http2 and --https1 need h2load (apt-get install nghttp2-client) and openssl');
  }
  installExitHandlers((90 + rounds * (seconds + WARMUP_SECONDS + 2) * 2) * 1000);
  const tick = Number((await run('getconf', ['CLK_TCK'], { timeoutMs: 5000 })).stdout.trim()) || 100;

  if (cpus().length < 2) throw new Error('needs at least 2 CPUs: the proxies get CPU 0, the load CPU 1');
  await pin(process.pid, 1); // the backend and wrk, started from here, inherit it
  const dir = makeTempDir();
  // A compile cache of this run's own, warmed below by one start and stop of
  // each build: a proxy runs warm after its first start (bin/kamal-proxy
  // keeps the cache in node_modules/.cache), and a cold one keeps Node's
  // TypeScript stripper loaded for its lifetime (17 MB), which moves its
  // speed by several percent either way, depending on the build: 2-7% faster
  // than warm on one, 6% slower on a later one. One cold and one warm, or
  // both cold, would not compare what runs.
  process.env.NODE_COMPILE_CACHE = join(dir, 'compile-cache');
  const baseDir = join(dir, 'base');
  const rev = await git(['rev-parse', '--short', values.base]);
  await git(['worktree', 'add', '--detach', baseDir, rev]);
  try {
    symlinkSync(join(ROOT, 'node_modules'), join(baseDir, 'node_modules'));
    const backend = await startBackend(dir, tools.nginx);
    const tls = overTls ? await makeCertificate(tools.openssl!, dir) : undefined;
    for (const [root, name] of [[baseDir, 'warm-up A'], [ROOT, 'warm-up B']]) {
      await stop((await startNapper(dir, backend, { root, name, tls })).child);
    }
    const a = await startNapper(dir, backend, { root: baseDir, name: `A (${rev})`, tls });
    const b = await startNapper(dir, backend, { name: 'B (this checkout)', tls });
    for (const p of [a, b]) {
      await pin(p.pid, 0);
      const res = tls ? await h2Get(p.httpsPort, tls) : await get(p.port);
      if (res.status !== 200 || !res.body.equals(BODY)) throw new Error(`correctness check failed for ${p.name}: status ${res.status}`);
    }
    const script = values.post ? postScript(dir) : undefined;
    const load = tls ? h2Load(tools.h2load!, values.https1) : wrkLoad(tools.wrk, script);
    const kind = values.https1 ? 'h2load --h1, HTTP/1.1 over TLS' : tls ? 'h2load over TLS' : script ? 'wrk, POST with a 107-byte JSON body' : 'wrk';
    console.log(`A: ${a.name}, B: ${b.name}; backend: ${backend.kind}; load: ${kind}; ${rounds} round(s) of ${seconds} s, both loaded at once\n`);
    console.log('round  A requests  B requests  B/A     A µs/req  B µs/req  B/A');
    const reqRatios: number[] = [];
    const cpuRatios: number[] = [];
    for (let i = 1; i <= rounds; i++) {
      await both(a, b, load, 0);
      const [a0, b0] = [cpuTicks(a.pid), cpuTicks(b.pid)];
      const [ra, rb] = await both(a, b, load, seconds);
      const [ua, ub] = [((cpuTicks(a.pid) - a0) * 1e6) / tick / ra, ((cpuTicks(b.pid) - b0) * 1e6) / tick / rb];
      reqRatios.push(rb / ra);
      cpuRatios.push(ub / ua);
      const cols = [String(i).padEnd(5), String(ra).padStart(10), String(rb).padStart(10), (rb / ra).toFixed(2).padStart(5)];
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
