// How many threads serve requests: `run --workers` (ours; environment
// KAMAL_NAPPER_WORKERS), a number or `auto`: one per core, up to
// WORKERS_AUTO_MAX. The main thread is one of them; the others are
// data-plane workers (src/workers/).
import os from 'node:os';
import { DEFAULT_WORKERS, WORKERS_AUTO_MAX, WORKERS_MAX } from './defaults.ts';

export const WORKERS_VAR = 'KAMAL_NAPPER_WORKERS';

export function workersSetting(env: NodeJS.ProcessEnv = process.env): string {
  return env[WORKERS_VAR]?.trim() || DEFAULT_WORKERS;
}

export function parseWorkers(value: string, cores = os.availableParallelism()): number {
  const v = value.trim().toLowerCase();
  if (v === 'auto') return Math.max(1, Math.min(cores, WORKERS_AUTO_MAX));
  if (/^\d+$/.test(v)) {
    const n = Number(v);
    if (n >= 1 && n <= WORKERS_MAX) return n;
  }
  throw new Error(`invalid --workers ${JSON.stringify(value)}: a number of threads from 1 to ${WORKERS_MAX}, or auto`);
}
