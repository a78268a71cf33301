import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DEFAULT_BUCKETS, Histogram } from '../../src/metrics/histogram.ts';
import { Exposition } from '../../src/metrics/text-format.ts';
import { assertHistogramShape, histogram, parseExposition } from './exposition.ts';

test("the default buckets are client_golang's DefBuckets", () => {
  assert.deepEqual(DEFAULT_BUCKETS, [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]);
});

test('an observation lands in the first bucket whose bound it does not exceed; buckets are written cumulative', async () => {
  const h = new Histogram([0.1, 1, 10]);
  for (const v of [0, 0.1, 0.10001, 1, 5, 10, 10.5, 1000]) h.observe(v);
  assert.equal(h.count, 8);
  assert.equal(h.sum, 0 + 0.1 + 0.10001 + 1 + 5 + 10 + 10.5 + 1000);

  const out = new Exposition();
  h.write(out.family('x_seconds', 'histogram', 'A test histogram.'), 'k="v"');
  const text = out.text();
  assert.match(text, /^x_seconds_bucket\{k="v",le="0\.1"\} 2$/m, 'le is inclusive');
  assert.match(text, /^x_seconds_bucket\{k="v",le="1"\} 4$/m);
  assert.match(text, /^x_seconds_bucket\{k="v",le="10"\} 6$/m);
  assert.match(text, /^x_seconds_bucket\{k="v",le="\+Inf"\} 8$/m, 'above the last bound: only +Inf');
  assert.match(text, /^x_seconds_count\{k="v"\} 8$/m);
  const parsed = histogram(await parseExposition(text), 'x_seconds', { k: 'v' });
  assert.ok(parsed);
  assertHistogramShape(parsed, [0.1, 1, 10]);
  assert.equal(parsed.sum, h.sum);
});

test('an empty histogram writes zeros, and one without labels puts le alone', () => {
  const out = new Exposition();
  new Histogram([1]).write(out.family('y', 'histogram', 'Empty.'), '');
  assert.equal(out.text(), '# HELP y Empty.\n# TYPE y histogram\ny_bucket{le="1"} 0\ny_bucket{le="+Inf"} 0\ny_sum 0\ny_count 0\n');
});
