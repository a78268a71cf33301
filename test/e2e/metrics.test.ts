// `kamal-proxy run --metrics-port`, the real executable: kamal-proxy's
// request metrics (names, labels, OTHER, service="", 499, excluded paths, the
// in-flight gauge), the process metrics, napping's own metrics, all scraped
// over HTTP and read with an npm Prometheus text parser; the status page and
// its JSON on the same port; the port from the environment.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import { join } from 'node:path';
import { test } from 'node:test';
import { request } from 'undici';
import { DEFAULT_BUCKETS } from '../../src/metrics/histogram.ts';
import { WAKE_DURATION_BUCKETS } from '../../src/nap/nap-stats.ts';
import { startBackend } from '../helpers/backend.ts';
import { freePort } from '../helpers/free-port.ts';
import { napApp } from '../helpers/nap.ts';
import { cli, spawnProxy } from '../helpers/proxy.ts';
import { rawExchange } from '../helpers/raw-http.ts';
import { scratchDir } from '../helpers/scratch-dir.ts';
import { waitFor } from '../helpers/wait.ts';
import { assertHistogramShape, histogram, parseExposition, type PromMetrics, series, value } from '../metrics/exposition.ts';

const CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';
const MiB = 1024 * 1024;

async function environment() {
  const home = scratchDir('kn-metrics-');
  const env = { HOME: home, KAMAL_PROXY_SOCKET: join(home, 'kamal-proxy.sock'), KAMAL_PROXY_HTTPS_PORT: String(await freePort()) };
  return { home, env, port: await freePort(), metricsPort: await freePort() };
}

async function scrape(metricsPort: number, path = '/metrics'): Promise<PromMetrics> {
  const res = await request(`http://127.0.0.1:${metricsPort}${path}`);
  assert.equal(res.statusCode, 200);
  assert.equal(res.headers['content-type'], CONTENT_TYPE);
  return parseExposition(await res.body.text());
}

async function deploy(env: NodeJS.ProcessEnv, args: string[]): Promise<void> {
  const r = await cli(['deploy', ...args], env);
  assert.deepEqual([r.code, r.stderr], [0, ''], r.stdout);
}

// A client that reads the response head, then goes away mid-body.
function leaveMidResponse(port: number, host: string, path: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path, headers: { host }, agent: false }, (res) => {
      res.once('data', () => {
        req.destroy();
        resolve();
      });
    });
    req.on('error', (err: NodeJS.ErrnoException) => (err.code === 'ECONNRESET' ? resolve() : reject(err)));
  });
}

test("kamal-proxy's request metrics: per service, method and status, with OTHER, service=\"\", 499, excluded paths and the in-flight gauge", async (t) => {
  const { env, port, metricsPort } = await environment();
  let release!: () => void;
  const released = new Promise<void>((resolve) => (release = resolve));
  const backend = await startBackend('web', {
    route: (req, res) => {
      if (req.url === '/slow') {
        void released.then(() => res.end('slow'));
        return true;
      }
      if (req.url === '/partial') {
        res.writeHead(200, { 'Content-Type': 'text/plain' });
        res.write('the first part, and no more');
        return true;
      }
    },
  });
  t.after(() => backend.close());
  const proxy = await spawnProxy([`--http-port=${port}`, `--metrics-port=${metricsPort}`], env, t);
  await deploy(env, ['web', `--target=${backend.address}`, '--host=web.example.com', '--exclude-metrics-path=/excluded']);
  // Excluded paths are the ones the target sees: the prefix stripped.
  await deploy(env, ['api', `--target=${backend.address}`, '--host=api.example.com', '--path-prefix=/api', '--exclude-metrics-path=/ping']);

  const get = async (host: string, path: string, method = 'GET') => {
    const res = await request(`http://127.0.0.1:${port}${path}`, { method, headers: { host } });
    await res.body.dump();
    return res.statusCode;
  };
  for (let i = 0; i < 3; i++) assert.equal(await get('web.example.com', `/page/${i}`), 200);
  assert.equal(await get('web.example.com', '/', 'POST'), 200);
  assert.equal(await get('web.example.com', '/', 'PURGE'), 200); // not one of Go's method constants
  assert.equal(await get('nothing.example.com', '/'), 404);
  assert.match(await rawExchange(port, 'GET / HTTP/1.1\r\nHost: not a host\r\nConnection: close\r\n\r\n'), /^HTTP\/1\.1 400 /);
  assert.equal(await get('web.example.com', '/excluded'), 200);
  assert.equal(await get('web.example.com', '/excluded'), 200);
  assert.equal(await get('api.example.com', '/api/ping'), 200);
  assert.equal(await get('api.example.com', '/api/pong'), 200);
  await leaveMidResponse(port, 'web.example.com', '/partial');

  // A request in flight shows in the gauge until it ends.
  const slow = get('web.example.com', '/slow');
  await waitFor(async () => value(await scrape(metricsPort), 'kamal_proxy_http_in_flight_requests', { service: 'web' }) === 1, 5_000);
  const during = await scrape(metricsPort, '/anything/at/all?x=1');
  assert.equal(value(during, 'kamal_proxy_http_in_flight_requests', { service: 'api' }), 0);
  await new Promise((r) => setTimeout(r, 300));
  release();
  assert.equal(await slow, 200);

  let m!: PromMetrics;
  await waitFor(async () => {
    m = await scrape(metricsPort);
    return value(m, 'kamal_proxy_http_requests_total', { method: 'GET', service: 'web', status: '499' }) === 1 && value(m, 'kamal_proxy_http_in_flight_requests', { service: 'web' }) === 0;
  }, 5_000);
  assert.deepEqual(
    series(m, 'kamal_proxy_http_requests_total').map((s) => [s.labels.method, s.labels.service, s.labels.status, s.value]),
    [
      ['GET', '', '400', 1],
      ['GET', '', '404', 1],
      ['GET', 'api', '200', 1],
      ['GET', 'web', '200', 4],
      ['GET', 'web', '499', 1],
      ['OTHER', 'web', '200', 1],
      ['POST', 'web', '200', 1],
    ],
    'the excluded requests are not counted',
  );
  assert.deepEqual(series(m, 'kamal_proxy_http_in_flight_requests').map((s) => [s.labels.service, s.value]), [['api', 0], ['web', 0]]);
  for (const s of series(m, 'kamal_proxy_http_requests_total')) {
    const h = histogram(m, 'kamal_proxy_http_request_duration_seconds', s.labels);
    assert.ok(h, JSON.stringify(s.labels));
    assertHistogramShape(h, DEFAULT_BUCKETS);
    assert.equal(h.count, s.value, 'the counter is the histogram count');
  }
  const web = histogram(m, 'kamal_proxy_http_request_duration_seconds', { method: 'GET', service: 'web', status: '200' })!;
  assert.ok((web.sum ?? 0) >= 0.3, `the held request took its time: ${web.sum}`);
  assert.ok(web.buckets['0.25']! <= 3 && web.buckets['10'] === 4);
  assert.equal(m.kamal_proxy_http_requests_total!.help, 'HTTP requests processed, labeled by service, status code and method.');

  // The process and napping metrics are there too.
  assert.ok(value(m, 'process_resident_memory_bytes')! > 10 * MiB);
  assert.ok(value(m, 'process_cpu_seconds_total')! > 0);
  assert.equal(value(m, 'nodejs_version_info', { version: process.version, major: process.versions.node.split('.')[0]!, minor: process.versions.node.split('.')[1]!, patch: process.versions.node.split('.')[2]! }), 1);
  assert.equal(value(m, 'kamal_napper_services', { state: 'running' }), 0);

  // Excluded requests are still logged; the metrics port's own requests never are.
  const lines = proxy.output().split('\n').filter((l) => l.includes('"msg":"Request"'));
  assert.equal(lines.filter((l) => l.includes('"path":"/excluded"')).length, 2);
  assert.equal(lines.filter((l) => l.includes('"path":"/api/ping"')).length, 1);
  assert.equal(lines.filter((l) => l.includes('"status":499')).length, 1);
  assert.ok(!lines.some((l) => l.includes('/metrics') || l.includes('/anything')), 'scrapes are not logged');
  assert.match(proxy.output(), new RegExp(`"msg":"Metrics enabled","address":":${metricsPort}"`));
});

test('the metrics port also serves the status page to browsers and /status.json to scripts', async (t) => {
  const { env, port, metricsPort } = await environment();
  const backend = await startBackend('web');
  t.after(() => backend.close());
  await spawnProxy([`--http-port=${port}`, `--metrics-port=${metricsPort}`], env, t);
  await deploy(env, ['web', `--target=${backend.address}`, '--host=web.example.com']);

  const json = await request(`http://127.0.0.1:${metricsPort}/status.json`);
  assert.equal(json.headers['content-type'], 'application/json');
  const status = (await json.body.json()) as { services: { name: string }[] };
  assert.deepEqual(status.services.map((s) => s.name), ['web']);
  const page = await request(`http://127.0.0.1:${metricsPort}/`, { headers: { accept: 'text/html,application/xhtml+xml,*/*;q=0.8' } });
  assert.equal(page.headers['content-type'], 'text/html; charset=utf-8');
  assert.match(await page.body.text(), /web/);
  // Without text/html in Accept (Prometheus, curl), / is the metrics.
  const plain = await request(`http://127.0.0.1:${metricsPort}/`);
  assert.equal(plain.headers['content-type'], CONTENT_TYPE);
  await plain.body.dump();
});

test('KAMAL_PROXY_METRICS_PORT or METRICS_PORT starts the metrics port; without either there is none', async (t) => {
  for (const name of ['KAMAL_PROXY_METRICS_PORT', 'METRICS_PORT']) {
    const { env, port, metricsPort } = await environment();
    const proxy = await spawnProxy([`--http-port=${port}`], { ...env, [name]: String(metricsPort) }, t);
    const m = await scrape(metricsPort);
    assert.ok(value(m, 'process_start_time_seconds')! > 0, name);
    proxy.child.kill('SIGTERM');
    await new Promise((resolve) => proxy.child.once('exit', resolve));
  }
  const { env, port } = await environment();
  const proxy = await spawnProxy([`--http-port=${port}`], env, t);
  assert.doesNotMatch(proxy.output(), /Metrics enabled/);
});

test('napping metrics: a process app that sleeps gives its memory back, and a held request wakes it', async (t) => {
  const { home, env, port, metricsPort } = await environment();
  // Its boot takes a second, so the wake can be watched from a scrape.
  const app = await napApp(home, 'sleepy', { READY_DELAY_MS: '1000' });
  t.after(() => killStarted(app.startLog));
  await spawnProxy([`--http-port=${port}`, `--metrics-port=${metricsPort}`], env, t);
  await deploy(env, ['sleepy', `--target=${app.address}`, '--host=sleepy.example.com', '--idle-timeout=1s', '--wake-timeout=30s', `--nap-command=${app.command}`]);
  try {
    let m!: PromMetrics;
    await waitFor(async () => {
      m = await scrape(metricsPort);
      return value(m, 'kamal_napper_services', { state: 'stopped' }) === 1;
    }, 15_000);
    const atSleep = value(m, 'kamal_napper_memory_at_sleep_bytes', { service: 'sleepy' })!;
    assert.ok(atSleep > 10 * MiB && atSleep < 4096 * MiB, `the app's memory when it was put to sleep: ${atSleep}`);
    assert.equal(value(m, 'kamal_napper_memory_given_back_bytes'), atSleep);
    assert.equal(value(m, 'kamal_napper_wakes_total', { service: 'sleepy', outcome: 'woken' }), 0, 'the deploy start is not a wake');

    // Not a browser: the request is held while the app wakes.
    const held = request(`http://127.0.0.1:${port}/`, { headers: { host: 'sleepy.example.com', accept: 'application/json' } });
    await waitFor(async () => {
      m = await scrape(metricsPort);
      return value(m, 'kamal_napper_requests_held', { service: 'sleepy' }) === 1;
    }, 10_000);
    assert.equal(value(m, 'kamal_napper_services', { state: 'starting' }), 1);
    assert.equal(value(m, 'kamal_napper_memory_given_back_bytes'), 0, 'waking: not given back any more');
    const res = await held;
    assert.deepEqual([res.statusCode, await res.body.text()], [200, 'hello from sleepy']);

    m = await scrape(metricsPort);
    assert.equal(value(m, 'kamal_napper_wakes_total', { service: 'sleepy', outcome: 'woken' }), 1);
    assert.equal(value(m, 'kamal_napper_wakes_total', { service: 'sleepy', outcome: 'failed' }), 0);
    const wake = histogram(m, 'kamal_napper_wake_duration_seconds', { service: 'sleepy' });
    assert.ok(wake);
    assertHistogramShape(wake, WAKE_DURATION_BUCKETS);
    assert.equal(wake.count, 1);
    assert.ok((wake.sum ?? 0) >= 1 && (wake.sum ?? 0) < 30, `the wake took the app's boot: ${wake.sum}`);
    assert.equal(value(m, 'kamal_napper_held_requests_total', { service: 'sleepy' }), 1);
    assert.equal(value(m, 'kamal_napper_requests_held', { service: 'sleepy' }), 0);
    assert.equal(value(m, 'kamal_napper_memory_at_sleep_bytes', { service: 'sleepy' }), 0, 'awake');
    assert.equal((value(m, 'kamal_napper_services', { state: 'running' }) ?? 0) + (value(m, 'kamal_napper_services', { state: 'idle' }) ?? 0), 1);
    const proxied = histogram(m, 'kamal_proxy_http_request_duration_seconds', { method: 'GET', service: 'sleepy', status: '200' });
    assert.ok(proxied && proxied.count === 1 && (proxied.sum ?? 0) >= 1, 'the held request counts its wait');
  } finally {
    await cli(['remove', 'sleepy'], env); // stops the app
  }
});

// Whatever the test did, no app it started outlives it.
function killStarted(startLog: string): void {
  let pids: number[] = [];
  try {
    pids = readFileSync(startLog, 'utf8').split('\n').filter(Boolean).map(Number);
  } catch {}
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {}
  }
}
