// `npm run bench`: throughput of kamal-napper against the same backend reached
// directly and through nginx, the method of ../shared/reference/node-stack.md
// Part B: HTTP/1.1 with wrk, then HTTP/2 over TLS with h2load. See bench/README.md.
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { startBackend } from './backend.ts';
import { BODY } from './body.ts';
import { installExitHandlers, makeTempDir, run, runBench } from './children.ts';
import { checkH2Target, checkNapperRouting, h2Rounds, h2Tools, negotiated, startH2Targets } from './h2.ts';
import { H2LOAD_FLAGS } from './h2load.ts';
import { get } from './net.ts';
import { addedTable, summarize, summarizeAdded, table, writeJson } from './report.ts';
import { interleavedRounds } from './rounds.ts';
import { fileSize, rssKb, startNapper, startNginxProxy, tail, type Target } from './targets.ts';
import { makeCertificate } from './tls.ts';
import { requireTools } from './tools.ts';
import { failure, pacedScript, wrk } from './wrk.ts';

const WARMUP_SECONDS = 2;
// The fixed-load part: each of wrk's 50 connections pauses this long after a
// response, which offers about 2,200 req/s here, a tenth of what the proxies take.
const DEFAULT_PAUSE_MS = 20;
const USAGE = `Usage: npm run bench -- [--rounds N] [--duration SECONDS] [--quick]
  --rounds N          interleaved rounds over all targets (default 3)
  --duration SECONDS  length of each measured wrk and h2load run (default 10)
  --quick             smoke check: 1 round of 3 s runs
  --pause-ms MS       the fixed-load part: each connection waits MS ms after
                      a response (default ${DEFAULT_PAUSE_MS}; 0 skips the part)
  --no-nginx          use the Node backend and skip the nginx reference proxy
                      and the HTTP/2 part, as on a machine without nginx
  --proxy-node-options=OPTS
                      NODE_OPTIONS for the kamal-napper process only, e.g.
                      --proxy-node-options=--max-semi-space-size=2`;

type Options = { rounds: number; duration: number; pauseMs: number; nginx: boolean; proxyNodeOptions: string };

function options(): Options {
  const { values } = parseArgs({
    options: {
      rounds: { type: 'string' },
      duration: { type: 'string' },
      'pause-ms': { type: 'string' },
      quick: { type: 'boolean', default: false },
      'no-nginx': { type: 'boolean', default: false },
      'proxy-node-options': { type: 'string', default: '' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    console.log(USAGE);
    process.exit(0);
  }
  const int = (v: string | undefined, fallback: number, name: string, min = 1): number => {
    if (v === undefined) return fallback;
    const n = Number(v);
    if (!Number.isInteger(n) || n < min || n > 3600) throw new Error(`--${name} must be a whole number from ${min} to 3600, got ${v}`);
    return n;
  };
  // Explicit --rounds/--duration still win over --quick.
  return {
    rounds: int(values.rounds, values.quick ? 1 : 3, 'rounds'),
    duration: int(values.duration, values.quick ? 3 : 10, 'duration'),
    pauseMs: int(values['pause-ms'], DEFAULT_PAUSE_MS, 'pause-ms', 0),
    nginx: !values['no-nginx'],
    proxyNodeOptions: values['proxy-node-options'].trim(),
  };
}

async function checkTarget(t: Target): Promise<void> {
  const res = await get(t.port);
  if (res.status !== 200 || !res.body.equals(BODY)) {
    throw new Error(`correctness check failed for ${t.name}: status ${res.status}, ` +
      `${res.body.length}-byte body ${JSON.stringify(res.body.toString('utf8', 0, 200))} (want 200 and the 100-byte body)`);
  }
}

async function main(): Promise<void> {
  const opts = options();
  const tools = requireTools();
  if (!opts.nginx) tools.nginx = undefined;
  const h2OrWhyNot = h2Tools(tools, opts.nginx);
  const h2 = typeof h2OrWhyNot === 'string' ? undefined : h2OrWhyNot;
  const perRun = WARMUP_SECONDS + opts.duration + 1;
  // Setup and teardown allowance, plus every run (3 wrk targets, at full and
  // at a fixed load, and 3 h2load targets) with room for slowness.
  const parts = 1 + (opts.pauseMs > 0 ? 1 : 0) + (h2 ? 1 : 0);
  installExitHandlers((120 + opts.rounds * parts * 3 * perRun * 2) * 1000);

  const load = loadavg();
  const dir = makeTempDir();
  const backend = await startBackend(dir, tools.nginx);
  const cert = h2 ? await makeCertificate(h2.openssl, dir) : undefined;
  const napper = await startNapper(dir, backend, { nodeOptions: opts.proxyNodeOptions, tls: cert });
  if (opts.proxyNodeOptions) console.log(`kamal-napper NODE_OPTIONS=${opts.proxyNodeOptions}`);
  const direct: Target = { name: `direct (${backend.kind})`, port: backend.port };
  const targets: Target[] = [direct, napper];
  if (tools.nginx) targets.push(await startNginxProxy(dir, tools.nginx, backend));
  const h2Targets = h2 && cert ? await startH2Targets(dir, h2.nginx, backend, napper, cert) : [];

  // Every target of both parts is checked before anything is measured.
  for (const t of targets) await checkTarget(t);
  console.log(`correctness: 200 + 100-byte body from ${targets.map((t) => t.name).join(', ')}`);
  if (cert) {
    for (const t of h2Targets) await checkH2Target(t, cert);
    await checkNapperRouting(napper);
    console.log(`correctness over HTTP/2 + TLS (certificate verified for bench.test): 200 + 100-byte body from ${h2Targets.map((t) => t.name).join(', ')}`);
  } else {
    console.log(`HTTP/2 over TLS: skipped (${h2OrWhyNot as string})`);
  }
  const rssAfterDeployKb = rssKb(napper.pid);

  const rounds = await interleavedRounds(
    {
      label: '',
      logPrefix: 'round',
      warmUp: (port) => wrk(tools.wrk, port, WARMUP_SECONDS, false),
      measure: (port) => wrk(tools.wrk, port, opts.duration, true),
      failure,
    },
    targets,
    opts.rounds,
  );
  const rssAfterHttp1Kb = rssKb(napper.pid);

  // The full-load rounds price a request; at 50 connections their p99 is
  // mostly queueing (Little's law: 50 / req/s). At a fixed load far below
  // capacity the latency is what a hop adds, the figure users of a lightly
  // loaded server see.
  const paced = opts.pauseMs > 0 ? pacedScript(dir, opts.pauseMs) : undefined;
  const pacedRounds = paced
    ? await interleavedRounds(
      {
        label: 'fixed-load ',
        logPrefix: 'fixed-load round',
        warmUp: (port) => wrk(tools.wrk, port, WARMUP_SECONDS, false, paced),
        measure: (port) => wrk(tools.wrk, port, opts.duration, true, paced),
        failure,
      },
      targets,
      opts.rounds,
    )
    : [];

  const h2RoundList = h2 ? await h2Rounds(h2.h2load, dir, h2Targets, opts.rounds, opts.duration, WARMUP_SECONDS) : [];

  const rssAfterRunKb = rssKb(napper.pid);
  const logBytes = fileSize(napper.logFile);
  // The request log is part of the cost measured; make sure it was written.
  if (!tail(napper.logFile, 4096).includes('"msg":"Request"')) throw new Error('kamal-napper wrote no request log lines');

  const summaries = summarize(rounds, targets.map((t) => t.name), direct.name);
  const mb = (kb: number | undefined) => (kb === undefined ? 'n/a' : `${(kb / 1024).toFixed(1)} MiB`);
  console.log(`\n${opts.rounds} round(s), wrk -t1 -c50 -d${opts.duration}s after a ${WARMUP_SECONDS} s warm-up; medians over rounds\n`);
  console.log(table(summaries));
  const pacedSummaries = pacedRounds.length ? summarizeAdded(pacedRounds, targets.map((t) => t.name), direct.name) : undefined;
  if (pacedSummaries) {
    console.log(`\nHTTP/1.1 at a fixed load: wrk -t1 -c50 -d${opts.duration}s, each connection pausing ${opts.pauseMs} ms after every response;`);
    console.log(`medians over rounds; "added" is the target's latency minus direct's in the same round\n`);
    console.log(addedTable(pacedSummaries));
  }
  const h2Summaries = h2RoundList.length ? summarize(h2RoundList, h2Targets.map((t) => t.name), h2Targets[0].name) : undefined;
  if (h2Summaries) {
    console.log(`\nHTTP/2 over TLS: h2load ${H2LOAD_FLAGS.join(' ')} -D ${opts.duration} after a ${WARMUP_SECONDS} s warm-up; medians over rounds;`);
    console.log(`p50/p99 per request from h2load's log, with 500 streams in flight`);
    console.log(`negotiated: ${negotiated(h2RoundList)}\n`);
    console.log(table(h2Summaries));
  }
  console.log(`\nkamal-napper RSS: ${mb(rssAfterRunKb)} after the run (${mb(rssAfterHttp1Kb)} after HTTP/1.1, ${mb(rssAfterDeployKb)} after deploy); request log ${(logBytes / 1e6).toFixed(1)} MB`);

  const file = writeJson(join(import.meta.dirname, 'results'), {
    date: new Date().toISOString(),
    machine: { cpus: cpus().length, cpuModel: cpus()[0]?.model, loadavgBefore: load },
    versions: {
      node: process.version,
      wrk: await version(tools.wrk, ['-v']),
      nginx: tools.nginx ? await version(tools.nginx, ['-v']) : null,
      h2load: h2 ? await version(h2.h2load, ['--version']) : null,
    },
    options: { ...opts, warmupSeconds: WARMUP_SECONDS, threads: 1, connections: 50 },
    backend: backend.kind,
    summary: summaries,
    rounds,
    fixedLoad: pacedSummaries ? { pauseMs: opts.pauseMs, summary: pacedSummaries, rounds: pacedRounds } : { skipped: '--pause-ms 0' },
    http2: h2Summaries
      ? { tool: 'h2load', flags: H2LOAD_FLAGS, summary: h2Summaries, rounds: h2RoundList }
      : { skipped: h2OrWhyNot },
    napper: { rssKbAfterDeploy: rssAfterDeployKb, rssKbAfterHttp1: rssAfterHttp1Kb, rssKbAfterRun: rssAfterRunKb, requestLogBytes: logBytes },
  });
  console.log(`results written to ${file}`);
  const stderr = tail(napper.stderrFile, 1000);
  if (stderr) console.log(`\nkamal-napper stderr (tail):\n${stderr}`);
}

// First line of `tool -v` (wrk prints it on stdout and exits 1, nginx on stderr;
// h2load takes --version).
async function version(bin: string, args: string[]): Promise<string> {
  const out = await run(bin, args, { timeoutMs: 5000 });
  return (out.stdout + out.stderr).split('\n')[0].trim();
}

runBench('bench', main);
