// One design for every built-in page, checked in a real browser: the 404
// page, the 503 maintenance page, the waiting page and the status page carry
// the shared skeleton, and Chromium computes the same colours and type for
// them, in light and in dark mode. Requires /usr/bin/chromium (skipped
// without it; see test/helpers/browser.ts).
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { statusPage } from '../../src/status/status.ts';
import { startBackend } from '../helpers/backend.ts';
import type { Backend } from '../helpers/backend.ts';
import { browserSkip, launchBrowser } from '../helpers/browser.ts';
import { napApp, napRequest } from '../helpers/nap.ts';
import { deployParams, quietLogs, startTestProxy } from '../helpers/proxy.ts';
import type { TestProxy } from '../helpers/proxy.ts';
import { scratchDir } from '../helpers/scratch-dir.ts';

quietLogs();

// What the design decides, as Chromium computes it.
interface Look {
  bodyClass: string;
  background: string;
  color: string;
  font: string;
  accent: string; // the --kn-accent custom property
  accentShown: string; // the colour of the page's big mark: status number or spinner
  h1: string;
}

function look(page: Page, mark: string): Promise<Look> {
  return page.evaluate((markSelector) => {
    const body = getComputedStyle(document.body);
    const h1 = getComputedStyle(document.querySelector('h1')!);
    const markEl = document.querySelector(markSelector)!;
    const markStyle = getComputedStyle(markEl);
    return {
      bodyClass: document.body.className,
      background: body.backgroundColor,
      color: body.color,
      font: body.fontFamily,
      accent: getComputedStyle(document.documentElement).getPropertyValue('--kn-accent').trim(),
      accentShown: markEl.classList.contains('spinner') ? markStyle.borderTopColor : markStyle.color,
      h1: `${h1.fontWeight} ${h1.borderTopWidth} ${h1.borderTopStyle} ${h1.borderTopColor}`,
    };
  }, mark);
}

describe('one design for every built-in page', { skip: browserSkip() }, () => {
  let proxy: TestProxy;
  let browser: Browser;
  let app: Backend;

  before(async () => {
    const dir = scratchDir('kn-design-');
    proxy = await startTestProxy(dir);
    browser = await launchBrowser();
    app = await startBackend('app');
    // Routed by path: the browser goes to 127.0.0.1, and / is served by nobody (404).
    await proxy.router.deploy(deployParams('maintained', [app.address], { options: { pathPrefixes: ['/maintained'] } }));
    await proxy.router.stop('maintained', 1_000, 'Back at noon');
    // Slow to boot (longer than its wake timeout): the waiting page stays up
    // while it is looked at.
    const sleeper = await napApp(dir, 'sleeper', { READY_DELAY_MS: '60000' });
    await proxy.router.deploy({
      ...deployParams('sleeper', [sleeper.address], { options: { pathPrefixes: ['/sleeper'] }, force: true }),
      nap: napRequest({ command: sleeper.command, idleTimeoutMs: 0, wakeTimeoutMs: 20_000 }),
    });
    await proxy.router.napNap('sleeper');
  });
  after(async () => {
    await browser?.close().catch(() => {});
    if (proxy) {
      await proxy.router.remove('sleeper').catch(() => {});
      await proxy.stop();
    }
    await app?.close();
  });

  for (const scheme of ['light', 'dark'] as const) {
    test(`the same look in ${scheme} mode`, async () => {
      const context = await browser.newContext({ colorScheme: scheme, viewport: { width: 900, height: 700 } });
      try {
        const page = await context.newPage();
        page.setDefaultTimeout(15_000);
        // The proxy's own pages, as a browser gets them.
        const visit = async (path: string, expected: number): Promise<void> => {
          const res = await page.goto(proxy.url(path), { waitUntil: 'domcontentloaded' });
          assert.equal(res?.status(), expected, path);
        };
        await visit('/', 404);
        const notFound = await look(page, '.code');
        await visit('/maintained/', 503);
        assert.match((await page.textContent('main')) ?? '', /Back at noon/);
        const maintenance = await look(page, '.code');
        await visit('/sleeper/', 503);
        assert.match(await page.title(), /Waking up sleeper/);
        const waiting = await look(page, '.spinner');
        // The status page is served on the metrics port (its own test); here
        // only its look matters.
        await page.setContent(statusPage(proxy.router), { waitUntil: 'domcontentloaded' });
        const status = await look(page, '.code');

        assert.equal(notFound.bodyClass, 'kn');
        assert.notEqual(notFound.accent, '');
        assert.notEqual(notFound.background, 'rgba(0, 0, 0, 0)', 'the page has its own background');
        assert.notEqual(notFound.accentShown, notFound.color, 'the mark stands out in the accent colour');
        assert.deepEqual(maintenance, notFound, 'the 503 maintenance page');
        assert.deepEqual(waiting, notFound, 'the waiting page');
        assert.deepEqual(status, notFound, 'the status page');
        (scheme === 'light' ? looks.light : looks.dark).push(notFound);
      } finally {
        await context.close();
      }
    });
  }

  const looks = { light: [] as Look[], dark: [] as Look[] };
  test('dark mode is its own palette', () => {
    assert.equal(looks.light.length, 1);
    assert.equal(looks.dark.length, 1);
    assert.notEqual(looks.dark[0]!.background, looks.light[0]!.background);
    assert.notEqual(looks.dark[0]!.color, looks.light[0]!.color);
    assert.notEqual(looks.dark[0]!.accent, looks.light[0]!.accent);
  });
});
