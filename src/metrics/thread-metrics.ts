// What a data-plane worker counted, as plain data for the main thread's
// scrape: its request metrics and its requests held for a wake, added to the
// main thread's own, so a scrape sees the proxy as one.
import type { HttpMetricsDump } from './http-metrics.ts';
import { type Exposition, labelPairs } from './text-format.ts';

export interface ThreadMetrics {
  thread: number; // 1.. (the main thread is 0)
  http: HttpMetricsDump | null; // null without --metrics-port
  // Requests held: for a wake (now, and in all since start) and by a pause.
  held: { service: string; now: number; total: number; paused: number }[];
  // Requests in flight per target, where there are any (for the status page).
  inFlight: { service: string; address: string; count: number }[];
}

// Ours, with more than one thread: how the kernel spread the requests.
export function writeThreadMetrics(out: Exposition, threads: readonly { thread: number; http: HttpMetricsDump | null }[]): void {
  const family = out.family('kamal_napper_thread_requests_total', 'counter', 'HTTP requests served, labeled by the thread that served them (0 is the main thread).');
  for (const t of [...threads].sort((a, b) => a.thread - b.thread)) {
    let requests = 0;
    for (const s of t.http ?? []) for (const series of s.series) requests += series.values[0]!; // [count, sum, buckets...]
    family.sample(labelPairs({ thread: String(t.thread) }), requests);
  }
}
