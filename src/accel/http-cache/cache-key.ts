// What a stored response is found by (RFC 9111 §2, §4.1): the request's URI
// (scheme, host without port, raw path and query), and, for a response that
// names request headers in Vary, the request's values of those headers.
import type { IncomingHttpHeaders } from 'node:http';
import { requestHostKey } from '../../http/host.ts';
import { chooseCoding } from '../accept-encoding.ts';

export function uriKey(scheme: string, host: string | undefined, pathAndQuery: string): string {
  return `${scheme}://${requestHostKey(host)}${pathAndQuery}`;
}

// The request headers a response varies on, lowercased, sorted and without
// repeats, so two spellings of one Vary find the same variants; null for
// `Vary: *`, which no later request can match (§4.1).
export function varyNames(vary: string | readonly string[] | undefined): readonly string[] | null {
  if (vary === undefined) return NO_NAMES;
  const names = new Set<string>();
  for (const line of typeof vary === 'string' ? [vary] : vary) {
    for (const part of line.split(',')) {
      const name = part.trim().toLowerCase();
      if (name === '*') return null;
      if (name !== '') names.add(name);
    }
  }
  return names.size === 0 ? NO_NAMES : [...names].sort();
}
const NO_NAMES: readonly string[] = [];

// The request's values of the varied headers, one string. Several field
// lines are one value joined with commas (RFC 9110 §5.3), and whitespace
// around them does not matter; an absent header differs from an empty one.
// Accept-Encoding counts by the coding it gets (--compress's choice), so each
// coding is stored once, not once per browser's spelling of the header; a
// variant is served only to a client that accepts its coding (cache-lookup.ts).
export function variantKey(names: readonly string[], headers: IncomingHttpHeaders): string {
  if (names.length === 0) return '';
  let key = '';
  for (const name of names) {
    const v = headers[name];
    if (name === 'accept-encoding') key += `=${chooseCoding(v) ?? 'identity'}`;
    else key += v === undefined ? '\u0001' : `=${(typeof v === 'string' ? v : v.join(',')).replace(/\s*,\s*/g, ',').trim()}`;
    key += '\u0000';
  }
  return key;
}
