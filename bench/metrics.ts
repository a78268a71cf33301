// `node bench/metrics.ts`: what `run --metrics-port` costs on the request
// path. Two bin/kamal-proxy processes, one without and one with a metrics
// port, each with the catch-all service deployed as Kamal does (buffering,
// three logged headers) in front of the same backend (nginx's static file,
// or bench/node-backend.ts without nginx), measured side by side in
// interleaved rounds (the order alternating) with wrk -t1 -c50: requests/s,
// latency, and the proxy's CPU per request from /proc/<pid>/stat. While the
// "metrics on" proxy is measured, its metrics are scraped every --scrape-ms,
// so the scrape's own cost is in its figures.
//
// Correctness first: one GET through each must return 200 and the 100-byte
// body, and the metrics proxy must count it; at the end its request counter
// must hold at least every request wrk completed through it.
//
// Only 127.0.0.1; every child and temp dir is removed on exit.
import { closeSync, openSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { startBackend } from './backend.ts';
import { BODY } from './body.ts';
import { cleanup, installExitHandlers, makeTempDir, run, start, type Child } from './children.ts';
import { freePort, get, waitForPort } from './net.ts';
import { median, type Round, summarize, table } from './report.ts';
import { ROOT, which } from './tools.ts';
import { failure, wrk, type WrkResult } from './wrk.ts';

const USAGE = `Usage: node bench/metrics.ts [--rounds N] [--duration SECONDS] [--scrape-ms MS] [--no-nginx]
  --rounds N          interleaved rounds (default 3)
  --duration SECONDS  length of each measured wrk run (default 10)
  --scrape-ms MS      scrape the metrics proxy this often while it is measured (default 1000; 0: never)
  --no-nginx          the Node backend even where nginx is installed`;

// As bench/targets.ts deploys it: the flags Kamal 2 passes by default.
const DEPLOY_FLAGS = ['--buffer-requests', '--buffer-responses', '--log-request-header=Cache-Control', '--log-request-header=Last-Modified', '--log-request-header=User-Agent', '--deploy-timeout=10s'];
const OFF = 'metrics off';
const ON = 'metrics on';
const COUNTER = /^kamal_proxy_http_requests_total\{method="GET",service="bench",status="200"\} (\S+)$/m;

type Proxy = { name: string; port: number; metricsPort: number; child: Child };
type Measured = WrkResult & { cpuUsPerReq: number };

// utime + stime of a process, in seconds.
function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100; // USER_HZ
}

function rssMiB(pid: number): number {
  const m = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}

async function startProxy(dir: string, name: string, backendPort: number, metrics: boolean): Promise<Proxy> {
  const file = name.replace(/\W+/g, '-');
  const home = join(dir, `${file}-home`);
  const env = { ...process.env, HOME: home, KAMAL_PROXY_SOCKET: join(dir, `${file}.sock`) };
  const [port, httpsPort, metricsPort] = [await freePort(), await freePort(), metrics ? await freePort() : 0];
  const bin = join(ROOT, 'bin', 'kamal-proxy');
  // The request log goes to a file: writing it is part of the cost, as in bench/run.ts.
  const out = openSync(join(dir, `${file}-requests.log`), 'w');
  let child: Child;
  try {
    const args = ['run', `--http-port=${port}`, `--https-port=${httpsPort}`, ...(metrics ? [`--metrics-port=${metricsPort}`] : [])];
    child = start(name, bin, args, { env, stdout: out, stderr: out });
  } finally {
    closeSync(out);
  }
  await waitForPort(port, name);
  const deployed = await run(bin, ['deploy', 'bench', `--target=127.0.0.1:${backendPort}`, ...DEPLOY_FLAGS], { env, timeoutMs: 20_000 });
  if (deployed.code !== 0) throw new Error(`${name}: deploy failed:\n${deployed.stdout}${deployed.stderr}`);
  return { name, port, metricsPort, child };
}

async function counted(proxy: Proxy): Promise<number> {
  const res = await get(proxy.metricsPort, '/metrics');
  const m = COUNTER.exec(res.body.toString());
  if (res.status !== 200 || m === null) throw new Error(`${proxy.name}: no request counter in its metrics (status ${res.status})`);
  return Number(m[1]);
}

async function measure(bin: string, proxy: Proxy, seconds: number, scrapeMs: number): Promise<Measured> {
  await wrk(bin, proxy.port, 2, false); // warm-up
  const pid = proxy.child.proc.pid!;
  const cpu0 = cpuSeconds(pid);
  let scrapes: NodeJS.Timeout | null = null;
  if (proxy.metricsPort !== 0 && scrapeMs > 0) scrapes = setInterval(() => void get(proxy.metricsPort, '/metrics').catch(() => {}), scrapeMs);
  try {
    const result = await wrk(bin, proxy.port, seconds, true);
    const bad = failure(result);
    if (bad !== undefined) throw new Error(`${proxy.name}: ${bad}`);
    return { ...result, cpuUsPerReq: ((cpuSeconds(pid) - cpu0) * 1e6) / result.requests };
  } finally {
    if (scrapes !== null) clearInterval(scrapes);
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      rounds: { type: 'string', default: '3' },
      duration: { type: 'string', default: '10' },
      'scrape-ms': { type: 'string', default: '1000' },
      'no-nginx': { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) return console.log(USAGE);
  const rounds = Number(values.rounds);
  const seconds = Number(values.duration);
  const scrapeMs = Number(values['scrape-ms']);
  const wrkBin = which('wrk');
  if (wrkBin === undefined) throw new Error('wrk is needed: sudo apt-get install -y wrk');
  installExitHandlers(rounds * 2 * (seconds + 4) * 1000 + 120_000);

  const dir = makeTempDir();
  const backend = await startBackend(dir, values['no-nginx'] ? undefined : which('nginx'));
  const off = await startProxy(dir, OFF, backend.port, false);
  const on = await startProxy(dir, ON, backend.port, true);
  for (const p of [off, on]) {
    const res = await get(p.port, '/');
    if (res.status !== 200 || !res.body.equals(BODY)) throw new Error(`${p.name}: GET / gave ${res.status} and ${res.body.length} bytes`);
  }
  if ((await counted(on)) !== 1) throw new Error(`${ON}: the correctness GET was not counted once`);
  // Before any load: what loading the metrics modules and one scrape hold.
  const idleRss = new Map([off, on].map((p) => [p, rssMiB(p.child.proc.pid!)]));

  const results: Round<Measured>[] = [];
  let wrkRequestsOn = 0;
  for (let r = 0; r < rounds; r++) {
    const round: Round<Measured> = {};
    for (const p of r % 2 === 0 ? [off, on] : [on, off]) {
      round[p.name] = await measure(wrkBin, p, seconds, scrapeMs);
      if (p === on) wrkRequestsOn += round[p.name]!.requests;
    }
    results.push(round);
  }
  const total = await counted(on);
  if (total < wrkRequestsOn) throw new Error(`${ON} counted ${total} requests, fewer than the ${wrkRequestsOn} wrk completed`);

  console.log(`\nbin/kamal-proxy without and with --metrics-port (backend: ${backend.kind}; Kamal's deploy flags), wrk -t1 -c50 -d${seconds}s,`);
  console.log(`${rounds} interleaved round(s), medians; the metrics proxy scraped every ${scrapeMs || '(never)'} ms while measured\n`);
  console.log(table(summarize(results, [OFF, ON], OFF)).replace('ratio to direct', 'ratio to off   '));
  console.log('');
  for (const p of [off, on]) {
    const cpu = median(results.map((round) => round[p.name]!.cpuUsPerReq));
    console.log(`${p.name.padEnd(12)} CPU ${cpu.toFixed(1)} µs/request (median); RSS ${idleRss.get(p)!.toFixed(1)} MiB idle, ${rssMiB(p.child.proc.pid!).toFixed(1)} MiB after the runs`);
  }
  console.log(`\n${ON}: ${total.toLocaleString('en-US')} requests counted, ${wrkRequestsOn.toLocaleString('en-US')} completed by measured wrk runs`);
}

try {
  await main();
} finally {
  await cleanup();
}
