// What napping did for one service since this process started: wakes by
// outcome and how long they took, requests held while the app woke, and the
// memory the app used when it was put to sleep. Read by the metrics scrape
// and the status page; a redeploy hands the same stats to the new napper
// (the state file keeps only the wake total, Napper.wakes).
import { Histogram } from '../metrics/histogram.ts';
import type { Runtime } from './runtime.ts';

// A wake: a process app up in a fraction of a second, a Rails container in
// tens of seconds, the default wake timeout a minute.
export const WAKE_DURATION_BUCKETS: readonly number[] = [0.1, 0.25, 0.5, 1, 2, 3, 5, 7.5, 10, 15, 20, 30, 45, 60];
const MEDIAN_WINDOW = 64; // the last wakes the median is taken over
// The memory reading waits this long at most before the app is stopped anyway.
export const MEMORY_READ_TIMEOUT_MS = 2_000;

export class NapStats {
  readonly wakes = { woken: 0, failed: 0 };
  readonly wakeDuration = new Histogram(WAKE_DURATION_BUCKETS); // successful wakes
  heldNow = 0;
  heldTotal = 0;
  memoryAtSleepBytes = 0; // 0 while awake or unknown
  readonly #recent = new Float64Array(MEDIAN_WINDOW); // ring of successful wake durations
  #recentCount = 0;

  recordWake(outcome: 'woken' | 'failed', seconds: number): void {
    this.wakes[outcome]++;
    if (outcome === 'failed') return;
    this.wakeDuration.observe(seconds);
    this.#recent[this.#recentCount++ % MEDIAN_WINDOW] = seconds;
  }

  // Of the last 64 successful wakes; null before the first.
  medianWakeSeconds(): number | null {
    const n = Math.min(this.#recentCount, MEDIAN_WINDOW);
    if (n === 0) return null;
    const sorted = this.#recent.slice(0, n).sort();
    return n % 2 === 1 ? sorted[(n - 1) / 2]! : (sorted[n / 2 - 1]! + sorted[n / 2]!) / 2;
  }

  // A request waiting for the wake (not a browser, which gets the waiting page).
  async hold<T>(wake: Promise<T>): Promise<T> {
    this.heldNow++;
    this.heldTotal++;
    try {
      return await wake;
    } finally {
      this.heldNow--;
    }
  }
}

// The app's memory now, summed over its runtimes, for just before it is
// stopped. Never throws and never waits past MEMORY_READ_TIMEOUT_MS: a
// reading that fails or hangs is 0 (unknown), and the nap goes on.
export async function memoryOf(runtimes: readonly Runtime[], timeoutMs = MEMORY_READ_TIMEOUT_MS): Promise<number> {
  const reads = runtimes.map((r) => (r.memoryBytes?.() ?? Promise.resolve(null)).catch(() => null));
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<null>((resolve) => {
    timer = setTimeout(() => resolve(null), timeoutMs);
    timer.unref();
  });
  const values = await Promise.race([Promise.all(reads), timeout]);
  clearTimeout(timer);
  return values === null ? 0 : values.reduce<number>((sum, v) => sum + (v ?? 0), 0);
}
