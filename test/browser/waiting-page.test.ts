// The waiting page in a real browser: a navigation to a sleeping app shows
// the page at once, the page follows the wake live over its event stream, and
// it loads the app by itself (one reload, same URL) the moment it is ready.
// Requires /usr/bin/chromium (skipped without it; see test/helpers/browser.ts).
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Browser, BrowserContext, Page, Response } from 'playwright-core';
import { browserSkip, launchBrowser } from '../helpers/browser.ts';
import { napApp, napRequest } from '../helpers/nap.ts';
import { deployParams, quietLogs, startTestProxy } from '../helpers/proxy.ts';
import type { TestProxy } from '../helpers/proxy.ts';
import { scratchDir } from '../helpers/scratch-dir.ts';

quietLogs();

// The app listens only this long after its start, so the page has time to
// show progress (probes run every 25 ms; the page gets an update every 8).
const READY_DELAY_MS = 1_500;

// Records every text #step shows, from inside the page: a MutationObserver
// misses no update and, unlike polling from the test, cannot race the page's
// own reload. Runs in every document the page loads; only the waiting page
// has a #step.
const RECORD_STEPS = `
  document.addEventListener('DOMContentLoaded', () => {
    const step = document.getElementById('step');
    if (step === null) return;
    window.__recordStep(step.textContent);
    new MutationObserver(() => window.__recordStep(step.textContent))
      .observe(step, { childList: true, characterData: true, subtree: true });
  });
`;

interface Watched {
  page: Page;
  steps: string[];
  documents: { url: string; status: number }[]; // every top-level document the page loaded
}

describe('waiting page in a real browser', { skip: browserSkip() }, () => {
  let proxy: TestProxy;
  let dir: string;
  let browser: Browser;
  const contexts: BrowserContext[] = [];

  before(async () => {
    dir = scratchDir('kn-browser-');
    proxy = await startTestProxy(dir);
    browser = await launchBrowser();
  });
  after(async () => {
    // The browser first, so no page reloads (and wakes) an app being removed.
    for (const c of contexts) await c.close().catch(() => {});
    await browser?.close().catch(() => {});
    if (proxy) {
      for (const s of proxy.router.napStatus()) await proxy.router.remove(s.service).catch(() => {});
      await proxy.stop();
    }
  });

  async function watchedPage(): Promise<Watched> {
    const context = await browser.newContext({ viewport: { width: 800, height: 500 } });
    contexts.push(context);
    const page = await context.newPage();
    page.setDefaultTimeout(15_000);
    const steps: string[] = [];
    const documents: Watched['documents'] = [];
    await page.exposeFunction('__recordStep', (text: string) => void steps.push(text));
    await page.addInitScript(RECORD_STEPS);
    page.on('response', (r: Response) => {
      if (r.request().isNavigationRequest() && r.frame() === page.mainFrame()) documents.push({ url: r.url(), status: r.status() });
    });
    return { page, steps, documents };
  }

  // Nobody is ever routed by Host here: the browser goes to 127.0.0.1, so
  // the app is the catch-all (or a catch-all path prefix).
  async function deploySleeping(name: string, o: { readyDelayMs?: number; before?: string; pathPrefixes?: string[] } = {}) {
    const app = await napApp(dir, name, { READY_DELAY_MS: String(o.readyDelayMs ?? 0) }, o.before);
    const options = o.pathPrefixes ? { pathPrefixes: o.pathPrefixes } : {};
    await proxy.router.deploy({
      ...deployParams(name, [app.address], { options, deployTimeoutMs: 10_000 }),
      nap: napRequest({ command: app.command, idleTimeoutMs: 0 }),
    });
    await proxy.router.napNap(name);
    assert.equal(proxy.router.service(name)!.napper!.state, 'stopped');
    return app;
  }

  test('shows live progress, then lands on the app at the same URL without a manual reload', async (t) => {
    const app = await deploySleeping('sleeper', { readyDelayMs: READY_DELAY_MS });
    const startsBefore = app.starts();
    const { page, steps, documents } = await watchedPage();
    const url = proxy.url('/some/path?tab=2');

    const first = await page.goto(url, { waitUntil: 'domcontentloaded' });
    assert.equal(first?.status(), 503, 'the first answer is the waiting page');
    assert.equal(first?.headers()['cache-control'], 'no-store');
    assert.equal(first?.headers()['retry-after'], '1');
    assert.match(await page.title(), /Waking up sleeper/);
    // The text as the proxy rendered it, from the response itself: the page's
    // script may replace it before any observer in the page is attached.
    assert.match(await first!.text(), /<p id="step"[^>]*>Starting…<\/p>/, 'the page as the proxy rendered it');

    // While it still waits, keep a picture of it for people to look at. Best
    // effort: on a loaded machine the page may already be reloading into the
    // app, and the picture is not what this test is about.
    const shot = join(dir, 'waiting-page.png');
    await page.screenshot({ path: shot, timeout: 2_000 }).then(
      () => t.diagnostic(`waiting page screenshot: ${shot}`),
      (err: Error) => t.diagnostic(`no screenshot of the waiting page: ${err.message.split('\n')[0]}`),
    );

    await page.waitForFunction(() => document.body?.innerText.includes('hello from sleeper'), undefined, { timeout: 15_000 });
    assert.equal(page.url(), url, 'the app is shown at the URL that was asked for');
    assert.equal(await page.textContent('body'), 'hello from sleeper');

    const live = steps.filter((s) => /^(Starting|Started, waiting until it answers) \(\d+\.\d s\)$/.test(s));
    assert.ok(new Set(live).size >= 2, `the elapsed time moved on while waiting: ${JSON.stringify(steps)}`);
    assert.equal(steps.at(-1), 'Ready, loading…');
    // One waiting page, one reload into the app: the live feed did the work,
    // not the Retry-After fallback (which would add waiting pages).
    assert.deepEqual(documents, [
      { url, status: 503 },
      { url, status: 200 },
    ]);
    assert.equal(app.starts() - startsBefore, 1, 'woken once');
  });

  test('a command that cannot start shows "Could not start" on the page', async () => {
    // The command fails at once while the marker exists (after the deploy,
    // which needs a working app for its health check). Under a path prefix
    // with the default strip_path_prefix, which also checks the page's events
    // URL carries the prefix.
    const marker = join(dir, 'broken');
    await deploySleeping('broken', { before: `[ -e ${marker} ] && exit 3; `, pathPrefixes: ['/broken'] });
    writeFileSync(marker, '');
    const { page, steps } = await watchedPage();

    const first = await page.goto(proxy.url('/broken/here'), { waitUntil: 'domcontentloaded' });
    assert.equal(first?.status(), 503);
    await page.waitForFunction(() => document.getElementById('step')?.textContent?.startsWith('Could not start'), undefined, { timeout: 15_000 });
    assert.equal(await page.getAttribute('#main', 'class'), 'failed', 'the spinner stops');
    assert.ok(steps.some((s) => s.startsWith('Could not start: ')), JSON.stringify(steps));
  });
});
