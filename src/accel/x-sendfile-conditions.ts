// A served file's validators (a strong ETag and Last-Modified) and what a
// request's preconditions make of them (RFC 9110 §13.2.2), in that section's
// order: If-Match, If-Unmodified-Since, If-None-Match, If-Modified-Since,
// then If-Range for the Range that follows.
import type { IncomingHttpHeaders } from 'node:http';
import type { BigIntStats } from 'node:fs';

export interface FileValidators {
  etag: string; // with its quotes
  lastModified: string; // IMF-fixdate
  mtimeSeconds: number; // what HTTP dates can say: whole seconds
}

// Strong: the same size, modification time (to the nanosecond) and inode
// mean the same bytes, as nginx and Apache assume.
export function fileValidators(st: BigIntStats): FileValidators {
  const mtimeMs = Number(st.mtimeNs / 1_000_000n);
  return {
    etag: `"${st.size.toString(16)}-${st.mtimeNs.toString(16)}-${st.ino.toString(16)}"`,
    lastModified: new Date(mtimeMs).toUTCString(),
    mtimeSeconds: Math.floor(mtimeMs / 1000),
  };
}

// 'serve': go on (to Range, if any); 304 or 412: answer that instead.
export type Precondition = 'serve' | 304 | 412;

export function evaluatePreconditions(h: IncomingHttpHeaders, method: string, v: FileValidators): Precondition {
  const ifMatch = h['if-match'];
  if (ifMatch !== undefined) {
    if (!etagListMatches(ifMatch, v.etag, true)) return 412;
  } else {
    const since = httpDateSeconds(h['if-unmodified-since']);
    if (since !== null && v.mtimeSeconds > since) return 412;
  }
  const safe = method === 'GET' || method === 'HEAD';
  const ifNoneMatch = h['if-none-match'];
  if (ifNoneMatch !== undefined) {
    if (etagListMatches(ifNoneMatch, v.etag, false)) return safe ? 304 : 412;
  } else if (safe) {
    // Only without If-None-Match, which is the more precise of the two.
    const since = httpDateSeconds(h['if-modified-since']);
    if (since !== null && v.mtimeSeconds <= since) return 304;
  }
  return 'serve';
}

// Whether a Range may be honoured: without If-Range, yes; with it, only when
// it names the file as it is now, by strong ETag or by its exact date.
export function ifRangeHolds(h: IncomingHttpHeaders, v: FileValidators): boolean {
  const ifRange = h['if-range'];
  if (ifRange === undefined) return true;
  const value = String(ifRange).trim();
  if (value.startsWith('"') || value.startsWith('W/')) return value === v.etag; // a weak tag never matches
  const date = httpDateSeconds(value);
  return date !== null && date === v.mtimeSeconds;
}

// An If-Match / If-None-Match list against our tag: `*` matches any current
// file; strong comparison needs both tags strong, weak ignores W/ (§8.8.3.2).
// Tags are read as tokens, not split at commas, which an opaque tag may hold.
export function etagListMatches(list: string, etag: string, strong: boolean): boolean {
  const ours = etag.slice(1, -1);
  let i = 0;
  while (i < list.length) {
    const c = list[i]!;
    if (c === ' ' || c === '\t' || c === ',') {
      i++;
      continue;
    }
    if (c === '*') return true;
    let weak = false;
    if (list.startsWith('W/', i)) {
      weak = true;
      i += 2;
    }
    if (list[i] !== '"') return false; // malformed: nothing after it can be trusted
    const close = list.indexOf('"', i + 1);
    if (close === -1) return false;
    if (list.slice(i + 1, close) === ours && !(strong && weak)) return true;
    i = close + 1;
  }
  return false;
}

// An HTTP date in whole seconds, or null when absent or unreadable (then
// the condition is ignored, §13.1.3).
function httpDateSeconds(value: string | undefined): number | null {
  if (value === undefined) return null;
  const ms = Date.parse(value);
  return Number.isNaN(ms) ? null : Math.floor(ms / 1000);
}
