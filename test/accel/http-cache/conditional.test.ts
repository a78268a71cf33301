import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { notModified } from '../../../src/accel/http-cache/conditional.ts';
import type { StoredResponse } from '../../../src/accel/http-cache/http-cache.ts';

const stored = (etag: string | undefined, lastModified: string | undefined): StoredResponse => ({
  status: 200,
  headers: [],
  body: Buffer.alloc(0),
  responseTimeMs: 0,
  initialAgeMs: 0,
  lifetimeMs: 1,
  etag,
  lastModified,
  date: undefined,
  size: 0,
});

describe('conditional requests answered from the cache', () => {
  // Thruster compares strings exactly: no weak comparison, no list, no `*`.
  test('If-None-Match: weak comparison, lists and *', () => {
    const s = stored('W/"v1"', undefined);
    assert.equal(notModified({ 'if-none-match': '"v1"' }, s), true);
    assert.equal(notModified({ 'if-none-match': '"v0", W/"v1"' }, s), true);
    assert.equal(notModified({ 'if-none-match': '*' }, s), true);
    assert.equal(notModified({ 'if-none-match': '"v2"' }, s), false);
    assert.equal(notModified({ 'if-none-match': '"v1"' }, stored(undefined, undefined)), false);
  });

  // Thruster does not handle If-Modified-Since on hits.
  test('If-Modified-Since against Last-Modified, ignored when If-None-Match is there', () => {
    const s = stored('"v1"', 'Tue, 01 Dec 2026 10:00:00 GMT');
    assert.equal(notModified({ 'if-modified-since': 'Tue, 01 Dec 2026 10:00:00 GMT' }, s), true);
    assert.equal(notModified({ 'if-modified-since': 'Tue, 01 Dec 2026 09:59:59 GMT' }, s), false);
    assert.equal(notModified({ 'if-modified-since': 'garbage' }, s), false);
    assert.equal(notModified({ 'if-none-match': '"v0"', 'if-modified-since': 'Wed, 02 Dec 2026 10:00:00 GMT' }, s), false);
  });
});
