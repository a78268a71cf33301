// Accept-Encoding negotiation (RFC 9110 §12.5.3): weights, `*`, identity,
// refusals, and our order among equals.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { acceptsCoding, chooseCoding, parseWeights } from '../../src/accel/accept-encoding.ts';

describe('chooseCoding', () => {
  const cases: [string | string[] | undefined, string | null][] = [
    // What browsers send: all at q=1; zstd first among equals, then br.
    ['gzip, deflate, br, zstd', 'zstd'],
    ['gzip, deflate, br', 'br'],
    ['gzip, deflate', 'gzip'],
    ['zstd, gzip', 'zstd'],
    // Weights decide before our order.
    ['br;q=0.5, gzip', 'gzip'],
    ['gzip;q=0.8, zstd;q=0.9, br;q=0.1', 'zstd'],
    ['GZIP;Q=0.5', 'gzip'],
    ['x-gzip', 'gzip'],
    // q=0 refuses, and a refusal named twice is never undone.
    ['br;q=0, gzip', 'gzip'],
    ['br;q=0, zstd;q=0, gzip;q=0', null],
    ['gzip, gzip;q=0', null],
    // `*` is any coding not named.
    ['*', 'zstd'],
    ['*;q=0.5, zstd;q=0', 'br'],
    ['*;q=0', null],
    ['*;q=0, gzip', 'gzip'],
    // Identity competes on its weight when named.
    ['identity', null],
    ['gzip;q=0.5, identity', null],
    ['gzip, identity;q=0.5', 'gzip'],
    ['gzip;q=0.5, identity;q=0.5', 'gzip'],
    // Nothing we make, nothing at all, or no header: as it is.
    ['deflate, compress', null],
    ['', null],
    [undefined, null],
    // Malformed elements are skipped, not guessed at.
    ['br;q=2, gzip', 'gzip'],
    ['br;q=abc, gzip;q=0.1', 'gzip'],
    ['br;q=0.1234, zstd;q=0.5', 'zstd'],
    [' ,, br ;  q=1.000 , ', 'br'],
    // Repeated header lines count as one list.
    [['gzip;q=0.5', 'br;q=0.9'], 'br'],
  ];
  for (const [header, coding] of cases) {
    test(`${JSON.stringify(header)} → ${coding}`, () => {
      assert.equal(chooseCoding(header), coding);
      assert.equal(chooseCoding(header), coding, 'the same from the cache');
    });
  }
});

test('parseWeights keeps the lowest weight of a coding named twice and ignores other parameters', () => {
  assert.deepEqual([...parseWeights('gzip;level=9;q=0.3, br, gzip;q=0.7')], [
    ['gzip', 0.3],
    ['br', 1],
  ]);
});

test('many distinct headers: every answer is still right once the cache is full', () => {
  for (let i = 0; i < 200; i++) assert.equal(chooseCoding(`gzip;q=0.${i % 10}, x-${i}`), i % 10 === 0 ? null : 'gzip');
});

test('acceptsCoding: whether a stored variant may go to this client', () => {
  assert.equal(acceptsCoding('gzip, br', 'gzip'), true);
  assert.equal(acceptsCoding('br', 'gzip'), false);
  assert.equal(acceptsCoding('x-gzip', 'gzip'), true);
  assert.equal(acceptsCoding('*;q=0.5', 'zstd'), true);
  assert.equal(acceptsCoding('*;q=0, gzip', 'br'), false);
  assert.equal(acceptsCoding('br', ''), true, 'identity is acceptable unless refused');
  assert.equal(acceptsCoding('br, identity;q=0', ''), false);
  assert.equal(acceptsCoding('br, *;q=0', 'identity'), false);
  assert.equal(acceptsCoding(undefined, 'gzip'), true, 'no header: any coding');
});
