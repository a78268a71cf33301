// The status page and its JSON, served on the metrics port: GET /status.json
// for scripts, GET / for browsers. Both are the same snapshot of the router.
import { renderStatusPage } from '../pages/status-page.ts';
import type { Router } from '../router/router.ts';
import { statusSnapshot } from './status-snapshot.ts';

export function statusJson(router: Router): string {
  return JSON.stringify(statusSnapshot(router));
}

export function statusPage(router: Router): string {
  return renderStatusPage(statusSnapshot(router));
}
