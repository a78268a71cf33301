// Threads that serve (run --workers): what a second thread buys and costs,
// against direct and the Go stand-in for kamal-proxy, in one run with
// interleaved rounds. Each round, for each target: the fixed load (wrk -t1
// -c50, each connection pausing 20 ms: an ordinary load, far below what any
// target can take) with its latency distribution, then the full load (wrk
// -t1 -c50 flat out) for requests/s. RSS of each proxy idle and after the
// rounds. See bench/README.md, "Workers".
//
// Usage: node bench/workers.ts [--rounds 5] [--seconds 5] [--threads 1,2]
import { loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { startBackend } from './backend.ts';
import { installExitHandlers, makeTempDir, runBench, sleep } from './children.ts';
import { startGoStandIn } from './go-stand-in.ts';
import { median } from './report.ts';
import { rssKb, startNapper, type Target } from './targets.ts';
import { requireTools, which } from './tools.ts';
import { failure, pacedScript, wrk } from './wrk.ts';

type Measured = { p50: number[]; p99: number[]; reqPerSec: number[] };

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { rounds: { type: 'string', default: '5' }, seconds: { type: 'string', default: '5' }, threads: { type: 'string', default: '1,2' } } });
  const rounds = Number(values.rounds);
  const seconds = Number(values.seconds);
  const threads = values.threads.split(',').map(Number);
  const tools = requireTools();
  if (!tools.nginx) throw new Error('nginx is needed (sudo apt-get install -y nginx): it is the backend');
  const go = which('go');
  installExitHandlers((300 + rounds * (threads.length + 2) * (2 * seconds + 8)) * 1000);

  const dir = makeTempDir();
  const backend = await startBackend(dir, tools.nginx);
  const targets: (Target & { pid?: number })[] = [{ name: 'direct (nginx)', port: backend.port }];
  for (const n of threads) {
    // startNapper copies process.env before its first await.
    process.env.KAMAL_NAPPER_WORKERS = String(n);
    const started = startNapper(dir, backend, { name: `kamal-napper ${n} thread${n > 1 ? 's' : ''}` });
    delete process.env.KAMAL_NAPPER_WORKERS;
    targets.push(await started);
  }
  if (go) targets.push(await startGoStandIn(dir, go, backend));
  else console.log('no `go` on PATH (sudo apt-get install -y golang-go): no Go stand-in');
  await sleep(2000);
  const idleKb = new Map(targets.map((t) => [t.name, t.pid === undefined ? undefined : rssKb(t.pid)]));

  const script = pacedScript(dir, 20);
  const results = new Map<string, Measured>(targets.map((t) => [t.name, { p50: [], p99: [], reqPerSec: [] }]));
  const loadBefore = loadavg()[0]!;
  for (let r = 0; r < rounds; r++) {
    // Each round starts with a different target, so none always follows another.
    for (const t of targets.map((_, i) => targets[(i + r) % targets.length]!)) {
      const m = results.get(t.name)!;
      const paced = await wrk(tools.wrk, t.port, seconds, true, script);
      const full = await wrk(tools.wrk, t.port, seconds, false);
      const bad = failure(paced) ?? failure(full);
      if (bad) throw new Error(`${t.name}: ${bad}`);
      m.p50.push(paced.p50Ms);
      m.p99.push(paced.p99Ms);
      m.reqPerSec.push(full.reqPerSec);
      console.log(`round ${r + 1}/${rounds}  ${t.name.padEnd(24)} fixed load p50 ${paced.p50Ms.toFixed(2)} p99 ${paced.p99Ms.toFixed(2)} ms   full load ${Math.round(full.reqPerSec)} req/s`);
    }
  }

  const go1 = go ? results.get('Go stand-in')! : null;
  console.log(`\n${rounds} interleaved rounds of ${seconds} s each; load average ${loadBefore.toFixed(2)} before, ${loadavg()[0]!.toFixed(2)} after`);
  console.log('medians over the rounds (ratio to the Go stand-in); RSS MiB idle with one service, then after the rounds\n');
  const mib = (kb: number | undefined) => (kb === undefined ? '-' : (kb / 1024).toFixed(1));
  for (const t of targets) {
    const m = results.get(t.name)!;
    const ratio = (x: number, of: number[] | undefined) => (of === undefined ? '' : ` (${(x / median(of)).toFixed(2)})`);
    const [p50, p99, rps] = [median(m.p50), median(m.p99), median(m.reqPerSec)];
    console.log(
      `${t.name.padEnd(24)} p50 ${p50.toFixed(2)}${ratio(p50, go1?.p50)} ms  p99 ${p99.toFixed(2)}${ratio(p99, go1?.p99)} ms  ` +
        `${Math.round(rps)}${ratio(rps, go1?.reqPerSec)} req/s  RSS ${mib(idleKb.get(t.name))} -> ${mib(t.pid === undefined ? undefined : rssKb(t.pid))}`,
    );
  }
}

runBench('workers bench', main);
