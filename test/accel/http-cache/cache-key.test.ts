import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { uriKey, variantKey, varyNames } from '../../../src/accel/http-cache/cache-key.ts';

describe('cache keys', () => {
  test('the URI: scheme, host without port or case, raw path and query', () => {
    assert.equal(uriKey('https', 'Example.COM:8443', '/a%20b?x=1&y=2'), 'https://example.com/a%20b?x=1&y=2');
    assert.notEqual(uriKey('http', 'a.test', '/p?x=1&y=2'), uriKey('http', 'a.test', '/p?y=2&x=1'));
    assert.notEqual(uriKey('http', 'a.test', '/p'), uriKey('https', 'a.test', '/p'));
    assert.notEqual(uriKey('http', 'a.test', '/p'), uriKey('http', 'b.test', '/p'));
  });

  test('Vary names: lowercased, sorted, without repeats; * is null', () => {
    assert.deepEqual(varyNames(['Accept-Encoding, accept-language', 'Accept-Encoding']), ['accept-encoding', 'accept-language']);
    assert.deepEqual(varyNames(undefined), []);
    assert.equal(varyNames('Accept, *'), null);
  });

  test("the variant: the request's values of the varied headers", () => {
    const names = ['accept-encoding', 'accept-language'];
    const a = variantKey(names, { 'accept-encoding': 'gzip, br', 'accept-language': 'en' });
    assert.equal(variantKey(names, { 'accept-encoding': 'gzip,br', 'accept-language': 'en' }), a, 'whitespace around commas does not matter');
    assert.notEqual(variantKey(names, { 'accept-encoding': 'gzip, br', 'accept-language': 'fr' }), a);
    assert.notEqual(variantKey(['x'], {}), variantKey(['x'], { x: '' }), 'absent differs from empty');
    assert.equal(variantKey([], { 'accept-language': 'en' }), '');
  });

  test('Accept-Encoding counts by the coding it gets, not by its spelling', () => {
    const ae = (v?: string) => variantKey(['accept-encoding'], v === undefined ? {} : { 'accept-encoding': v });
    assert.equal(ae('gzip, deflate, br, zstd'), ae('zstd'));
    assert.equal(ae('gzip, deflate'), ae('gzip;q=1'));
    assert.notEqual(ae('gzip'), ae('br'));
    assert.equal(ae(undefined), ae('identity'));
  });
});
