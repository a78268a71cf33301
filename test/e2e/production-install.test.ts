// `npm ci --omit=dev` is how a server (or the image) installs kamal-napper:
// the pinned Node must come with it (an optional dependency per
// architecture), and `prepare`, which warms the compile cache with the
// installed Node, must succeed without the dev dependencies. Run in a copy of
// the project's files, from npm's cache (filled by the `npm ci` before the
// tests), so it asks the registry nothing it already has.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { cpSync, existsSync, readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { test } from 'node:test';
import { scratchDir } from '../helpers/scratch-dir.ts';

const ROOT = resolve(import.meta.dirname, '../..');

function run(command: string, args: string[], cwd: string): Promise<{ code: number; out: string }> {
  return new Promise((done) => {
    execFile(command, args, { cwd, timeout: 170_000, maxBuffer: 16 * 1024 * 1024 }, (error, stdout, stderr) => {
      done({ code: error ? ((error as { code?: number }).code ?? 1) : 0, out: stdout + stderr });
    });
  });
}

test('npm ci --omit=dev installs the pinned Node and no dev dependency, and prepare warms the compile cache', { timeout: 180_000 }, async () => {
  const dir = scratchDir('kn-prod-install-');
  for (const entry of ['package.json', 'package-lock.json', 'bin', 'scripts', 'src']) cpSync(join(ROOT, entry), join(dir, entry), { recursive: true });

  const install = await run('npm', ['ci', '--omit=dev', '--prefer-offline', '--no-audit', '--no-fund'], dir);
  assert.equal(install.code, 0, install.out);

  const modules = readdirSync(join(dir, 'node_modules'));
  assert.ok(modules.includes(`node-linux-${process.arch === 'arm64' ? 'arm64' : 'x64'}`), `the runtime for this machine: ${modules.join(' ')}`);
  for (const dev of ['typescript', 'playwright-core', '@types']) assert.ok(!modules.includes(dev), `${dev} is a dev dependency`);
  // prepare ran `bin/kamal-proxy --help` with the warm-up: the cache is there.
  assert.ok(existsSync(join(dir, 'node_modules/.cache/kamal-napper-compile')), 'prepare filled the compile cache');

  const help = await run(join(dir, 'bin/kamal-proxy'), ['--help'], dir);
  assert.equal(help.code, 0, help.out);
  assert.match(help.out, /deploy/);
  const version = await run(join(dir, 'node_modules/.bin/node'), ['--version'], dir);
  assert.match(version.out, /^v24\./);
});
