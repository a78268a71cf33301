// The status page as HTML: a pure function of the snapshot, every value
// escaped, nothing loaded from elsewhere, in the shared design.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ago, bytes, renderStatusPage } from '../../src/pages/status-page.ts';
import type { NapStatus, ServiceStatus, StatusSnapshot } from '../../src/pages/status-fields.ts';
import { renderDefaultPage } from '../../src/pages/pages.ts';

const NOW = '2026-09-01T12:00:00.000Z';
const MIB = 1024 * 1024;

function service(o: Partial<ServiceStatus> & { name: string }): ServiceStatus {
  return {
    hosts: [`${o.name}.example.com`],
    pathPrefixes: ['/'],
    tls: false,
    maintenance: 'running',
    stopMessage: '',
    targets: [{ address: '127.0.0.1:3000', health: 'healthy', inFlight: 0 }],
    readers: [],
    rollout: null,
    nap: null,
    ...o,
  };
}

function nap(o: Partial<NapStatus> = {}): NapStatus {
  return {
    state: 'stopped',
    runtime: 'process:stopped',
    activeRequests: 0,
    idleTimeoutSeconds: 900,
    lastActivityAt: '2026-09-01T11:57:00.000Z',
    wakes: 12,
    wakesSinceStart: { woken: 3, failed: 1 },
    medianWakeSeconds: 2.44,
    heldNow: 0,
    heldTotal: 5,
    memoryAtSleepBytes: 180 * MIB,
    ...o,
  };
}

function snapshot(services: ServiceStatus[], memoryGivenBackBytes = 0): StatusSnapshot {
  return { generatedAt: NOW, startedAt: '2026-09-01T10:00:00.000Z', memoryGivenBackBytes, services };
}

// The text of one service's row, tags removed.
function field(page: string, name: string, key: string): string {
  const section = page.slice(page.indexOf(`data-service="${name}"`));
  const m = section.match(new RegExp(`<dd data-field="${key}">([\\s\\S]*?)</dd>`));
  assert.ok(m, `${name}: no ${key}`);
  return m[1].replace(/<[^>]+>/g, '').replace(/\s+/g, ' ').trim();
}

test('every service with its hosts, paths, targets, maintenance and nap state', () => {
  const page = renderStatusPage(snapshot([
    service({ name: 'web', hosts: ['a.example.com', 'b.example.com'], pathPrefixes: ['/', '/api'], tls: true,
      targets: [{ address: '127.0.0.1:3000', health: 'healthy', inFlight: 2 }, { address: '127.0.0.1:3001', health: 'unhealthy', inFlight: 0 }],
      readers: [{ address: '127.0.0.1:4000', health: 'adding', inFlight: 0 }],
      rollout: { targets: [{ address: '127.0.0.1:5000', health: 'healthy', inFlight: 0 }], readers: [], split: { percentage: 10, allowlist: ['beta'] } } }),
    service({ name: 'shop', maintenance: 'stopped', stopMessage: 'Back at noon' }),
    service({ name: 'blog', hosts: [], nap: nap() }),
  ], 180 * MIB));

  assert.match(page, /^<!doctype html>/);
  assert.match(page, /<title>Status · kamal-napper<\/title>/);
  assert.equal(field(page, 'web', 'hosts'), 'a.example.com, b.example.com');
  assert.equal(field(page, 'web', 'paths'), '/, /api');
  assert.equal(field(page, 'web', 'tls'), 'on');
  assert.equal(field(page, 'web', 'targets'), '127.0.0.1:3000 healthy · 2 requests in flight127.0.0.1:3001 unhealthy');
  assert.equal(field(page, 'web', 'readers'), '127.0.0.1:4000 adding');
  assert.equal(field(page, 'web', 'rollout'), '10% of traffic and the cookies beta127.0.0.1:5000 healthy');
  assert.equal(field(page, 'web', 'nap-state'), 'not napping');
  assert.equal(field(page, 'shop', 'maintenance'), 'stopped · “Back at noon”');
  assert.match(page, /data-service="shop" data-maintenance="stopped" data-nap="none"/);

  assert.match(page, /data-service="blog" data-maintenance="running" data-nap="stopped"/);
  assert.equal(field(page, 'blog', 'hosts'), 'any host');
  assert.equal(field(page, 'blog', 'targets'), '127.0.0.1:3000 asleep', 'not health-checked while asleep');
  assert.equal(field(page, 'blog', 'nap-state'), 'stopped · naps after 15 min idle');
  assert.equal(field(page, 'blog', 'last-activity'), '3 min ago');
  assert.match(page, /<time datetime="2026-09-01T11:57:00.000Z">3 min ago<\/time>/);
  assert.equal(field(page, 'blog', 'wakes'), '12 in total · 3 since start · 1 failed');
  assert.equal(field(page, 'blog', 'median-wake'), '2.4 s');
  assert.equal(field(page, 'blog', 'memory-given-back'), '180 MiB');
  assert.match(page, /<p class="code" id="given-back">180 MiB<\/p>\n<h1>memory given back by 1 sleeping app<\/h1>/);
});

test('an awake napping app: activity now, no memory given back, no wakes yet', () => {
  const page = renderStatusPage(snapshot([
    service({ name: 'app', nap: nap({ state: 'running', activeRequests: 3, memoryAtSleepBytes: 0, medianWakeSeconds: null,
      wakesSinceStart: { woken: 0, failed: 0 }, idleTimeoutSeconds: 0, heldNow: 2 }) }),
  ]));
  assert.equal(field(page, 'app', 'nap-state'), 'running · never naps by itself');
  assert.equal(field(page, 'app', 'last-activity'), 'now · 3 requests in flight');
  assert.equal(field(page, 'app', 'wakes'), '12 in total · 0 since start · 2 requests held now');
  assert.equal(field(page, 'app', 'median-wake'), 'none yet');
  assert.equal(field(page, 'app', 'memory-given-back'), 'none (awake or unknown)');
  assert.match(page, /<span class="badge n-running">awake<\/span>/);
  assert.match(page, /<p class="code" id="given-back">0 B<\/p>/);
});

test('the operator\'s text is escaped everywhere', () => {
  const evil = '<script>alert("x")</script>&\'';
  const page = renderStatusPage(snapshot([
    service({ name: evil, hosts: [evil], pathPrefixes: [evil], maintenance: 'stopped', stopMessage: evil,
      targets: [{ address: evil, health: 'healthy', inFlight: 0 }],
      rollout: { targets: [], readers: [], split: { percentage: 5, allowlist: [evil] } },
      nap: nap({ runtime: evil }) }),
  ]));
  assert.doesNotMatch(page, /<script>alert/);
  assert.doesNotMatch(page, /"x"/);
  assert.equal(page.split('&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;&amp;&#39;').length - 1, 8);
  // The page's own script is the only one.
  assert.equal(page.split('<script>').length - 1, 1);
});

test('no services, and nothing loaded from elsewhere', () => {
  const page = renderStatusPage(snapshot([]));
  assert.match(page, /No services deployed\./);
  assert.doesNotMatch(page, /https?:|src=|<link|@import|url\(/);
  // Works without JavaScript: it refreshes itself.
  assert.match(page, /<noscript><meta http-equiv="refresh" content="\d+"><\/noscript>/);
});

test('one design: the status page has the error pages\' skeleton and stylesheet', () => {
  const page = renderStatusPage(snapshot([]));
  const shared = (html: string) => html.slice(html.indexOf('<style>'), html.indexOf('body.kn{') + 500);
  assert.equal(shared(page), shared(renderDefaultPage(404)));
  assert.match(page, /<body class="kn">/);
  assert.match(renderDefaultPage(503, 'm'), /<body class="kn">/);
});

test('relative times and sizes read as people write them', () => {
  assert.deepEqual([0, 4_999, 5_000, 59_000, 60_000, 3_599_000, 3_600_000, 47 * 3_600_000, 48 * 3_600_000].map(ago),
    ['just now', 'just now', '5 s ago', '59 s ago', '1 min ago', '59 min ago', '1 h ago', '47 h ago', '2 days ago']);
  assert.equal(ago(-5_000), 'just now', 'a clock a little ahead is not the future');
  assert.deepEqual([0, 1023, 1024, 1536, 10 * 1024, 180 * MIB, 1.5 * 1024 * MIB].map(bytes),
    ['0 B', '1023 B', '1.0 KiB', '1.5 KiB', '10 KiB', '180 MiB', '1.5 GiB']);
});
