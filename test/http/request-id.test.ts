import assert from 'node:assert/strict';
import { test } from 'node:test';
import { newRequestId } from '../../src/http/request-id.ts';

test('request ids are version 4 UUIDs, all different, with random bits that vary', () => {
  const seen = new Set<string>();
  const perPosition = Array.from({ length: 36 }, () => new Set<string>());
  for (let i = 0; i < 20_000; i++) {
    const id = newRequestId();
    assert.match(id, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    seen.add(id);
    for (let p = 0; p < 36; p++) perPosition[p]!.add(id[p]!);
  }
  assert.equal(seen.size, 20_000); // across many refills of the random pool
  // Every hex digit position takes all 16 values (the variant digit its 4),
  // so no byte is stuck or reused.
  perPosition.forEach((values, p) => {
    const expected = [8, 13, 18, 23].includes(p) ? 1 : p === 14 ? 1 : p === 19 ? 4 : 16;
    assert.equal(values.size, expected, `position ${p}: ${[...values].join('')}`);
  });
});
