import assert from 'node:assert/strict';
import { test } from 'node:test';
import { writeNapMetrics } from '../../src/metrics/nap-metrics.ts';
import { Exposition } from '../../src/metrics/text-format.ts';
import { NapStats, WAKE_DURATION_BUCKETS } from '../../src/nap/nap-stats.ts';
import { assertHistogramShape, histogram, parseExposition, series, value } from './exposition.ts';

test('with no napping service: every state counts 0 and nothing is given back', async () => {
  const out = new Exposition();
  writeNapMetrics(out, []);
  const parsed = await parseExposition(out.text());
  assert.deepEqual(
    series(parsed, 'kamal_napper_services').map((s) => [s.labels.state, s.value]),
    [['idle', 0], ['running', 0], ['starting', 0], ['stopped', 0], ['stopping', 0]],
  );
  assert.equal(value(parsed, 'kamal_napper_memory_given_back_bytes'), 0);
  assert.equal(parsed.kamal_napper_wakes_total, undefined);
});

test('per napping service: wakes by outcome, wake durations, held requests, and memory only while asleep', async () => {
  const asleep = new NapStats();
  asleep.recordWake('woken', 1.2);
  asleep.recordWake('woken', 75);
  asleep.recordWake('failed', 60);
  asleep.heldTotal = 3;
  asleep.memoryAtSleepBytes = 50 * 1024 * 1024;
  const awake = new NapStats();
  awake.heldNow = 2;
  awake.heldTotal = 2;
  awake.memoryAtSleepBytes = 1234; // stale: the app is awake, so nothing is given back
  const sample = (service: string, state: string, s: NapStats) => ({ service, state, wakes: s.wakes, wakeDuration: s.wakeDuration, heldNow: s.heldNow, heldTotal: s.heldTotal, memoryAtSleepBytes: s.memoryAtSleepBytes });

  const out = new Exposition();
  writeNapMetrics(out, [sample('web', 'starting', awake), sample('blog', 'stopped', asleep), sample('docs', 'stopped', new NapStats())]);
  const parsed = await parseExposition(out.text());

  assert.equal(value(parsed, 'kamal_napper_services', { state: 'stopped' }), 2);
  assert.equal(value(parsed, 'kamal_napper_services', { state: 'starting' }), 1);
  assert.equal(value(parsed, 'kamal_napper_services', { state: 'running' }), 0);
  assert.equal(value(parsed, 'kamal_napper_wakes_total', { service: 'blog', outcome: 'woken' }), 2);
  assert.equal(value(parsed, 'kamal_napper_wakes_total', { service: 'blog', outcome: 'failed' }), 1);
  assert.equal(value(parsed, 'kamal_napper_wakes_total', { service: 'web', outcome: 'woken' }), 0);
  const blog = histogram(parsed, 'kamal_napper_wake_duration_seconds', { service: 'blog' });
  assert.ok(blog);
  assertHistogramShape(blog, WAKE_DURATION_BUCKETS);
  assert.deepEqual([blog.count, blog.sum, blog.buckets['2'], blog.buckets['60']], [2, 76.2, 1, 1], 'failed wakes are not timed');
  assert.equal(value(parsed, 'kamal_napper_held_requests_total', { service: 'blog' }), 3);
  assert.equal(value(parsed, 'kamal_napper_requests_held', { service: 'web' }), 2);
  assert.equal(value(parsed, 'kamal_napper_memory_at_sleep_bytes', { service: 'blog' }), 50 * 1024 * 1024);
  assert.equal(value(parsed, 'kamal_napper_memory_at_sleep_bytes', { service: 'web' }), 0);
  assert.equal(value(parsed, 'kamal_napper_memory_at_sleep_bytes', { service: 'docs' }), 0, 'asleep, memory unknown');
  assert.equal(value(parsed, 'kamal_napper_memory_given_back_bytes'), 50 * 1024 * 1024);
});
