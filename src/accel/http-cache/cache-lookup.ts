// The request side of --http-cache, before napping and the balancer
// (service.ts): a fresh stored response is written at once, without waking
// a napping app or counting as its activity; any other request goes on to
// the app with what the store filter needs to keep its answer.
import type { RequestContext } from '../../http/context.ts';
import { sendStored } from '../../http/respond.ts';
import { acceptsCoding } from '../accept-encoding.ts';
import { uriKey } from './cache-key.ts';
import { requestMaxAgeMs, requestRule } from './cache-rules.ts';
import { CacheExchange } from './cache-exchange.ts';
import { NOT_MODIFIED_HEADERS, notModified } from './conditional.ts';
import { ageSeconds } from './freshness.ts';
import type { HttpCache, StoredResponse } from './http-cache.ts';
import { rawHeader } from '../../http/headers.ts';

// true: answered from the cache.
export function serveFromCache(ctx: RequestContext, cache: HttpCache): boolean {
  if (ctx.upgrade !== null) return false;
  const req = ctx.req;
  const method = req.method;
  const uri = uriKey(ctx.scheme, req.headers.host, ctx.path + ctx.search);
  const rule = requestRule(method, req.headers);
  if (rule !== 'lookup') {
    ctx.httpCache = new CacheExchange(cache, 'bypass', uri, rule === 'refresh' && method === 'GET');
    return false;
  }
  const stored = cache.lookup(uri, req.headers);
  if (stored !== null && acceptsCoding(req.headers['accept-encoding'], rawHeader(stored.headers, 'content-encoding') ?? '')) {
    const ageMs = stored.initialAgeMs + Math.max(0, cache.now() - stored.responseTimeMs);
    if (ageMs < stored.lifetimeMs && ageMs <= requestMaxAgeMs(req.headers)) {
      ctx.httpCache = HIT;
      serveHit(ctx, stored, ageMs);
      return true;
    }
  }
  ctx.httpCache = new CacheExchange(cache, 'miss', uri, method === 'GET');
  return false;
}

// A hit needs nothing from the exchange but its status.
const HIT = { status: 'hit' } as const;

function serveHit(ctx: RequestContext, stored: StoredResponse, ageMs: number): void {
  const extra = ['age', String(ageSeconds(ageMs)), 'x-cache', 'hit'];
  if (ctx.logResponseHeaders.length > 0) ctx.respHeaders = headerRecord(stored.headers);
  const contentType = rawHeader(stored.headers, 'content-type') ?? '';
  if (notModified(ctx.req.headers, stored)) {
    const headers: string[] = [];
    for (let i = 0; i < stored.headers.length; i += 2) if (NOT_MODIFIED_HEADERS.has(stored.headers[i]!)) headers.push(stored.headers[i]!, stored.headers[i + 1]!);
    return sendStored(ctx, 304, headers.concat(extra), null, contentType);
  }
  sendStored(ctx, stored.status, stored.headers.concat(extra), stored.body, contentType);
}

function headerRecord(headers: readonly string[]): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (let i = 0; i < headers.length; i += 2) {
    const name = headers[i]!;
    const prev = out[name];
    out[name] = prev === undefined ? headers[i + 1]! : [prev, headers[i + 1]!].flat();
  }
  return out;
}
