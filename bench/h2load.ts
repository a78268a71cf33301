// Running h2load (HTTP/2 over TLS) and reading its text report and its
// per-request log.
import { readFileSync, rmSync } from 'node:fs';
import { run } from './children.ts';
import { HOST } from './net.ts';
import { TLS_NAME } from './tls.ts';

export type H2Result = {
  reqPerSec: number;
  // From the per-request log (--log-file); NaN when not measured.
  p50Ms: number;
  p99Ms: number;
  // h2load's own "time for request" figures.
  meanMs: number;
  maxMs: number;
  requests: number;
  succeeded: number;
  failed: number;
  errored: number;
  timeout: number;
  non2xx: number;
  protocol: string;
  tls: string;
};

// -t1 -c50 as with wrk (one client thread, 50 connections), and -m10 streams
// per connection, so 500 requests are in flight: latency is per request under
// that queue, not comparable to the wrk table's.
export const H2LOAD_FLAGS = ['-t1', '-c50', '-m10'];

// logFile: where h2load writes one line per request, read for p50/p99 and
// removed afterwards (about 25 bytes a request). h1: HTTP/1.1 over TLS
// (h2load --h1, one request at a time per connection) instead of HTTP/2.
export type H2loadOptions = { logFile?: string; h1?: boolean };

export function h2load(bin: string, port: number, seconds: number, o: H2loadOptions = {}): Promise<H2Result> {
  // h2load stops by itself after `seconds`; the margin only guards against a hang.
  return runH2load(bin, port, ['-D', String(seconds)], (seconds + 15) * 1000, o);
}

// A run of `requests` requests rather than of a duration, for warm-ups: two
// h2load -D runs at once against proxies that had not served yet (50 TLS
// handshakes on cold code) sometimes never finished here, whichever build
// the proxies were; runs by count always did.
export function h2loadRequests(bin: string, port: number, requests: number, o: H2loadOptions = {}): Promise<H2Result> {
  return runH2load(bin, port, ['-n', String(requests)], 60_000, o);
}

async function runH2load(bin: string, port: number, mode: string[], timeoutMs: number, { logFile, h1 = false }: H2loadOptions): Promise<H2Result> {
  // --connect-to: the TCP connection goes to 127.0.0.1, while SNI and
  // :authority say bench.test, which kamal-napper routes and picks the
  // certificate by.
  const flags = h1 ? ['--h1', ...H2LOAD_FLAGS.filter((f) => !f.startsWith('-m'))] : H2LOAD_FLAGS;
  const args = [...flags, ...mode, ...(logFile ? [`--log-file=${logFile}`] : []),
    `--connect-to=${HOST}:${port}`, `https://${TLS_NAME}:${port}/`];
  const out = await run(bin, args, { timeoutMs });
  if (out.timedOut) throw new Error(`h2load ${args.join(' ')} did not finish in time`);
  if (out.code !== 0) throw new Error(`h2load ${args.join(' ')} exited ${out.code}:\n${out.stderr}${out.stdout}`);
  const r = parseH2load(out.stdout);
  if (logFile) {
    const times = readLog(logFile);
    rmSync(logFile, { force: true });
    r.p50Ms = nearestRank(times, 50);
    r.p99Ms = nearestRank(times, 99);
  }
  return r;
}

export function parseH2load(text: string): H2Result {
  const match = (re: RegExp, what: string): RegExpExecArray => {
    const m = re.exec(text);
    if (!m) throw new Error(`cannot find ${what} in h2load output:\n${text}`);
    return m;
  };
  const reqPerSec = Number(match(/^finished in [\d.]+\w+, ([\d.]+) req\/s/m, '"finished in" line')[1]);
  const counts = match(/^requests: \d+ total, \d+ started, (\d+) done, (\d+) succeeded, (\d+) failed, (\d+) errored, (\d+) timeout/m, 'request counts');
  const codes = match(/^status codes: \d+ 2xx, (\d+) 3xx, (\d+) 4xx, (\d+) 5xx/m, 'status codes');
  const time = match(/^time for request:\s+\S+\s+(\S+)\s+(\S+)\s/m, 'time for request');
  // Absent when no connection got through.
  const protocol = /^Application protocol: (\S+)/m.exec(text)?.[1] ?? 'none';
  const tls = [/^TLS Protocol: (\S+)/m, /^Cipher: (\S+)/m].map((re) => re.exec(text)?.[1] ?? '?').join(' ');
  const [done, succeeded, failed, errored, timeout] = counts.slice(1).map(Number);
  return {
    reqPerSec,
    p50Ms: NaN,
    p99Ms: NaN,
    meanMs: ms(time[2]),
    maxMs: ms(time[1]),
    requests: done,
    succeeded,
    failed,
    errored,
    timeout,
    non2xx: codes.slice(1).reduce((a, b) => a + Number(b), 0),
    protocol,
    tls,
  };
}

const UNIT_MS: Record<string, number> = { us: 0.001, ms: 1, s: 1000 };

function ms(value: string): number {
  const m = /^([\d.]+)(us|ms|s)$/.exec(value);
  if (!m) throw new Error(`cannot read h2load time ${JSON.stringify(value)}`);
  return Number(m[1]) * UNIT_MS[m[2]];
}

// Columns: start (µs since the epoch), status (-1 for a failed stream), µs
// until the end of the response. Returns the times in ms, sorted.
function readLog(file: string): Float64Array {
  const lines = readFileSync(file, 'utf8').split('\n').filter((l) => l !== '');
  const times = new Float64Array(lines.length);
  lines.forEach((line, i) => {
    const [, status, micros] = line.split('\t');
    if (status !== '200') throw new Error(`h2load logged a request with status ${status}: ${line}`);
    times[i] = Number(micros) / 1000;
  });
  return times.sort();
}

function nearestRank(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

export function h2Failure(r: H2Result, protocol = 'h2'): string | undefined {
  if (r.protocol !== protocol) return `negotiated ${r.protocol}, not ${protocol}`;
  if (r.requests === 0) return 'no requests completed';
  if (r.failed > 0 || r.errored > 0 || r.timeout > 0 || r.non2xx > 0 || r.succeeded !== r.requests) {
    return `${r.requests} done, ${r.succeeded} succeeded, ${r.failed} failed, ${r.errored} errored, ${r.timeout} timed out, ${r.non2xx} non-2xx`;
  }
  return undefined;
}
