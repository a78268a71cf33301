// Wake overhead: how much the proxy adds between a napping app becoming ready
// and the request that woke it getting its response. See bench/README.md
// ("Wake overhead").
//
//   node bench/wake-overhead.ts [--rounds N] [--ready-delay MS]
//
// The proxy runs in this process (startProxy on 127.0.0.1, temp state dir,
// socket and runtime dir) with one napping service whose --nap-command is
// bench/wake-app.ts. Each round puts the app to sleep, then times one held
// (non-browser) request from send to its last byte. The app reports its own
// timeline in the response body; both processes read the same wall clock.
import { request } from 'node:http';
import { mkdtempSync, openSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { log } from '../src/log/logger.ts';
import { startProxy } from '../src/proxy/proxy.ts';
import type { RunningProxy } from '../src/proxy/proxy.ts';
import { defaultServiceOptions, defaultTargetOptions } from '../src/config/service-options.ts';
import { freePort, HOST } from './net.ts';

const ROOT = resolve(import.meta.dirname, '..');
const NODE = join(ROOT, 'node_modules/.bin/node');
const APP = join(ROOT, 'bench/wake-app.ts');
const SERVICE = 'wake';
const HOSTNAME = 'wake.bench.test';
const TARGET_MS = 50;
const SETTLE_MS = 200; // after a nap, before the timed request: nothing of the stop still running
const REQUEST_TIMEOUT_MS = 15_000;
const USAGE = `Usage: node bench/wake-overhead.ts [--rounds N] [--ready-delay MS] [--json]
  --rounds N         wakes to time (default 10)
  --ready-delay MS   how long the app waits before it listens (default 500)
  --json             also print every round as JSON`;

// Wall-clock ms with sub-ms precision; wake-app.ts reads the same.
const now = (): number => performance.timeOrigin + performance.now();

interface AppTimeline {
  pid: number;
  processAt: number;
  scriptAt: number;
  readyAt: number;
  firstProbeAt: number;
  probes: number;
  requestAt: number;
  clockOffset: number;
}

interface Round {
  pid: number;
  total: number; // request sent -> response complete
  spawnDelay: number; // request sent -> app process began
  appStartToReady: number; // app process began -> listening (node boot + the known delay)
  appBoot: number; // app process began -> its script runs
  overhead: number; // app listening -> response complete: what the proxy adds after the app is ready
  probeWait: number; // app listening -> the probe that found it ready reaches it
  probeAnswered: number; // that probe reaches the app -> the napper declares the app ready
  toApp: number; // declared ready -> the held request reaches the app
  respond: number; // the request reaches the app -> response complete at the client
  proxyProbes: number; // probes the napper sent during this wake
  clockSkew: number; // difference between the two processes' clocks, ms
}

function options(): { rounds: number; readyDelayMs: number; json: boolean } {
  const { values } = parseArgs({
    options: {
      rounds: { type: 'string' },
      'ready-delay': { type: 'string' },
      json: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    console.log(USAGE);
    process.exit(0);
  }
  const int = (v: string | undefined, fallback: number, name: string, max: number): number => {
    if (v === undefined) return fallback;
    const n = Number(v);
    if (!Number.isInteger(n) || n < 0 || n > max) throw new Error(`--${name} must be a whole number from 0 to ${max}, got ${v}`);
    return n;
  };
  const rounds = int(values.rounds, 10, 'rounds', 1000);
  if (rounds === 0) throw new Error('--rounds must be at least 1');
  return { rounds, readyDelayMs: int(values['ready-delay'], 500, 'ready-delay', 10_000), json: values.json };
}

// One GET on a fresh connection, as a non-browser client (no text/html), so
// the proxy holds it until the app is ready instead of sending the waiting page.
function timedGet(port: number): Promise<{ sentAt: number; doneAt: number; status: number; body: string }> {
  return new Promise((resolvePromise, reject) => {
    const sentAt = now();
    const req = request(
      { host: HOST, port, path: '/', agent: false, timeout: REQUEST_TIMEOUT_MS, headers: { host: HOSTNAME, accept: 'application/json' } },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (body += c));
        res.on('end', () => resolvePromise({ sentAt, doneAt: now(), status: res.statusCode ?? 0, body }));
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`no response within ${REQUEST_TIMEOUT_MS} ms`)));
    req.on('error', reject);
    req.end();
  });
}

async function measure(proxy: RunningProxy, round: number): Promise<Round> {
  const napper = proxy.router.service(SERVICE)!.napper!;
  await proxy.router.napNap(SERVICE);
  if (napper.state !== 'stopped') throw new Error(`round ${round}: the app did not nap (state ${napper.state})`);
  await sleep(SETTLE_MS);
  // The napper tells its listeners (the waiting page) the moment it is ready.
  let proxyReadyAt = 0;
  const off = napper.subscribe((p) => {
    if (p.ready && proxyReadyAt === 0) proxyReadyAt = now();
  });
  const res = await timedGet(proxy.httpPort).finally(off);
  if (res.status !== 200) throw new Error(`round ${round}: expected 200, got ${res.status}: ${res.body.slice(0, 200)}`);
  const app = JSON.parse(res.body) as AppTimeline;
  if (app.readyAt === 0 || app.firstProbeAt === 0 || proxyReadyAt === 0) throw new Error(`round ${round}: the app answered before it was probed ready`);
  return {
    pid: app.pid,
    total: res.doneAt - res.sentAt,
    spawnDelay: app.processAt - res.sentAt,
    appStartToReady: app.readyAt - app.processAt,
    appBoot: app.scriptAt - app.processAt,
    overhead: res.doneAt - app.readyAt,
    probeWait: app.firstProbeAt - app.readyAt,
    probeAnswered: proxyReadyAt - app.firstProbeAt,
    toApp: app.requestAt - proxyReadyAt,
    respond: res.doneAt - app.requestAt,
    proxyProbes: napper.progress().probes,
    clockSkew: Math.abs(Date.now() - now() - app.clockOffset),
  };
}

function quantile(values: number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  // Nearest rank: with 10 rounds, p90 is the 9th value.
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
}

function report(rounds: Round[], readyDelayMs: number): boolean {
  const rows: [keyof Round, string][] = [
    ['total', 'total (request sent -> response complete)'],
    ['spawnDelay', 'spawn delay (request sent -> app process began)'],
    ['appStartToReady', `app start-to-ready (boot + ${readyDelayMs} ms delay)`],
    ['appBoot', '  of which node boot (process -> script)'],
    ['overhead', 'OVERHEAD (app ready -> response complete)'],
    ['probeWait', '  probe wait (app ready -> probe reaches it)'],
    ['probeAnswered', '  probe answered (-> napper declares ready)'],
    ['toApp', '  to app (ready -> held request reaches app)'],
    ['respond', '  respond (request reaches app -> response done)'],
  ];
  const fmt = (n: number) => n.toFixed(1).padStart(8);
  console.log(`\n${'ms'.padEnd(50)}${'median'.padStart(8)}${'p90'.padStart(8)}${'min'.padStart(8)}${'max'.padStart(8)}`);
  for (const [key, label] of rows) {
    const v = rounds.map((r) => r[key]);
    console.log(`${label.padEnd(50)}${fmt(quantile(v, 0.5))}${fmt(quantile(v, 0.9))}${fmt(Math.min(...v))}${fmt(Math.max(...v))}`);
  }
  const probes = rounds.map((r) => r.proxyProbes);
  console.log(`\nprobes per wake: median ${quantile(probes, 0.5)}, max ${Math.max(...probes)}`);
  const skew = Math.max(...rounds.map((r) => r.clockSkew));
  if (skew > 2) console.log(`warning: the two processes' clocks differ by up to ${skew.toFixed(1)} ms; the split between spawn delay and overhead is that uncertain`);
  // Every phase here is a few ms of CPU; on a busy box the waits for a core
  // show up as overhead.
  const load = loadavg()[0]!;
  if (load > cpus().length) console.log(`warning: load average ${load.toFixed(1)} on ${cpus().length} CPUs: the figures include waits for a CPU`);
  const median = quantile(rounds.map((r) => r.overhead), 0.5);
  const pass = median < TARGET_MS;
  console.log(`\n${pass ? 'PASS' : 'FAIL'}: median wake overhead ${median.toFixed(1)} ms (target < ${TARGET_MS} ms) over ${rounds.length} wakes`);
  return pass;
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

async function main(): Promise<void> {
  const opts = options();
  const dir = mkdtempSync(join(tmpdir(), 'napper-wake-'));
  // The proxy's log would interleave with the table: it goes to a file.
  log.setFd(openSync(join(dir, 'proxy.log'), 'a'));
  let proxy: RunningProxy | null = null;
  let appPid: () => number | null = () => null;

  // The app runs in its own process group (setsid), so it outlives us unless
  // stopped: removing the service stops it; at a hard exit we kill its group.
  let cleaning: Promise<void> | null = null;
  const cleanup = (): Promise<void> => {
    cleaning ??= (async () => {
      if (proxy !== null) {
        await proxy.router.remove(SERVICE).catch(() => {});
        await proxy.stop();
      }
      rmSync(dir, { recursive: true, force: true });
    })();
    return cleaning;
  };
  process.on('exit', () => {
    const pid = appPid();
    if (pid !== null) {
      try {
        process.kill(-pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    rmSync(dir, { recursive: true, force: true });
  });
  const bail = (why: string, code: number) => {
    process.stderr.write(`\n${why}: cleaning up\n`);
    void Promise.race([cleanup(), sleep(5_000)]).finally(() => process.exit(code));
  };
  process.once('SIGINT', () => bail('interrupted', 130));
  process.once('SIGTERM', () => bail('terminated', 143));
  const deadlineMs = 20_000 + opts.rounds * (opts.readyDelayMs + 5_000);
  setTimeout(() => bail(`deadline of ${Math.round(deadlineMs / 1000)} s reached`, 1), deadlineMs).unref();

  try {
    proxy = await startProxy({
      httpPort: 0,
      httpsPort: 0,
      bindAddress: HOST,
      socketPath: join(dir, 'kamal-proxy.sock'),
      statePath: join(dir, 'kamal-proxy.state'),
      runtimeDir: join(dir, 'nap'),
      // Built-in napping defaults, whatever the environment or cwd says.
      napConfig: { idleTimeoutMs: 0, pollIntervalMs: 0, wakeTimeoutMs: 10_000, maxRetries: 0, ignoreUserAgents: [] },
    });
    const port = await freePort();
    const command = `exec env PORT=${port} READY_DELAY_MS=${opts.readyDelayMs} ${NODE} ${APP}`;
    // Kamal's own health-check settings (interval 1 s, timeout 5 s); the wake
    // probes with the same path and timeout.
    await proxy.router.deploy({
      service: SERVICE,
      targets: [`${HOST}:${port}`],
      readers: [],
      deployTimeoutMs: 10_000 + opts.readyDelayMs,
      drainTimeoutMs: 1_000,
      force: false,
      serviceOptions: { ...defaultServiceOptions(), hosts: [HOSTNAME] },
      targetOptions: defaultTargetOptions(),
      nap: { idleTimeoutMs: 0, wakeTimeoutMs: 10_000, container: '', command, group: false },
    });
    const napper = proxy.router.service(SERVICE)!.napper!;
    appPid = () => (napper.runtimes[0] as { pid?: number | null }).pid ?? null;

    console.log(`wake overhead: ${opts.rounds} wakes of an app that listens ${opts.readyDelayMs} ms after its script starts`);
    const rounds: Round[] = [];
    let lastPid = 0;
    for (let i = 1; i <= opts.rounds; i++) {
      const r = await measure(proxy, i);
      if (r.pid === lastPid) throw new Error(`round ${i}: answered by the same process as the round before: no wake happened`);
      lastPid = r.pid;
      rounds.push(r);
      console.log(
        `  wake ${String(i).padStart(2)}: total ${r.total.toFixed(1)} ms = spawn ${r.spawnDelay.toFixed(1)} + app ${r.appStartToReady.toFixed(1)} + overhead ${r.overhead.toFixed(1)} (probe wait ${r.probeWait.toFixed(1)}, answered ${r.probeAnswered.toFixed(1)}, to app ${r.toApp.toFixed(1)}, respond ${r.respond.toFixed(1)}; ${r.proxyProbes} probes)`,
      );
    }
    if (opts.json) console.log(JSON.stringify(rounds));
    const pass = report(rounds, opts.readyDelayMs);
    await cleanup();
    process.exitCode = pass ? 0 : 1;
  } catch (err) {
    console.error(`wake-overhead: ${(err as Error).message}`);
    await cleanup();
    process.exitCode = 1;
  }
}

await main();
