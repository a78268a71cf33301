// Running wrk and reading its text report.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { run } from './children.ts';
import { HOST } from './net.ts';

export type WrkResult = {
  reqPerSec: number;
  p50Ms: number;
  p99Ms: number;
  requests: number;
  socketErrors: number;
  non2xx: number;
};

// wrk -t1 -c50: one client thread takes about one of the box's two cores.
// script: a wrk Lua script (-s), e.g. one that makes every request a POST.
export async function wrk(bin: string, port: number, seconds: number, latency: boolean, script?: string): Promise<WrkResult> {
  const args = ['-t1', '-c50', `-d${seconds}s`, ...(latency ? ['--latency'] : []), ...(script ? ['-s', script] : []), `http://${HOST}:${port}/`];
  // wrk stops by itself after `seconds`; the margin only guards against a hang.
  const out = await run(bin, args, { timeoutMs: (seconds + 15) * 1000 });
  if (out.timedOut) throw new Error(`wrk ${args.join(' ')} did not finish in time`);
  if (out.code !== 0) throw new Error(`wrk ${args.join(' ')} exited ${out.code}:\n${out.stderr}${out.stdout}`);
  return parseWrk(out.stdout);
}

// A wrk script for a fixed load: after each response a connection waits
// pauseMs before its next request, so 50 connections offer at most
// 50 / (pauseMs + latency) requests per ms whatever the target could take.
// Not an open-loop generator (none is packaged for Debian 12), but with the
// pause far above the latency it offers nearly the same rate to every target.
export function pacedScript(dir: string, pauseMs: number): string {
  const file = join(dir, `paced-${pauseMs}ms.lua`);
  writeFileSync(file, `function delay() return ${pauseMs} end\n`);
  return file;
}

export function parseWrk(text: string): WrkResult {
  const num = (re: RegExp, what: string): number => {
    const m = re.exec(text);
    if (!m) throw new Error(`cannot find ${what} in wrk output:\n${text}`);
    return Number(m[1]);
  };
  const socket = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(text);
  const non2xx = /Non-2xx or 3xx responses: (\d+)/.exec(text);
  return {
    reqPerSec: num(/Requests\/sec:\s+([\d.]+)/, 'Requests/sec'),
    // Without --latency there is no distribution; NaN marks "not measured".
    p50Ms: percentile(text, '50'),
    p99Ms: percentile(text, '99'),
    requests: num(/(\d+) requests in /, 'request count'),
    socketErrors: socket ? socket.slice(1).reduce((a, b) => a + Number(b), 0) : 0,
    non2xx: non2xx ? Number(non2xx[1]) : 0,
  };
}

const UNIT_MS: Record<string, number> = { us: 0.001, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

function percentile(text: string, p: string): number {
  const m = new RegExp(`^\\s+${p}%\\s+([\\d.]+)(us|ms|s|m|h)\\s*$`, 'm').exec(text);
  return m ? Number(m[1]) * UNIT_MS[m[2]] : NaN;
}

export function failure(r: WrkResult): string | undefined {
  if (r.requests === 0) return 'no requests completed';
  if (r.socketErrors > 0 || r.non2xx > 0) return `${r.socketErrors} socket errors, ${r.non2xx} non-2xx/3xx responses`;
  return undefined;
}
