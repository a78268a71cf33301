// The status page and its JSON, served on the metrics port: GET /status.json
// for scripts, GET / for browsers. Both are the same snapshot of the router.
import { renderStatusPage } from '../pages/status-page.ts';
import type { Router } from '../router/router.ts';
import type { ThreadMetrics } from '../metrics/thread-metrics.ts';
import { statusSnapshot } from './status-snapshot.ts';

// `others`: what the data-plane workers counted, if any.
export function statusJson(router: Router, others: readonly ThreadMetrics[] = []): string {
  return JSON.stringify(statusSnapshot(router, others));
}

export function statusPage(router: Router, others: readonly ThreadMetrics[] = []): string {
  return renderStatusPage(statusSnapshot(router, others));
}
