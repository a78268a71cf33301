// One service's HTTP cache: stored responses in memory, least recently used
// first out, within a byte budget that counts headers and bodies. A deploy
// builds a new one (service.ts), so a new version never serves the old one's
// pages.
import type { IncomingHttpHeaders } from 'node:http';
import { variantKey } from './cache-key.ts';

export interface StoredResponse {
  readonly status: number;
  // As the client got them (lowercase names), with our Content-Length and
  // without Age and X-Cache, which each hit sets afresh.
  readonly headers: readonly string[];
  readonly body: Buffer;
  readonly responseTimeMs: number; // when it arrived (§4.2.3 response_time)
  readonly initialAgeMs: number; // its corrected_initial_age
  readonly lifetimeMs: number;
  readonly etag: string | undefined;
  readonly lastModified: string | undefined;
  readonly date: string | undefined;
  readonly size: number; // what it counts against the budget
}

// What a response costs: its headers as they would be written, its body,
// and a little for our own bookkeeping.
export function storedSize(headers: readonly string[], body: Buffer): number {
  let size = ENTRY_OVERHEAD_BYTES + body.length;
  for (const h of headers) size += h.length + 2;
  return size;
}
const ENTRY_OVERHEAD_BYTES = 256;

// A change to a cache, as the other threads' copies replay it: with several
// threads serving, each has its own copy of a service's cache, and every
// store and invalidation is replayed in the others, so a page cached by one
// is a hit in all and an invalidation reaches all.
export type CacheChange =
  | { kind: 'store'; uri: string; names: readonly string[]; variant: string; response: StoredResponse }
  | { kind: 'invalidate'; uri: string };

// A change as it arrives from another thread: its body a plain Uint8Array.
export function changeFromThread(change: CacheChange): CacheChange {
  if (change.kind !== 'store' || Buffer.isBuffer(change.response.body)) return change;
  const b = change.response.body as Uint8Array;
  return { ...change, response: { ...change.response, body: Buffer.from(b.buffer, b.byteOffset, b.byteLength) } };
}

interface Uri {
  names: readonly string[]; // the Vary of its latest response
  variants: Set<string>; // their keys in #entries
}

export class HttpCache {
  readonly maxBytes: number;
  readonly maxItemBytes: number;
  readonly #now: () => number;
  // Insertion order is recency: a hit moves its entry to the end, eviction
  // takes from the front.
  readonly #entries = new Map<string, { uri: string; response: StoredResponse }>();
  readonly #uris = new Map<string, Uri>();
  #bytes = 0;
  #mirror: ((change: CacheChange) => void) | null = null;

  constructor(maxBytes: number, maxItemBytes: number, now: () => number = Date.now) {
    this.maxBytes = maxBytes;
    this.maxItemBytes = Math.min(maxItemBytes, maxBytes);
    this.#now = now;
  }

  get bytes(): number {
    return this.#bytes;
  }
  get size(): number {
    return this.#entries.size;
  }
  now(): number {
    return this.#now();
  }

  // The stored response for this request, fresh or not (the caller decides),
  // or null.
  lookup(uri: string, headers: IncomingHttpHeaders): StoredResponse | null {
    const u = this.#uris.get(uri);
    if (u === undefined) return null;
    const key = uri + '\n' + variantKey(u.names, headers);
    const entry = this.#entries.get(key);
    if (entry === undefined) return null;
    this.#entries.delete(key);
    this.#entries.set(key, entry);
    return entry.response;
  }

  // Told of every store and invalidation made here (not of those replayed).
  mirrorTo(mirror: (change: CacheChange) => void): void {
    this.#mirror = mirror;
  }

  // Another thread's change.
  replay(change: CacheChange): void {
    if (change.kind === 'invalidate') this.#invalidate(change.uri);
    else this.#store(change.uri, change.names, change.variant, change.response);
  }

  // `names`: the response's Vary. A response over the item limit is not kept.
  store(uri: string, names: readonly string[], headers: IncomingHttpHeaders, response: StoredResponse): boolean {
    if (response.size > this.maxItemBytes) return false;
    const variant = variantKey(names, headers);
    this.#store(uri, names, variant, response);
    this.#mirror?.({ kind: 'store', uri, names, variant, response });
    return true;
  }

  // Every stored response for the URI, whatever it varies on (§4.4).
  invalidate(uri: string): void {
    this.#invalidate(uri);
    this.#mirror?.({ kind: 'invalidate', uri });
  }

  #store(uri: string, names: readonly string[], variant: string, response: StoredResponse): void {
    if (response.size > this.maxItemBytes) return;
    let u = this.#uris.get(uri);
    // A new Vary for the URI: the variants stored under the old one can no
    // longer be told apart.
    if (u !== undefined && !sameNames(u.names, names)) {
      this.#invalidate(uri);
      u = undefined;
    }
    if (u === undefined) this.#uris.set(uri, (u = { names, variants: new Set() }));
    const key = uri + '\n' + variant;
    this.#remove(key);
    while (this.#bytes + response.size > this.maxBytes && this.#entries.size > 0) this.#remove(this.#entries.keys().next().value!);
    // Eviction may have taken the URI's last variant, and with it the URI.
    if (!this.#uris.has(uri)) this.#uris.set(uri, u);
    this.#entries.set(key, { uri, response });
    u.variants.add(key);
    this.#bytes += response.size;
  }

  #invalidate(uri: string): void {
    const u = this.#uris.get(uri);
    if (u === undefined) return;
    for (const key of [...u.variants]) this.#remove(key);
    this.#uris.delete(uri);
  }

  #remove(key: string): void {
    const entry = this.#entries.get(key);
    if (entry === undefined) return;
    this.#entries.delete(key);
    this.#bytes -= entry.response.size;
    const u = this.#uris.get(entry.uri);
    if (u === undefined) return;
    u.variants.delete(key);
    if (u.variants.size === 0) this.#uris.delete(entry.uri);
  }
}

function sameNames(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((n, i) => n === b[i]);
}

// The cache a deploy with these options gets: a new one each time, or none.
export function httpCacheFor(o: { httpCache: boolean; httpCacheSizeBytes: number; httpCacheMaxItemBytes: number }): HttpCache | null {
  return o.httpCache ? new HttpCache(o.httpCacheSizeBytes, o.httpCacheMaxItemBytes) : null;
}
