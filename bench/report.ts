// Summaries over rounds, the printed table and the JSON file.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { WrkResult } from './wrk.ts';

// What the table needs from one measured run, wrk's or h2load's.
export type Measured = { reqPerSec: number; p50Ms: number; p99Ms: number };

// One measured run of each target; rounds[i] holds every target once.
export type Round<R extends Measured = WrkResult> = Record<string, R>;

export type Summary = {
  target: string;
  reqPerSec: number;
  p50Ms: number;
  p99Ms: number;
  // Median over rounds of (target req/s / direct req/s in the same round):
  // the machine's noise moves both figures of a round together.
  ratioToDirect: number;
  runs: number[];
};

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

// The median of each figure over a target's runs.
function medians(runs: Measured[]): Measured {
  return {
    reqPerSec: median(runs.map((r) => r.reqPerSec)),
    p50Ms: median(runs.map((r) => r.p50Ms)),
    p99Ms: median(runs.map((r) => r.p99Ms)),
  };
}

export function summarize(rounds: Round<Measured>[], targets: string[], direct: string): Summary[] {
  return targets.map((target) => {
    const runs = rounds.map((r) => r[target]);
    return {
      target,
      ...medians(runs),
      ratioToDirect: median(rounds.map((r) => r[target].reqPerSec / r[direct].reqPerSec)),
      runs: runs.map((r) => Math.round(r.reqPerSec)),
    };
  });
}

export function table(summaries: Summary[]): string {
  return render(['target', 'req/s', 'p50 ms', 'p99 ms', 'ratio to direct', 'req/s per round'], summaries.map((s) => [
    s.target,
    Math.round(s.reqPerSec).toLocaleString('en-US'),
    s.p50Ms.toFixed(2),
    s.p99Ms.toFixed(2),
    s.ratioToDirect.toFixed(2),
    s.runs.join(' / '),
  ]));
}

// At a fixed load every target serves about the same req/s, so the figure to
// compare is the latency a hop adds to direct's, taken within each round.
export type AddedLatency = { target: string; reqPerSec: number; p50Ms: number; p99Ms: number; addedP50Ms: number; addedP99Ms: number; p99Runs: number[] };

export function summarizeAdded(rounds: Round<Measured>[], targets: string[], direct: string): AddedLatency[] {
  return targets.map((target) => {
    const runs = rounds.map((r) => r[target]);
    return {
      target,
      ...medians(runs),
      addedP50Ms: median(rounds.map((r) => r[target].p50Ms - r[direct].p50Ms)),
      addedP99Ms: median(rounds.map((r) => r[target].p99Ms - r[direct].p99Ms)),
      p99Runs: runs.map((r) => r.p99Ms),
    };
  });
}

export function addedTable(summaries: AddedLatency[]): string {
  return render(['target', 'req/s', 'p50 ms', 'p99 ms', 'p50 added', 'p99 added', 'p99 ms per round'], summaries.map((s) => [
    s.target,
    Math.round(s.reqPerSec).toLocaleString('en-US'),
    s.p50Ms.toFixed(2),
    s.p99Ms.toFixed(2),
    s.addedP50Ms.toFixed(2),
    s.addedP99Ms.toFixed(2),
    s.p99Runs.map((p) => p.toFixed(2)).join(' / '),
  ]));
}

// Numbers right-aligned, names and the per-round list left-aligned.
function render(head: string[], rows: string[][]): string {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) =>
    cells.map((c, i) => (i === 0 || i === cells.length - 1 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ').trimEnd();
  return [line(head), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

export function writeJson(dir: string, data: unknown): string {
  mkdirSync(dir, { recursive: true });
  const file = join(dir, 'latest.json');
  writeFileSync(file, JSON.stringify(data, null, 2) + '\n');
  return file;
}
