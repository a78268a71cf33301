// Conditional requests answered from a fresh stored response (RFC 9110
// §13.1.2, §13.1.3, RFC 9111 §4.3.2): If-None-Match by weak comparison, and
// If-Modified-Since only when there is no If-None-Match.
import type { IncomingHttpHeaders } from 'node:http';
import type { StoredResponse } from './http-cache.ts';

export function notModified(headers: IncomingHttpHeaders, stored: StoredResponse): boolean {
  const inm = headers['if-none-match'];
  if (inm !== undefined) return stored.etag !== undefined && etagListMatches(inm, stored.etag);
  const ims = headers['if-modified-since'];
  if (ims === undefined) return false;
  const since = Date.parse(ims);
  // Without Last-Modified, the response's Date is when it was last good.
  const modified = Date.parse(stored.lastModified ?? stored.date ?? '');
  return !Number.isNaN(since) && !Number.isNaN(modified) && modified <= since;
}

function etagListMatches(list: string, etag: string): boolean {
  const want = opaque(etag);
  for (const part of list.split(',')) {
    const tag = part.trim();
    if (tag === '*' || opaque(tag) === want) return true;
  }
  return false;
}

// Weak comparison: W/"x" and "x" are the same entity tag.
function opaque(tag: string): string {
  return tag.startsWith('W/') ? tag.slice(2) : tag;
}

// The headers a 304 carries (RFC 9110 §15.4.5): those that guide caches.
export const NOT_MODIFIED_HEADERS = new Set(['cache-control', 'content-location', 'date', 'etag', 'expires', 'vary', 'last-modified']);
