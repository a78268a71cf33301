import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DEFAULT_BUCKETS } from '../../src/metrics/histogram.ts';
import { HttpMetrics, normalizeMethod } from '../../src/metrics/http-metrics.ts';
import { Exposition } from '../../src/metrics/text-format.ts';
import { assertHistogramShape, histogram, parseExposition, series, value } from './exposition.ts';

const text = (m: HttpMetrics) => {
  const out = new Exposition();
  m.write(out);
  return out.text();
};

// kamal-proxy's internal/metrics/metrics_test.go TestNormalizeMethod.
test('standard methods pass through; unknown, empty or OTHER become OTHER', () => {
  for (const method of ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'CONNECT', 'OPTIONS', 'TRACE']) assert.equal(normalizeMethod(method), method);
  for (const method of ['CUSTOM', 'OTHER', '', 'get', 'PURGE', undefined]) assert.equal(normalizeMethod(method), 'OTHER', String(method));
});

test("before any request there are no series, as a client_golang vector with no children writes none", () => {
  assert.equal(text(new HttpMetrics()), '');
});

test("kamal-proxy's three metrics: one series per service, method and status; the counter is the histogram's count", async () => {
  const m = new HttpMetrics();
  const app = m.service('app');
  app.started();
  app.started();
  app.ended();
  m.observe(app, 'GET', 200, 0.003);
  m.observe(app, 'GET', 200, 0.2);
  m.observe(app, 'POST', 201, 12);
  m.observe(app, 'PROPFIND', 200, 0.01);
  m.observe(app, 'OTHER', 200, 0.01);
  m.observe(m.unrouted, 'GET', 404, 0.001);
  const parsed = await parseExposition(text(m));

  assert.equal(parsed.kamal_proxy_http_requests_total?.help, 'HTTP requests processed, labeled by service, status code and method.');
  assert.equal(parsed.kamal_proxy_http_request_duration_seconds?.help, 'Duration of HTTP requests, labeled by service, status code and method.');
  assert.equal(parsed.kamal_proxy_http_in_flight_requests?.help, 'Number of in-flight HTTP requests, labeled by service.');
  assert.deepEqual(
    series(parsed, 'kamal_proxy_http_requests_total').map((s) => [s.labels, s.value]),
    [
      [{ method: 'GET', service: '', status: '404' }, 1],
      [{ method: 'GET', service: 'app', status: '200' }, 2],
      [{ method: 'OTHER', service: 'app', status: '200' }, 2],
      [{ method: 'POST', service: 'app', status: '201' }, 1],
    ],
  );
  // Only services that had a request in flight have a gauge; unrouted requests never do.
  assert.deepEqual(series(parsed, 'kamal_proxy_http_in_flight_requests').map((s) => [s.labels, s.value]), [[{ service: 'app' }, 1]]);

  const get = histogram(parsed, 'kamal_proxy_http_request_duration_seconds', { method: 'GET', service: 'app', status: '200' });
  assert.ok(get);
  assertHistogramShape(get, DEFAULT_BUCKETS);
  assert.equal(get.buckets['0.005'], 1);
  assert.equal(get.buckets['0.25'], 2);
  assert.equal(get.sum, 0.203);
  const post = histogram(parsed, 'kamal_proxy_http_request_duration_seconds', { method: 'POST', service: 'app', status: '201' });
  assert.ok(post);
  assert.equal(post.buckets['10'], 0, 'over 10 s: only +Inf');
  assert.equal(post.buckets['+Inf'], 1);
  assert.equal(value(parsed, 'kamal_proxy_http_requests_total', { method: 'DELETE', service: 'app', status: '200' }), undefined);
});

test('a service keeps its slots: the same service and label set is one series however often it is seen', async () => {
  const m = new HttpMetrics();
  assert.equal(m.service('app'), m.service('app'));
  for (let i = 0; i < 1000; i++) m.observe(m.service('app'), 'GET', 200, 0.001);
  const parsed = await parseExposition(text(m));
  assert.deepEqual(series(parsed, 'kamal_proxy_http_requests_total').map((s) => s.value), [1000]);
});

test('service names are escaped in label values', async () => {
  const m = new HttpMetrics();
  m.observe(m.service('we"ird\\name'), 'GET', 200, 0.001);
  assert.match(text(m), /service="we\\"ird\\\\name"/);
});
