// A real browser for tests: Debian's Chromium driven by playwright-core.
// playwright-core never downloads a browser of its own; we point it at the
// system one (CI installs it with apt). Where it is missing the browser tests
// are skipped with a reason, unless KAMAL_NAPPER_REQUIRE_BROWSER=1 says a
// missing browser is a failure (so CI cannot go green by skipping them).
import { existsSync } from 'node:fs';
import { chromium } from 'playwright-core';
import type { Browser } from 'playwright-core';

export const CHROMIUM = '/usr/bin/chromium';

const REQUIRED = process.env.KAMAL_NAPPER_REQUIRE_BROWSER === '1';

// For `describe(name, { skip: browserSkip() }, ...)`: a reason to skip, or
// false to run (also when the browser is required but missing: launchBrowser
// then fails with the reason).
export function browserSkip(): string | false {
  if (existsSync(CHROMIUM) || REQUIRED) return false;
  return `${CHROMIUM} not found: install it with \`apt-get install -y chromium\` (KAMAL_NAPPER_REQUIRE_BROWSER=1 turns this skip into a failure)`;
}

// Headless Chromium with nothing of its own going on: no GPU, no QUIC (our
// proxy speaks HTTP/1.1 on 127.0.0.1), no first-run, sync, component or
// background traffic that could reach for the internet. Playwright gives
// every launch a fresh temporary profile and deletes it on close, so no
// --user-data-dir is needed.
export async function launchBrowser(): Promise<Browser> {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} not found (KAMAL_NAPPER_REQUIRE_BROWSER=1): apt-get install -y chromium`);
  return chromium.launch({
    executablePath: CHROMIUM,
    timeout: 30_000,
    args: [
      '--headless',
      '--no-sandbox', // runs as root in containers, where the sandbox cannot start
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}
