// Freshness and age (RFC 9111 §4.2): how long a stored response may be
// served without asking the app, and how old it is when served. Times in ms.
import { deltaSeconds, type Directives } from './cache-control.ts';

// A shared cache reads s-maxage first, then max-age, then Expires - Date
// (§4.2.1). No explicit lifetime: 0, as we do no heuristic freshness
// (Thruster stores only responses that say how long they keep, and so do we).
// An Expires that does not parse (e.g. "0") means already expired (§5.3).
export function freshnessLifetimeMs(cc: Directives, date: string | undefined, expires: string | undefined, responseTimeMs: number): number {
  const sMaxAge = deltaSeconds(cc, 's-maxage');
  if (sMaxAge >= 0) return sMaxAge * 1000;
  const maxAge = deltaSeconds(cc, 'max-age');
  if (maxAge >= 0) return maxAge * 1000;
  if (expires === undefined) return 0;
  const expiresMs = Date.parse(expires);
  if (Number.isNaN(expiresMs)) return 0;
  const dateMs = date === undefined ? NaN : Date.parse(date);
  return Math.max(0, expiresMs - (Number.isNaN(dateMs) ? responseTimeMs : dateMs));
}

// The age the response already had when it arrived (§4.2.3): the larger of
// what the clocks say (Date) and what the caches before us said (Age, plus
// the time the exchange took).
export function initialAgeMs(age: string | undefined, date: string | undefined, requestTimeMs: number, responseTimeMs: number): number {
  const dateMs = date === undefined ? NaN : Date.parse(date);
  const apparent = Number.isNaN(dateMs) ? 0 : Math.max(0, responseTimeMs - dateMs);
  const ageSeconds = age !== undefined && /^\d+$/.test(age.trim()) ? Number(age.trim()) : 0;
  const corrected = ageSeconds * 1000 + Math.max(0, responseTimeMs - requestTimeMs);
  return Math.max(apparent, corrected);
}

// The Age header's value (§5.1): whole seconds.
export function ageSeconds(ageMs: number): number {
  return Math.floor(ageMs / 1000);
}
