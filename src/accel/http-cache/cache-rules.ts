// Which requests may be answered from the cache, and which responses it may
// keep: RFC 9111 for a shared cache, where Thruster is not (see
// ../shared/reference/thruster.md §2.3): s-maxage in its RFC spelling and over
// max-age, Age, Date and Expires honoured, no-store and private never kept,
// nor a response that sets a cookie, nor one to a request with credentials
// unless the response allows it. `public` is not required: an explicit
// lifetime is enough, and without one nothing is kept (no heuristics).
import type { IncomingHttpHeaders } from 'node:http';
import { deltaSeconds, parseCacheControl, type Directives } from './cache-control.ts';

// What the cache does for a request.
//   lookup   serve a fresh stored response, else ask the app and keep its answer
//   refresh  ask the app (the client wants a new answer) and keep it
//   pass     ask the app; keep nothing (no-store, Range, other methods)
// A HEAD may be answered from a stored GET; its own answer has no body to keep.
export type RequestRule = 'lookup' | 'refresh' | 'pass';

export function requestRule(method: string | undefined, headers: IncomingHttpHeaders): RequestRule {
  if (method !== 'GET' && method !== 'HEAD') return 'pass';
  // A range is a part of the response: passed to the app whole (as Thruster).
  if (headers.range !== undefined) return 'pass';
  const cc = parseCacheControl(headers['cache-control']);
  if (cc.has('no-store')) return 'pass';
  // §5.4: Pragma: no-cache counts only when there is no Cache-Control.
  const noCache = cc.has('no-cache') || deltaSeconds(cc, 'max-age') === 0 || (cc.size === 0 && /no-cache/i.test(String(headers.pragma ?? '')));
  if (noCache) return 'refresh';
  return 'lookup';
}

// The oldest a stored response may be for this request (its max-age), in
// ms; Infinity when the request does not say.
export function requestMaxAgeMs(headers: IncomingHttpHeaders): number {
  const cc = headers['cache-control'];
  if (cc === undefined) return Infinity;
  const maxAge = deltaSeconds(parseCacheControl(cc), 'max-age');
  return maxAge < 0 ? Infinity : maxAge * 1000;
}

// Final statuses a cache may keep (RFC 9110 §15.1 "heuristically cacheable",
// plus the temporary redirects, which we keep only with an explicit lifetime
// like everything else). Not 206: we never keep parts.
const STORABLE_STATUSES = new Set([200, 203, 204, 300, 301, 302, 307, 308, 404, 405, 410, 414, 501]);

// Is a response one a shared cache may keep? (The lifetime is checked by the caller.)
export function mayStore(status: number, cc: Directives, setsCookie: boolean, requestHasAuthorization: boolean): boolean {
  if (!STORABLE_STATUSES.has(status)) return false;
  if (cc.has('no-store') || cc.has('private')) return false;
  // Kept but always revalidated, says the RFC; we do not revalidate, so we
  // do not keep it (a stored response we may never serve is only a cost).
  if (cc.has('no-cache')) return false;
  // One user's cookie must never reach another: kept by no one (Thruster
  // strips the header and keeps the page, which may be that user's page).
  if (setsCookie) return false;
  // §3.5: an answer to a request with credentials is that user's unless the
  // response says a shared cache may keep it.
  if (requestHasAuthorization && !cc.has('public') && !cc.has('s-maxage') && !cc.has('must-revalidate')) return false;
  return true;
}
