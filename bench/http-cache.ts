// `node bench/http-cache.ts`: what --http-cache buys and costs, side by side
// in one run, through bin/kamal-proxy to a slow Node app (5 ms per response):
//
// 1. Throughput (wrk -t1 -c20, interleaved rounds, medians): a cacheable
//    10 KB page uncached, the same page from the cache, and, for scale, a
//    100-byte response from a fast route proxied without the cache; with
//    --compress present, the page cached per Accept-Encoding with every
//    feature on (buffering, compression, cache).
// 2. The proxy's CPU per request (utime + stime from /proc over each run,
//    divided by its requests): a hit against a proxied 100-byte request.
// 3. Memory under a churn of distinct URLs (every request a new page): first
//    through the service without the cache (what the load alone costs), then
//    into a cache of --http-cache-size; the proxy's RSS sampled every second.
//
// Only 127.0.0.1; every child and temp dir is removed on exit.
import { closeSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { cleanup, installExitHandlers, makeTempDir, run, sleep, start } from './children.ts';
import { freePort, HOST, waitForPort } from './net.ts';
import { median } from './report.ts';
import { rssKb } from './targets.ts';
import { NODE, ROOT, which } from './tools.ts';
import { failure, parseWrk } from './wrk.ts';

const USAGE = `Usage: node bench/http-cache.ts [--rounds N] [--duration SECONDS] [--churn SECONDS] [--churn-size BYTES]
  --rounds N            interleaved rounds (default 3)
  --duration SECONDS    length of each wrk run (default 5)
  --churn SECONDS       length of the distinct-URL churn (default 10)
  --churn-size BYTES    --http-cache-size of the churned service (default 16777216)`;

const PAGE_BYTES = 10 * 1024;
const APP_DELAY_MS = 5;
const CONNECTIONS = 20;

// The app: /page (10 KB, cacheable for an hour) and /churn/* (the same for
// each URL) after 5 ms; /small (100 bytes, not cacheable) at once.
const BACKEND = `const http=require('node:http');
const page=Buffer.alloc(${PAGE_BYTES},'<p>cached</p>');const small=Buffer.alloc(100,'s');
http.createServer((q,s)=>{q.resume();
if(q.url==='/small'){s.writeHead(200,{'Content-Type':'text/plain','Content-Length':100});return s.end(small)}
setTimeout(()=>{s.writeHead(200,{'Content-Type':'text/html; charset=utf-8','Content-Length':page.length,'Cache-Control':'public, max-age=3600'});s.end(page)},${APP_DELAY_MS})
}).listen(+process.env.PORT,'127.0.0.1')`;

type Target = { name: string; host: string; path: string; headers: string[]; bytes: number };

// The proxy's CPU time so far, in ms (all its threads).
function cpuMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = Number(fields[11]) + Number(fields[12]); // utime, stime
  return (ticks * 1000) / 100; // USER_HZ is 100 on Linux
}

function fetchOnce(port: number, host: string, path: string, headers: Record<string, string> = {}): Promise<{ status: number; xCache: string; bytes: number }> {
  return new Promise((resolve, reject) => {
    http
      .get({ host: HOST, port, path, headers: { host, ...headers } }, (res) => {
        let bytes = 0;
        res.on('data', (c: Buffer) => (bytes += c.length));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, xCache: String(res.headers['x-cache'] ?? ''), bytes }));
      })
      .on('error', reject);
  });
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      rounds: { type: 'string', default: '3' },
      duration: { type: 'string', default: '5' },
      churn: { type: 'string', default: '10' },
      'churn-size': { type: 'string', default: String(16 * 1024 * 1024) },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) return console.log(USAGE);
  const rounds = Number(values.rounds);
  const seconds = Number(values.duration);
  const churnSeconds = Number(values.churn);
  const churnSize = Number(values['churn-size']);
  installExitHandlers(15 * 60_000);
  const wrk = which('wrk');
  if (wrk === undefined) throw new Error('wrk is needed (sudo apt-get install -y wrk)');

  const dir = makeTempDir();
  const backendPort = await freePort();
  start('backend', NODE, ['-e', BACKEND], { env: { ...process.env, PORT: String(backendPort) } });
  await waitForPort(backendPort, 'backend');

  const port = await freePort();
  const httpsPort = await freePort();
  const env = { ...process.env, HOME: dir, KAMAL_PROXY_SOCKET: join(dir, 'proxy.sock') };
  const bin = join(ROOT, 'bin', 'kamal-proxy');
  // The request log goes to a file: writing it is part of the cost.
  const log = openSync(join(dir, 'requests.log'), 'w');
  const proxy = start('kamal-napper', bin, ['run', `--http-port=${port}`, `--https-port=${httpsPort}`], { env, stdout: log, stderr: log });
  closeSync(log);
  await waitForPort(port, 'kamal-napper');
  const pid = proxy.proc.pid!;
  const deploy = async (service: string, extra: string[]) => {
    const out = await run(bin, ['deploy', service, `--target=127.0.0.1:${backendPort}`, `--host=${service}.test`, '--deploy-timeout=10s', ...extra], { env, timeoutMs: 20_000 });
    return out.code === 0 ? '' : out.stderr || out.stdout;
  };
  for (const [service, extra] of [
    ['plain', []],
    ['cached', ['--http-cache']],
    ['churn', ['--http-cache', `--http-cache-size=${churnSize}`]],
  ] as const) {
    const err = await deploy(service, [...extra]);
    if (err !== '') throw new Error(`deploy ${service}: ${err}`);
  }
  // Every feature on, where --compress exists.
  const all = (await deploy('all', ['--http-cache', '--compress', '--buffer-requests', '--buffer-responses'])) === '';

  const targets: Target[] = [
    { name: 'page, uncached (app 5 ms)', host: 'plain.test', path: '/page', headers: [], bytes: PAGE_BYTES },
    { name: 'page, cache hit', host: 'cached.test', path: '/page', headers: [], bytes: PAGE_BYTES },
    ...(all ? [{ name: 'page, hit, all features (gzip)', host: 'all.test', path: '/page', headers: ['Accept-Encoding: gzip'], bytes: -1 }] : []),
    { name: '100 B proxied (app at once)', host: 'plain.test', path: '/small', headers: [], bytes: 100 },
  ];
  // Correctness first: each answers 200 with its body, and the cached
  // targets are hits from the second request on.
  for (const t of targets) {
    const hdrs = Object.fromEntries(t.headers.map((h) => h.split(': ') as [string, string]));
    await fetchOnce(port, t.host, t.path, hdrs);
    const r = await fetchOnce(port, t.host, t.path, hdrs);
    const wantHit = t.host !== 'plain.test';
    if (r.status !== 200 || (t.bytes >= 0 && r.bytes !== t.bytes) || (r.xCache === 'hit') !== wantHit) {
      throw new Error(`${t.name}: status ${r.status}, ${r.bytes} bytes, X-Cache ${r.xCache || 'none'}`);
    }
  }

  const args = (t: Target, s: number, script?: string) => [
    '-t1', `-c${CONNECTIONS}`, `-d${s}s`, '-H', `Host: ${t.host}`, ...t.headers.flatMap((h) => ['-H', h]), ...(script ? ['-s', script] : []), `http://${HOST}:${port}${t.path}`,
  ];
  const rps: Record<string, number[]> = {};
  const cpu: Record<string, number[]> = {}; // proxy CPU µs per request
  for (let r = 0; r < rounds; r++) {
    for (const t of targets) {
      await run(wrk, args(t, 1), { timeoutMs: 20_000 }); // warm-up
      const before = cpuMs(pid);
      const out = await run(wrk, args(t, seconds), { timeoutMs: (seconds + 15) * 1000 });
      const spent = cpuMs(pid) - before;
      const result = parseWrk(out.stdout);
      const bad = failure(result);
      if (bad !== undefined) throw new Error(`${t.name}: ${bad}`);
      (rps[t.name] ??= []).push(result.reqPerSec);
      (cpu[t.name] ??= []).push((spent * 1000) / result.requests);
    }
  }

  const pad = (s: string | number, n: number) => String(s).padStart(n);
  const base = median(rps[targets[0]!.name]!);
  const smallCpu = median(cpu['100 B proxied (app at once)']!);
  console.log(`\nwrk -t1 -c${CONNECTIONS} -d${seconds}s, ${rounds} interleaved round(s), medians; proxy CPU from /proc (10 ms ticks)\n`);
  console.log(`${'target'.padEnd(32)} ${pad('req/s', 8)} ${pad('vs uncached', 11)} ${pad('CPU µs/req', 10)} ${pad('vs 100 B', 8)}  req/s per round`);
  const rows = targets.map((t) => {
    const q = median(rps[t.name]!);
    const c = median(cpu[t.name]!);
    console.log(
      `${t.name.padEnd(32)} ${pad(Math.round(q).toLocaleString('en'), 8)} ${pad((q / base).toFixed(2), 11)} ${pad(c.toFixed(1), 10)} ${pad((c / smallCpu).toFixed(2), 8)}  ${rps[t.name]!.map(Math.round).join(' / ')}`,
    );
    return { target: t.name, reqPerSec: q, ratioToUncached: q / base, cpuUsPerRequest: c, cpuRatioTo100B: c / smallCpu, rounds: rps[t.name], cpuRounds: cpu[t.name] };
  });

  // Churn: every request a URL not seen before, each a 10 KB page to keep.
  const script = join(dir, 'churn.lua');
  writeFileSync(script, 'local n = 0\nrequest = function()\n  n = n + 1\n  return wrk.format(nil, "/churn/" .. n)\nend\n');
  const churnRun = async (host: string) => {
    const before = rssKb(pid)!;
    const samples: number[] = [];
    const sampler = setInterval(() => samples.push(rssKb(pid) ?? 0), 1000);
    const t: Target = { name: 'churn', host, path: '/', headers: [], bytes: PAGE_BYTES };
    const out = await run(wrk, args(t, churnSeconds, script), { timeoutMs: (churnSeconds + 15) * 1000 });
    clearInterval(sampler);
    await sleep(500);
    const result = parseWrk(out.stdout);
    const peak = Math.max(...samples, rssKb(pid) ?? 0);
    const mib = (kb: number) => (kb / 1024).toFixed(1);
    console.log(`${host.padEnd(11)} ${result.requests.toLocaleString('en')} URLs; RSS ${mib(before)} MiB before, peak ${mib(peak)} MiB (+${mib(peak - before)}); per second: ${samples.map((s) => (s / 1024).toFixed(0)).join(' ')}`);
    return { host, urls: result.requests, rssBeforeKb: before, rssPeakKb: peak, rssSamplesKb: samples };
  };
  console.log(`\nChurn of distinct URLs, ${churnSeconds} s each (every page 10 KB); cached service: --http-cache-size=${(churnSize / 1048576).toFixed(0)} MiB`);
  const churn = [await churnRun('plain.test'), await churnRun('churn.test')];

  const file = join(ROOT, 'bench', 'results', 'http-cache.json'); // ignored by git
  writeFileSync(file, JSON.stringify({ rows, churn: { seconds: churnSeconds, cacheSizeBytes: churnSize, runs: churn } }, null, 2) + '\n');
  console.log(`\n${file}`);
}

try {
  await main();
} finally {
  await cleanup();
}
