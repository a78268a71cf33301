// Giving memory back after a burst: the policy interval by interval, the
// proxy counting its real requests into it, and V8's last-resort collection
// actually returning the heap.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { request } from 'undici';
import { IDLE_GC_MIN_REQUESTS } from '../../src/config/defaults.ts';
import { IdleGcPolicy } from '../../src/memory/idle-gc.ts';
import { v8Gc } from '../../src/memory/v8-gc.ts';
import { startBackend } from '../helpers/backend.ts';
import { deployParams, quietLogs, startTestProxy } from '../helpers/proxy.ts';

quietLogs();

// Which intervals (by index) the policy collects in, given requests per interval.
function collections(intervals: number[]): number[] {
  const policy = new IdleGcPolicy();
  return intervals.flatMap((requests, i) => (policy.interval(requests) ? [i] : []));
}

test('the first interval collects what start-up left, busy or not', () => {
  assert.deepEqual(collections([0]), [0]);
  assert.deepEqual(collections([50_000]), [0]);
});

test('a burst followed by a quiet interval collects once', () => {
  assert.deepEqual(collections([0, 20_000, 30_000, 25_000, 100, 0, 0]), [0, 4]);
  // Quiet means under a tenth of the busiest interval since the last collection.
  assert.deepEqual(collections([0, 20_000, 2_000]), [0]);
  assert.deepEqual(collections([0, 20_000, 1_999]), [0, 2]);
});

test('steady traffic and a trickle never collect', () => {
  assert.deepEqual(collections([0, ...Array(100).fill(5_000)]), [0]);
  assert.deepEqual(collections([0, ...Array(1_000).fill(3)]), [0]);
});

test(`a burst of fewer than ${IDLE_GC_MIN_REQUESTS} requests is not worth a collection until more follow`, () => {
  const small = IDLE_GC_MIN_REQUESTS / 2;
  assert.deepEqual(collections([0, small, 0, 0]), [0]);
  assert.deepEqual(collections([0, small, 0, small, 0]), [0, 4]);
});

test('after a collection it takes a new burst', () => {
  assert.deepEqual(collections([0, 10_000, 0, 0, 0, 10_000, 0]), [0, 2, 6]);
});

test('the proxy counts the requests it serves into the policy', async (t) => {
  const backend = await startBackend('app');
  const collected: number[] = [];
  let served = 0;
  // The timer never fires during the test; it steps the intervals itself.
  const proxy = await startTestProxy(undefined, { idleGc: { intervalMs: 3_600_000, collect: () => collected.push(served) } });
  t.after(async () => {
    await proxy.stop();
    await backend.close();
  });
  await proxy.router.deploy(deployParams('app', [backend.address]));

  proxy.idleGc.check(); // start-up
  assert.deepEqual(collected, [0]);
  for (let i = 0; i < IDLE_GC_MIN_REQUESTS / 50; i++) {
    await Promise.all(
      Array.from({ length: 50 }, async () => {
        const res = await request(proxy.url('/'));
        assert.equal(await res.body.text(), 'app');
        served++;
      }),
    );
  }
  proxy.idleGc.check(); // the busy interval
  assert.deepEqual(collected, [0], 'no collection while busy');
  proxy.idleGc.check(); // quiet: collect
  assert.deepEqual(collected, [0, IDLE_GC_MIN_REQUESTS]);
  proxy.idleGc.check();
  assert.deepEqual(collected, [0, IDLE_GC_MIN_REQUESTS], 'once');
});

test("V8's last-resort collection gives the heap back", () => {
  const gc = v8Gc();
  gc({ type: 'major', flavor: 'last-resort' });
  const before = process.memoryUsage().heapTotal;
  let garbage: object[] | null = Array.from({ length: 1_000_000 }, (_, i) => ({ i, s: `item ${i}` }));
  const grown = process.memoryUsage().heapTotal;
  assert.ok(grown - before > 40 * 1024 * 1024, `the heap grew by ${((grown - before) / 1048576).toFixed(1)} MiB`);
  garbage = null;
  gc({ type: 'major', flavor: 'last-resort' });
  const after = process.memoryUsage().heapTotal;
  assert.equal(garbage, null);
  assert.ok(after - before < (grown - before) / 4, `heap total ${(before / 1048576).toFixed(1)} → ${(grown / 1048576).toFixed(1)} → ${(after / 1048576).toFixed(1)} MiB`);
});
