// Range headers against a file's size (RFC 9110 §14.1.2, §14.2): one range is
// served, several or malformed ones mean the whole file, and a range past the
// end is unsatisfiable.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { byteRange } from '../../src/accel/byte-range.ts';

describe('byteRange', () => {
  const size = 1000;
  const cases: [string | undefined, ReturnType<typeof byteRange>][] = [
    [undefined, { kind: 'whole' }],
    ['bytes=0-499', { kind: 'part', start: 0, end: 499 }],
    ['bytes=500-', { kind: 'part', start: 500, end: 999 }],
    ['bytes=-100', { kind: 'part', start: 900, end: 999 }],
    ['bytes=-5000', { kind: 'part', start: 0, end: 999 }],
    ['bytes=900-5000', { kind: 'part', start: 900, end: 999 }],
    ['bytes=999-999', { kind: 'part', start: 999, end: 999 }],
    ['BYTES = 1-2', { kind: 'part', start: 1, end: 2 }],
    ['bytes=0-0,', { kind: 'part', start: 0, end: 0 }],
    ['bytes=1000-', { kind: 'unsatisfiable' }],
    ['bytes=1000-2000', { kind: 'unsatisfiable' }],
    ['bytes=-0', { kind: 'unsatisfiable' }],
    ['bytes=0-1,5-6', { kind: 'whole' }],
    ['bytes=5-1', { kind: 'whole' }],
    ['bytes=abc', { kind: 'whole' }],
    ['bytes=1-x', { kind: 'whole' }],
    ['bytes=-', { kind: 'whole' }],
    ['bytes=', { kind: 'whole' }],
    ['items=0-5', { kind: 'whole' }],
    ['0-5', { kind: 'whole' }],
    ['bytes=+1-5', { kind: 'whole' }],
  ];
  for (const [header, expected] of cases) {
    test(`${header ?? '(none)'}`, () => assert.deepEqual(byteRange(header, size), expected));
  }

  test('an empty file satisfies no range', () => {
    assert.deepEqual(byteRange('bytes=0-', 0), { kind: 'unsatisfiable' });
    assert.deepEqual(byteRange('bytes=-10', 0), { kind: 'unsatisfiable' });
  });
});
