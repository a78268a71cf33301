// What the lookup decided for one request, left on its context for the
// store filter (cache-store.ts) and the request log.
import type { HttpCache } from './http-cache.ts';

export type CacheStatus = 'hit' | 'miss' | 'bypass';

export class CacheExchange {
  readonly cache: HttpCache;
  readonly status: CacheStatus; // X-Cache, as Thruster
  readonly uri: string;
  readonly store: boolean; // may the app's answer be kept?
  readonly requestTimeMs: number;

  constructor(cache: HttpCache, status: CacheStatus, uri: string, store: boolean) {
    this.cache = cache;
    this.status = status;
    this.uri = uri;
    this.store = store;
    this.requestTimeMs = cache.now();
  }
}
