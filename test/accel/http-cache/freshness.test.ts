import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { parseCacheControl } from '../../../src/accel/http-cache/cache-control.ts';
import { ageSeconds, freshnessLifetimeMs, initialAgeMs } from '../../../src/accel/http-cache/freshness.ts';

const NOW = Date.parse('Wed, 02 Dec 2026 12:00:00 GMT');
const at = (offsetS: number) => new Date(NOW + offsetS * 1000).toUTCString();
const lifetime = (cc: string, date?: string, expires?: string) => freshnessLifetimeMs(parseCacheControl(cc), date, expires, NOW);

describe('freshness lifetime (RFC 9111 §4.2.1)', () => {
  test('s-maxage over max-age, both ways (Thruster ignores s-maxage)', () => {
    assert.equal(lifetime('max-age=0, s-maxage=60'), 60_000);
    assert.equal(lifetime('max-age=60, s-maxage=0'), 0);
  });

  test('max-age over Expires', () => {
    assert.equal(lifetime('max-age=10', at(0), at(600)), 10_000);
  });

  test('Expires minus Date; Date missing: minus when it arrived (Thruster ignores both)', () => {
    assert.equal(lifetime('', at(-30), at(570)), 600_000);
    assert.equal(lifetime('', undefined, at(300)), 300_000);
  });

  test('an invalid Expires is already expired; an Expires in the past is 0', () => {
    assert.equal(lifetime('', at(0), '0'), 0);
    assert.equal(lifetime('', at(0), at(-60)), 0);
  });

  test('no explicit lifetime: 0, no heuristic freshness', () => {
    assert.equal(lifetime('public'), 0);
  });
});

describe('age (RFC 9111 §4.2.3)', () => {
  test("the upstream's Age plus the time the exchange took", () => {
    assert.equal(initialAgeMs('100', undefined, NOW - 2_000, NOW), 102_000);
  });

  test('the Date header when it says older', () => {
    assert.equal(initialAgeMs(undefined, at(-50), NOW, NOW), 50_000);
    assert.equal(initialAgeMs('5', at(-50), NOW, NOW), 50_000);
    assert.equal(initialAgeMs('500', at(-50), NOW, NOW), 500_000);
  });

  test('a Date in the future or an invalid Age counts as 0', () => {
    assert.equal(initialAgeMs('soon', at(60), NOW, NOW), 0);
  });

  test('the Age header is whole seconds', () => {
    assert.equal(ageSeconds(1_999), 1);
  });
});
