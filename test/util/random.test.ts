import assert from 'node:assert/strict';
import { test } from 'node:test';
import { randomFill, randomHex } from '../../src/util/random.ts';

test('randomFill fills the whole buffer, with new bytes each time', () => {
  const a = randomFill(Buffer.alloc(1 << 20));
  const b = randomFill(Buffer.alloc(1 << 20));
  assert.notDeepEqual(a, b);
  // Uniform bytes: each value about 4,096 times in 1 MiB. A buffer left
  // partly unfilled (zeros) or a stuck generator would be far off.
  const counts = new Array<number>(256).fill(0);
  for (const byte of a) counts[byte]!++;
  assert.ok(Math.min(...counts) > 3500 && Math.max(...counts) < 4700, `counts from ${Math.min(...counts)} to ${Math.max(...counts)}`);
});

test('randomHex gives that many random bytes in hex', () => {
  const seen = new Set<string>();
  for (let i = 0; i < 1000; i++) {
    const hex = randomHex(6);
    assert.match(hex, /^[0-9a-f]{12}$/);
    seen.add(hex);
  }
  assert.equal(seen.size, 1000);
});
