// Interleaved rounds, the same for the wrk and the h2load part: every round
// walks all targets, each a warm-up and then the measured run, so every round
// has its own direct figure. Any failed run stops the bench.
import type { Measured, Round } from './report.ts';
import type { Target } from './targets.ts';

export type Load<R extends Measured> = {
  label: string; // '' or e.g. 'HTTP/2 ', in front of error messages
  logPrefix: string; // in front of each progress line, e.g. 'round' or 'h2 round'
  warmUp(port: number): Promise<R>;
  measure(port: number): Promise<R>;
  failure(r: R): string | undefined;
  detail?(r: R): string; // appended to the progress line
};

export async function interleavedRounds<R extends Measured>(load: Load<R>, targets: Target[], rounds: number): Promise<Round<R>[]> {
  const out: Round<R>[] = [];
  for (let i = 1; i <= rounds; i++) {
    const round: Round<R> = {};
    for (const t of targets) {
      const bad = load.failure(await load.warmUp(t.port));
      if (bad) throw new Error(`${load.label}warm-up of ${t.name} failed: ${bad}`);
      const r = await load.measure(t.port);
      const badRun = load.failure(r);
      if (badRun) throw new Error(`${load.label}round ${i}, ${t.name} failed: ${badRun}`);
      round[t.name] = r;
      const detail = load.detail ? `  ${load.detail(r)}` : '';
      console.log(`${load.logPrefix} ${i}/${rounds}  ${t.name.padEnd(16)} ${Math.round(r.reqPerSec)} req/s  p50 ${r.p50Ms.toFixed(2)} ms  p99 ${r.p99Ms.toFixed(2)} ms${detail}`);
    }
    out.push(round);
  }
  return out;
}
