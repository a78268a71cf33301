import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { parseCacheControl } from '../../../src/accel/http-cache/cache-control.ts';
import { mayStore, requestMaxAgeMs, requestRule } from '../../../src/accel/http-cache/cache-rules.ts';

const may = (status: number, cc: string, o: { cookie?: boolean; auth?: boolean } = {}) => mayStore(status, parseCacheControl(cc), o.cookie ?? false, o.auth ?? false);

describe('which responses a shared cache keeps', () => {
  test('cacheable statuses only: 200, 301, 404 and the like, never 500, 206 or 304', () => {
    for (const s of [200, 203, 204, 300, 301, 302, 307, 308, 404, 405, 410, 414, 501]) assert.equal(may(s, 'max-age=60'), true, String(s));
    for (const s of [201, 206, 304, 400, 403, 500, 502, 503]) assert.equal(may(s, 'max-age=60'), false, String(s));
  });

  // Thruster never checks no-store: `public, max-age=60, no-store` is kept there.
  test('no-store is never kept, even with public', () => {
    assert.equal(may(200, 'public, max-age=60, no-store'), false);
  });

  test('private is never kept, qualified or not', () => {
    assert.equal(may(200, 'private, max-age=60'), false);
    assert.equal(may(200, 'public, private="X-User", max-age=60'), false);
  });

  test('no-cache is not kept (we never revalidate)', () => {
    assert.equal(may(200, 'public, max-age=60, no-cache'), false);
  });

  // Thruster strips Set-Cookie and keeps the page, which may be that user's.
  test('a response that sets a cookie is not kept', () => {
    assert.equal(may(200, 'public, max-age=60', { cookie: true }), false);
  });

  // RFC 9111 §3.5; Thruster does not look at Authorization.
  test('an answer to a request with Authorization: only with public, s-maxage or must-revalidate', () => {
    assert.equal(may(200, 'max-age=60', { auth: true }), false);
    assert.equal(may(200, 'public, max-age=60', { auth: true }), true);
    assert.equal(may(200, 's-maxage=60', { auth: true }), true);
    assert.equal(may(200, 'max-age=60, must-revalidate', { auth: true }), true);
  });

  // Thruster requires `public`: a plain `max-age=60` page is not kept there.
  test('public is not required', () => {
    assert.equal(may(200, 'max-age=60'), true);
  });
});

describe('what a request asks of the cache', () => {
  test('GET and HEAD look up; other methods and ranges pass', () => {
    assert.equal(requestRule('GET', {}), 'lookup');
    assert.equal(requestRule('HEAD', {}), 'lookup');
    for (const m of ['POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS']) assert.equal(requestRule(m, {}), 'pass', m);
    assert.equal(requestRule('GET', { range: 'bytes=0-1' }), 'pass');
  });

  // Thruster ignores request Cache-Control.
  test('no-cache, max-age=0 and Pragma: no-cache refresh; no-store passes', () => {
    assert.equal(requestRule('GET', { 'cache-control': 'no-cache' }), 'refresh');
    assert.equal(requestRule('GET', { 'cache-control': 'max-age=0' }), 'refresh');
    assert.equal(requestRule('GET', { pragma: 'no-cache' }), 'refresh');
    assert.equal(requestRule('GET', { pragma: 'no-cache', 'cache-control': 'max-age=5' }), 'lookup', 'Cache-Control wins over Pragma');
    assert.equal(requestRule('GET', { 'cache-control': 'no-store' }), 'pass');
  });

  test("a request's max-age bounds the age it accepts", () => {
    assert.equal(requestMaxAgeMs({ 'cache-control': 'max-age=30' }), 30_000);
    assert.equal(requestMaxAgeMs({}), Infinity);
  });
});
