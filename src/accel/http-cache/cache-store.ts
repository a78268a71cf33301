// The response side of --http-cache, last of the response filters (closest
// to the client, so it keeps what the client gets: compressed variants once
// each, by their Vary). It tees: every piece goes on to the client at once,
// and a copy is kept while the response may be stored and stays within the
// item limit. It also says X-Cache, and lets unsafe methods invalidate (§4.4).
import type { RequestContext } from '../../http/context.ts';
import type { ResponseFilter, ResponseHead, ResponseSink } from '../../http/response-sink.ts';
import { parseCacheControl } from './cache-control.ts';
import { CacheExchange } from './cache-exchange.ts';
import { uriKey, varyNames } from './cache-key.ts';
import { mayStore } from './cache-rules.ts';
import { freshnessLifetimeMs, initialAgeMs } from './freshness.ts';
import { storedSize } from './http-cache.ts';
import { rawHeader, rawHeaderValues } from '../../http/headers.ts';

export function storeResponses(): ResponseFilter {
  return (next, owner) => {
    const exchange = owner.ctx.httpCache;
    return exchange instanceof CacheExchange ? new CacheStore(next, owner.ctx, exchange) : next;
  };
}

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS', 'TRACE']);
// Not kept: each hit sets its own Age and X-Cache, and the length is ours.
const NOT_STORED = new Set(['age', 'x-cache', 'content-length', 'transfer-encoding']);

class CacheStore implements ResponseSink {
  readonly #next: ResponseSink;
  readonly #ctx: RequestContext;
  readonly #exchange: CacheExchange;
  #kept: Buffer[] | null = null;
  #keptBytes = 0;
  #limit = 0;
  #head: ResponseHead | null = null;
  #names: readonly string[] = [];
  #responseTimeMs = 0;
  #initialAgeMs = 0;
  #lifetimeMs = 0;

  constructor(next: ResponseSink, ctx: RequestContext, exchange: CacheExchange) {
    this.#next = next;
    this.#ctx = ctx;
    this.#exchange = exchange;
  }

  head(head: ResponseHead): void {
    const x = this.#exchange;
    const method = this.#ctx.req.method ?? '';
    if (!SAFE_METHODS.has(method) && head.status >= 200 && head.status < 400) this.#invalidate(head.headers);
    else if (x.store) this.#consider(head);
    // One X-Cache, ours (an app behind Thruster sends its own).
    const headers = head.headers.filter((_, i, h) => h[i - (i % 2)]!.toLowerCase() !== 'x-cache');
    headers.push('x-cache', x.status);
    this.#next.head({ ...head, headers });
  }

  body(chunk: Buffer): boolean {
    if (this.#kept !== null) this.#keep(chunk);
    return this.#next.body(chunk);
  }

  onDrain(resume: () => void): void {
    this.#next.onDrain(resume);
  }

  end(last?: Buffer): void {
    if (last !== undefined && this.#kept !== null) this.#keep(last);
    this.#next.end(last);
    if (this.#kept !== null) this.#store(this.#kept);
  }

  discard(): void {
    this.#kept = null;
    this.#next.discard();
  }

  #consider(head: ResponseHead): void {
    const x = this.#exchange;
    const h = head.headers;
    const cc = parseCacheControl(rawHeaderValues(h, 'cache-control'));
    const reqHeaders = this.#ctx.req.headers;
    if (!mayStore(head.status, cc, rawHeaderValues(h, 'set-cookie') !== undefined, reqHeaders.authorization !== undefined)) return;
    const names = varyNames(rawHeaderValues(h, 'vary'));
    if (names === null) return;
    const now = x.cache.now();
    const date = rawHeader(h, 'date');
    const lifetime = freshnessLifetimeMs(cc, date, rawHeader(h, 'expires'), now);
    const age = initialAgeMs(rawHeader(h, 'age'), date, x.requestTimeMs, now);
    // Stale on arrival (or no lifetime at all): nothing a later request could use.
    if (lifetime <= age) return;
    const limit = x.cache.maxItemBytes - storedSize(h, EMPTY);
    // Too big by its own word: streamed through, never copied.
    if (head.contentLength > limit) return;
    this.#head = head;
    this.#names = names;
    this.#responseTimeMs = now;
    this.#initialAgeMs = age;
    this.#lifetimeMs = lifetime;
    this.#limit = limit;
    this.#kept = [];
  }

  #keep(chunk: Buffer): void {
    this.#keptBytes += chunk.length;
    if (this.#keptBytes > this.#limit) this.#kept = null;
    else this.#kept!.push(chunk);
  }

  #store(kept: Buffer[]): void {
    const x = this.#exchange;
    const head = this.#head!;
    // A response the client did not get whole is not kept.
    if (head.contentLength >= 0 && this.#keptBytes !== head.contentLength) return;
    const body = ownCopy(kept, this.#keptBytes);
    const headers: string[] = [];
    const h = head.headers;
    for (let i = 0; i < h.length; i += 2) {
      const name = h[i]!.toLowerCase();
      if (!NOT_STORED.has(name)) headers.push(name, h[i + 1]!);
    }
    if (head.status !== 204 && head.status !== 304) headers.push('content-length', String(body.length));
    x.cache.store(x.uri, this.#names, this.#ctx.req.headers, {
      status: head.status,
      headers,
      body,
      responseTimeMs: this.#responseTimeMs,
      initialAgeMs: this.#initialAgeMs,
      lifetimeMs: this.#lifetimeMs,
      etag: rawHeader(h, 'etag'),
      lastModified: rawHeader(h, 'last-modified'),
      date: rawHeader(h, 'date'),
      size: storedSize(headers, body),
    });
  }

  // §4.4: a successful unsafe request invalidates its URI, and the URIs its
  // Location and Content-Location name on the same host.
  #invalidate(headers: readonly string[]): void {
    const ctx = this.#ctx;
    const cache = this.#exchange.cache;
    const host = ctx.req.headers.host;
    for (const scheme of ['http', 'https']) cache.invalidate(uriKey(scheme, host, ctx.path + ctx.search));
    const base = `${ctx.scheme}://${host ?? 'invalid'}${ctx.path}`;
    for (const name of ['location', 'content-location']) {
      const value = rawHeader(headers, name);
      if (value === undefined) continue;
      let url: URL;
      try {
        url = new URL(value, base);
      } catch {
        continue;
      }
      if (uriKey('', url.host, '') !== uriKey('', host, '')) continue;
      for (const scheme of ['http', 'https']) cache.invalidate(uriKey(scheme, host, url.pathname + url.search));
    }
  }
}

const EMPTY = Buffer.alloc(0);

// The body in memory of its own: a chunk may be a view of a much larger read
// buffer (or of Node's shared pool), which keeping it would keep whole.
function ownCopy(chunks: readonly Buffer[], length: number): Buffer {
  const body = Buffer.allocUnsafeSlow(length);
  let at = 0;
  for (const c of chunks) at += c.copy(body, at);
  return body;
}


