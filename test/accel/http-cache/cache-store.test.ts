// The store filter against a recording sink: it tees (every piece goes on at
// once), keeps a copy only while the response may be stored and fits, and
// keeps nothing of a response that failed.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { CacheExchange } from '../../../src/accel/http-cache/cache-exchange.ts';
import { uriKey } from '../../../src/accel/http-cache/cache-key.ts';
import { storeResponses } from '../../../src/accel/http-cache/cache-store.ts';
import { HttpCache } from '../../../src/accel/http-cache/http-cache.ts';
import type { RequestContext } from '../../../src/http/context.ts';
import type { ResponseHead } from '../../../src/http/response-sink.ts';
import { Recorder } from '../../helpers/recording-sink.ts';


const URI = uriKey('http', 'a.test', '/p');

function exchange(cache: HttpCache, method = 'GET', status: 'miss' | 'bypass' = 'miss') {
  const ctx = { req: { method, headers: { host: 'a.test' } }, path: '/p', search: '', scheme: 'http', httpCache: null } as unknown as RequestContext;
  ctx.httpCache = new CacheExchange(cache, status, URI, method === 'GET');
  const next = new Recorder();
  const sink = storeResponses()(next, { ctx, fail() {} });
  return { next, sink };
}

const cacheable = (contentLength: number): ResponseHead => ({
  status: 200,
  headers: ['content-type', 'text/plain', 'cache-control', 'max-age=60', 'x-cache', 'hit'],
  contentLength,
  contentType: 'text/plain',
});

describe('the store filter', () => {
  test('tees: the client gets each piece at once; the whole is kept with its length, our X-Cache only', () => {
    const cache = new HttpCache(1_000_000, 100_000);
    const { next, sink } = exchange(cache);
    sink.head(cacheable(-1));
    sink.body(Buffer.from('one,'));
    assert.deepEqual(next.events, ['head 200 content-type,text/plain,cache-control,max-age=60,x-cache,miss', 'body one,']);
    assert.equal(cache.size, 0, 'nothing kept before the end');
    sink.end(Buffer.from('two'));
    assert.equal(next.events.at(-1), 'end two');
    const stored = cache.lookup(URI, {})!;
    assert.equal(stored.body.toString(), 'one,two');
    assert.deepEqual(stored.headers, ['content-type', 'text/plain', 'cache-control', 'max-age=60', 'content-length', '7']);
  });

  test('the kept body is a copy of its own, not a view of the read buffer it came in', () => {
    const cache = new HttpCache(1_000_000, 100_000);
    const { sink } = exchange(cache);
    const read = Buffer.alloc(65_536, 'r');
    sink.head(cacheable(5));
    sink.end(read.subarray(0, 5));
    const body = cache.lookup(URI, {})!.body;
    assert.equal(body.toString(), 'rrrrr');
    assert.equal(body.buffer.byteLength, 5);
  });

  test('unknown length past the item limit: streamed through, not kept', () => {
    const cache = new HttpCache(1_000_000, 1_000);
    const { next, sink } = exchange(cache);
    sink.head(cacheable(-1));
    for (let i = 0; i < 10; i++) sink.body(Buffer.alloc(200, 'x'));
    sink.end();
    assert.equal(next.events.filter((e) => e.startsWith('body')).length, 10);
    assert.equal(cache.size, 0);
  });

  test('a known length over the limit is never copied', () => {
    const cache = new HttpCache(1_000_000, 1_000);
    const { sink } = exchange(cache);
    sink.head(cacheable(5_000));
    sink.end(Buffer.alloc(5_000));
    assert.equal(cache.size, 0);
  });

  test('a failed response keeps nothing', () => {
    const cache = new HttpCache(1_000_000, 100_000);
    const { next, sink } = exchange(cache);
    sink.head(cacheable(-1));
    sink.body(Buffer.from('part'));
    sink.discard();
    assert.equal(next.events.at(-1), 'discard');
    assert.equal(cache.size, 0);
  });

  test('a shorter body than its Content-Length is not kept', () => {
    const cache = new HttpCache(1_000_000, 100_000);
    const { sink } = exchange(cache);
    sink.head(cacheable(10));
    sink.end(Buffer.from('short'));
    assert.equal(cache.size, 0);
  });

  test('a successful POST invalidates its URI; a failed one does not', () => {
    const cache = new HttpCache(1_000_000, 100_000);
    const store = () => {
      const { sink } = exchange(cache);
      sink.head(cacheable(-1));
      sink.end(Buffer.from('page'));
    };
    store();
    const failed = exchange(cache, 'POST', 'bypass');
    failed.sink.head({ ...cacheable(0), status: 500 });
    failed.sink.end();
    assert.notEqual(cache.lookup(URI, {}), null);
    const ok = exchange(cache, 'POST', 'bypass');
    ok.sink.head({ ...cacheable(0), status: 204 });
    ok.sink.end();
    assert.equal(cache.lookup(URI, {}), null);
  });
});
