import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { deltaSeconds, parseCacheControl } from '../../../src/accel/http-cache/cache-control.ts';

describe('Cache-Control parsing', () => {
  test('names are case-insensitive, values tokens or quoted strings, several lines one list', () => {
    const d = parseCacheControl(['Public, MAX-AGE=60', 's-maxage="120", no-cache="Set-Cookie, X-Foo"']);
    assert.deepEqual([...d], [
      ['public', ''],
      ['max-age', '60'],
      ['s-maxage', '120'],
      ['no-cache', 'Set-Cookie, X-Foo'],
    ]);
  });

  test('the first of a repeated directive wins; empty parts are skipped', () => {
    const d = parseCacheControl('max-age=10, , max-age=99,private');
    assert.equal(d.get('max-age'), '10');
    assert.ok(d.has('private'));
    assert.equal(d.size, 2);
  });

  test('delta-seconds: digits only, capped at 2^31; anything else is absent', () => {
    assert.equal(deltaSeconds(parseCacheControl('max-age=0'), 'max-age'), 0);
    assert.equal(deltaSeconds(parseCacheControl('max-age=99999999999'), 'max-age'), 2_147_483_648);
    assert.equal(deltaSeconds(parseCacheControl('max-age=-1'), 'max-age'), -1);
    assert.equal(deltaSeconds(parseCacheControl('max-age=1.5'), 'max-age'), -1);
    assert.equal(deltaSeconds(parseCacheControl('public'), 'max-age'), -1);
  });

  // Thruster matches only the non-standard `s-max-age` (thruster.md §2.3).
  test('s-maxage is read in its RFC spelling', () => {
    assert.equal(deltaSeconds(parseCacheControl('public, s-maxage=60'), 's-maxage'), 60);
  });
});
