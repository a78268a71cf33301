import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { HttpCache, storedSize } from '../../../src/accel/http-cache/http-cache.ts';
import type { StoredResponse } from '../../../src/accel/http-cache/http-cache.ts';

function response(bodyBytes: number): StoredResponse {
  const headers = ['content-type', 'text/plain', 'content-length', String(bodyBytes)];
  const body = Buffer.alloc(bodyBytes, 'x');
  return { status: 200, headers, body, responseTimeMs: 0, initialAgeMs: 0, lifetimeMs: 60_000, etag: undefined, lastModified: undefined, date: undefined, size: storedSize(headers, body) };
}

describe('the cache store', () => {
  test('the budget counts headers and bodies; least recently used goes first', () => {
    const one = response(1000);
    const cache = new HttpCache(one.size * 3, one.size);
    for (const p of ['/a', '/b', '/c']) assert.equal(cache.store(p, [], {}, response(1000)), true);
    assert.equal(cache.bytes, one.size * 3);
    assert.notEqual(cache.lookup('/a', {}), null); // /a is now the most recent
    cache.store('/d', [], {}, response(1000));
    assert.equal(cache.lookup('/b', {}), null, 'the least recently used is gone');
    for (const p of ['/a', '/c', '/d']) assert.notEqual(cache.lookup(p, {}), null, p);
    assert.ok(cache.bytes <= cache.maxBytes);
  });

  test('a churn of distinct URIs stays within the budget', () => {
    const cache = new HttpCache(100_000, 10_000);
    for (let i = 0; i < 5_000; i++) cache.store(`/page/${i}`, [], {}, response(i % 3_000));
    assert.ok(cache.bytes <= 100_000, `${cache.bytes} bytes`);
    assert.ok(cache.size > 10);
    assert.notEqual(cache.lookup('/page/4999', {}), null);
  });

  test('an item over the limit is not kept', () => {
    const cache = new HttpCache(1_000_000, 1_000);
    assert.equal(cache.store('/big', [], {}, response(1_000)), false);
    assert.equal(cache.lookup('/big', {}), null);
    assert.equal(cache.bytes, 0);
  });

  test('variants by Vary; invalidation takes every variant; a new Vary replaces the old ones', () => {
    const cache = new HttpCache(1_000_000, 100_000);
    cache.store('/v', ['accept-language'], { 'accept-language': 'en' }, response(1));
    cache.store('/v', ['accept-language'], { 'accept-language': 'fr' }, response(2));
    assert.equal(cache.lookup('/v', { 'accept-language': 'en' })?.body.length, 1);
    assert.equal(cache.lookup('/v', { 'accept-language': 'fr' })?.body.length, 2);
    assert.equal(cache.lookup('/v', { 'accept-language': 'de' }), null);
    cache.store('/v', ['accept-encoding'], { 'accept-encoding': 'gzip' }, response(3));
    assert.equal(cache.lookup('/v', { 'accept-language': 'en', 'accept-encoding': 'br' }), null);
    assert.equal(cache.size, 1);
    cache.invalidate('/v');
    assert.equal(cache.lookup('/v', { 'accept-encoding': 'gzip' }), null);
    assert.deepEqual([cache.size, cache.bytes], [0, 0]);
  });

  test('storing the same variant again replaces it', () => {
    const cache = new HttpCache(1_000_000, 100_000);
    cache.store('/r', [], {}, response(10));
    cache.store('/r', [], {}, response(20));
    assert.equal(cache.size, 1);
    assert.equal(cache.bytes, response(20).size);
    assert.equal(cache.lookup('/r', {})?.body.length, 20);
  });
});
