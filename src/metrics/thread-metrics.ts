// What a data-plane worker counted, as plain data for the main thread's
// scrape: its request metrics and its requests held for a wake, added to the
// main thread's own, so a scrape sees the proxy as one.
import type { HttpMetricsDump } from './http-metrics.ts';

export interface ThreadMetrics {
  http: HttpMetricsDump | null; // null without --metrics-port
  held: { service: string; now: number; total: number }[];
}
