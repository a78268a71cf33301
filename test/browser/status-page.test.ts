// The status page in a real browser, from the real executable: `run
// --metrics-port` serves it at / and its JSON at /status.json. It shows every
// service with its hosts and states, and follows changes live (a nap, a
// stop) without reloading. Requires /usr/bin/chromium (skipped without it;
// see test/helpers/browser.ts).
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { request } from 'undici';
import type { StatusSnapshot } from '../../src/status/status-snapshot.ts';
import { startBackend } from '../helpers/backend.ts';
import type { Backend } from '../helpers/backend.ts';
import { browserSkip, launchBrowser } from '../helpers/browser.ts';
import { freePort } from '../helpers/free-port.ts';
import { napApp } from '../helpers/nap.ts';
import { cli, spawnProxy } from '../helpers/proxy.ts';
import { scratchDir } from '../helpers/scratch-dir.ts';

// How long the page may take to show a change: it refreshes every 2 s.
const LIVE_TIMEOUT_MS = 10_000;

describe('status page in a real browser', { skip: browserSkip() }, () => {
  const hooks: (() => void)[] = [];
  let env: NodeJS.ProcessEnv;
  let metricsUrl: string;
  let web: Backend;
  let browser: Browser;
  const contexts: BrowserContext[] = [];

  before(async () => {
    const home = scratchDir('kn-status-page-');
    env = { HOME: home, KAMAL_PROXY_SOCKET: join(home, 'kamal-proxy.sock'), KAMAL_PROXY_HTTPS_PORT: String(await freePort()) };
    const metricsPort = await freePort();
    metricsUrl = `http://127.0.0.1:${metricsPort}`;
    await spawnProxy([`--http-port=${await freePort()}`, `--metrics-port=${metricsPort}`], env, { after: (fn) => void hooks.push(fn) });

    web = await startBackend('web');
    await deploy(['web', `--target=${web.address}`, '--host=web.example.com', '--host=www.example.com']);
    const sleepy = await napApp(home, 'sleepy');
    await deploy(['sleepy', `--target=${sleepy.address}`, '--host=sleepy.example.com', '--idle-timeout=0', `--nap-command=${sleepy.command}`]);
    browser = await launchBrowser();
  });
  after(async () => {
    for (const c of contexts) await c.close().catch(() => {});
    await browser?.close().catch(() => {});
    await cli(['remove', 'sleepy'], env); // stops its app
    for (const fn of hooks) fn(); // kills the proxy
    await web?.close();
  });

  async function deploy(args: string[]): Promise<void> {
    const r = await cli(['deploy', ...args], env);
    assert.equal(r.code, 0, r.stderr);
  }

  async function statusJson(): Promise<StatusSnapshot> {
    const res = await request(`${metricsUrl}/status.json`);
    assert.equal(res.statusCode, 200);
    assert.match(String(res.headers['content-type']), /^application\/json/);
    return (await res.body.json()) as StatusSnapshot;
  }

  async function open(o: { javaScriptEnabled?: boolean } = {}): Promise<Page> {
    const context = await browser.newContext({ viewport: { width: 1000, height: 900 }, ...o });
    contexts.push(context);
    const page = await context.newPage();
    page.setDefaultTimeout(15_000);
    const res = await page.goto(`${metricsUrl}/`, { waitUntil: 'domcontentloaded' });
    assert.equal(res?.status(), 200);
    assert.match(String(res?.headers()['content-type']), /^text\/html/);
    return page;
  }

  const service = (page: Page, name: string) => page.locator(`section[data-service="${name}"]`);

  test('shows every service with its hosts, targets and states, and follows a nap and a stop live', async () => {
    const page = await open();
    assert.match(await page.title(), /Status/);
    await assert.doesNotReject(service(page, 'web').waitFor());
    assert.equal(await service(page, 'web').locator('[data-field="hosts"]').innerText(), 'web.example.com, www.example.com');
    assert.match(await service(page, 'web').locator('[data-field="targets"]').innerText(), new RegExp(`${web.address} healthy`));
    assert.equal(await service(page, 'web').locator('[data-field="maintenance"]').innerText(), 'running');
    assert.equal(await service(page, 'web').locator('[data-field="nap-state"]').innerText(), 'not napping');
    assert.equal(await service(page, 'sleepy').locator('[data-field="hosts"]').innerText(), 'sleepy.example.com');
    assert.match(await service(page, 'sleepy').locator('[data-field="nap-state"]').innerText(), /^(idle|running) · never naps by itself$/);

    // Everything from here happens in this same document: a reload would lose the mark.
    await page.evaluate(() => void Reflect.set(window, 'sameDocumentMark', true));
    let navigations = 0;
    page.on('framenavigated', (f) => {
      if (f === page.mainFrame()) navigations++;
    });

    assert.equal((await cli(['nap', 'sleepy'], env)).code, 0);
    await page.waitForSelector('section[data-service="sleepy"][data-nap="stopped"]', { timeout: LIVE_TIMEOUT_MS });
    assert.match(await service(page, 'sleepy').locator('h2').innerText(), /asleep/);
    assert.match(await service(page, 'sleepy').locator('[data-field="memory-given-back"]').innerText(), /^[\d.]+ (KiB|MiB|GiB)$/);
    assert.match(await page.locator('#given-back').innerText(), /^[\d.]+ (KiB|MiB|GiB)$/);

    assert.equal((await cli(['stop', 'web', '--message=Back at noon'], env)).code, 0);
    await page.waitForSelector('section[data-service="web"][data-maintenance="stopped"]', { timeout: LIVE_TIMEOUT_MS });
    assert.equal(await service(page, 'web').locator('[data-field="maintenance"]').innerText(), 'stopped · “Back at noon”');

    assert.equal(await page.evaluate(() => Reflect.get(window, 'sameDocumentMark')), true, 'not reloaded');
    assert.equal(navigations, 0, 'no navigation');
    assert.equal((await cli(['resume', 'web'], env)).code, 0);
  });

  test('/status.json has the documented fields', async () => {
    const s = await statusJson();
    assert.deepEqual(Object.keys(s), ['generatedAt', 'startedAt', 'memoryGivenBackBytes', 'services']);
    assert.deepEqual(s.services.map((v) => v.name), ['sleepy', 'web']);
    const [sleepy, webStatus] = s.services as [StatusSnapshot['services'][0], StatusSnapshot['services'][0]];
    assert.deepEqual(webStatus, {
      name: 'web',
      hosts: ['web.example.com', 'www.example.com'],
      pathPrefixes: ['/'],
      tls: false,
      maintenance: 'running',
      stopMessage: '',
      targets: [{ address: web.address, health: 'healthy', inFlight: 0 }],
      readers: [],
      rollout: null,
      nap: null,
    });
    assert.equal(sleepy.nap?.state, 'stopped');
    assert.deepEqual(Object.keys(sleepy.nap!), [
      'state', 'runtime', 'activeRequests', 'idleTimeoutSeconds', 'lastActivityAt', 'wakes', 'wakesSinceStart',
      'medianWakeSeconds', 'heldNow', 'heldTotal', 'memoryAtSleepBytes',
    ]);
    assert.ok(sleepy.nap!.memoryAtSleepBytes > 0);
    assert.equal(s.memoryGivenBackBytes, sleepy.nap!.memoryAtSleepBytes);
  });

  test('without JavaScript it is a plain page', async () => {
    const page = await open({ javaScriptEnabled: false });
    assert.equal(await service(page, 'web').count(), 1);
    assert.equal(await service(page, 'sleepy').getAttribute('data-nap'), 'stopped');
    assert.equal(await page.locator('noscript').count(), 1);
  });
});
