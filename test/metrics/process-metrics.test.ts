import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ProcessMetrics, versionLabels } from '../../src/metrics/process-metrics.ts';
import { Exposition } from '../../src/metrics/text-format.ts';
import { parseExposition, value } from './exposition.ts';

test("the process under prom-client's default names, read at scrape time", async (t) => {
  const metrics = new ProcessMetrics();
  t.after(() => metrics.close());
  // Some event-loop delay samples to report.
  await new Promise((r) => setTimeout(r, 50));
  const out = new Exposition();
  await metrics.write(out);
  const parsed = await parseExposition(out.text());

  const types = Object.fromEntries(Object.entries(parsed).map(([name, m]) => [name, m.type]));
  assert.deepEqual(types, {
    nodejs_active_resources_total: 'gauge',
    nodejs_eventloop_lag_max_seconds: 'gauge',
    nodejs_eventloop_lag_mean_seconds: 'gauge',
    nodejs_eventloop_lag_min_seconds: 'gauge',
    nodejs_eventloop_lag_p50_seconds: 'gauge',
    nodejs_eventloop_lag_p90_seconds: 'gauge',
    nodejs_eventloop_lag_p99_seconds: 'gauge',
    nodejs_eventloop_lag_seconds: 'gauge',
    nodejs_eventloop_lag_stddev_seconds: 'gauge',
    nodejs_external_memory_bytes: 'gauge',
    nodejs_heap_size_total_bytes: 'gauge',
    nodejs_heap_size_used_bytes: 'gauge',
    nodejs_version_info: 'gauge',
    process_cpu_seconds_total: 'counter',
    process_cpu_system_seconds_total: 'counter',
    process_cpu_user_seconds_total: 'counter',
    process_heap_bytes: 'gauge',
    process_max_fds: 'gauge',
    process_open_fds: 'gauge',
    process_resident_memory_bytes: 'gauge',
    process_start_time_seconds: 'gauge',
    process_virtual_memory_bytes: 'gauge',
  });
  const v = (name: string, labels?: Record<string, string>) => value(parsed, name, labels)!;
  assert.ok(v('process_resident_memory_bytes') > 1024 * 1024);
  assert.ok(v('process_virtual_memory_bytes') >= v('process_resident_memory_bytes'));
  assert.ok(Math.abs(v('process_cpu_seconds_total') - v('process_cpu_user_seconds_total') - v('process_cpu_system_seconds_total')) < 1e-6);
  assert.ok(Math.abs(v('process_start_time_seconds') - (Date.now() / 1000 - process.uptime())) < 2);
  assert.ok(v('process_open_fds') > 2 && v('process_open_fds') <= v('process_max_fds'));
  assert.ok(v('nodejs_heap_size_used_bytes') <= v('nodejs_heap_size_total_bytes'));
  assert.ok(v('nodejs_eventloop_lag_seconds') >= 0);
  assert.ok(v('nodejs_eventloop_lag_p99_seconds') >= v('nodejs_eventloop_lag_p50_seconds'));
  assert.ok(v('nodejs_eventloop_lag_p50_seconds') > 0, 'the delay monitor has samples');
  assert.equal(v('nodejs_version_info', versionLabels(process.version)), 1);
});

test('the version labels are those of prom-client', () => {
  assert.deepEqual(versionLabels('v24.21.0'), { version: 'v24.21.0', major: '24', minor: '21', patch: '0' });
});
