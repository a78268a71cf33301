// What a crash or a bad edit leaves in the state directory, met at start
// (issue #16): temp files of a save cut short are removed (ours only, and
// only those from before this process); a state file that cannot be parsed
// restores nothing and is renamed aside, loudly, where the next save used to
// overwrite it silently.
import assert from 'node:assert/strict';
import { mkdirSync, readdirSync, readFileSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { startBackend } from '../helpers/backend.ts';
import { freePort } from '../helpers/free-port.ts';
import { scratchDir } from '../helpers/scratch-dir.ts';
import { cli, spawnProxy } from '../helpers/proxy.ts';

async function environment() {
  const home = scratchDir('kn-recovery-');
  const stateDir = join(home, '.config', 'kamal-proxy');
  mkdirSync(stateDir, { recursive: true, mode: 0o700 });
  const env = { HOME: home, KAMAL_PROXY_SOCKET: join(home, 'kamal-proxy.sock'), KAMAL_PROXY_HTTPS_PORT: String(await freePort()) };
  return { env, stateDir, statePath: join(stateDir, 'kamal-proxy.state') };
}

// The complete log lines (JSON) whose msg is `msg`.
const logged = (output: string, msg: string) =>
  output
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Record<string, unknown>)
    .filter((l) => l.msg === msg);

test('temp files a crashed save left are removed at start; anything else stays', async (t) => {
  const { env, stateDir, statePath } = await environment();
  writeFileSync(statePath, '[]\n');
  const hourAgo = new Date(Date.now() - 3_600_000);
  const hourAhead = new Date(Date.now() + 3_600_000);
  const file = (name: string, time: Date) => {
    writeFileSync(join(stateDir, name), '[{"name":"half-writ');
    utimesSync(join(stateDir, name), time, time);
  };
  file('.kamal-proxy.state.4242.0123456789ab.tmp', hourAgo); // ours, from a crash
  file('.kamal-proxy.state.77.abcdefabcdef.tmp', hourAgo); // ours, from a crash
  file('.kamal-proxy.state.4243.0123456789ab.tmp', hourAhead); // ours, but younger than the process: someone's save in progress
  file('.other.state.4244.0123456789ab.tmp', hourAgo); // another file's
  file('.kamal-proxy.state.4245.0123456789ab.tmp.keep', hourAgo); // not our name
  file('kamal-proxy.state.bak', hourAgo);

  const proxy = await spawnProxy([`--http-port=${await freePort()}`], env, t);
  assert.deepEqual(readdirSync(stateDir).sort(), [
    '.kamal-proxy.state.4243.0123456789ab.tmp',
    '.kamal-proxy.state.4245.0123456789ab.tmp.keep',
    '.other.state.4244.0123456789ab.tmp',
    'kamal-proxy.state',
    'kamal-proxy.state.bak',
  ]);
  const removed = logged(proxy.output(), 'Removed temp files left by an interrupted save');
  assert.deepEqual(removed.map((l) => [l.level, (l.files as string[]).sort()]), [
    ['WARN', [join(stateDir, '.kamal-proxy.state.4242.0123456789ab.tmp'), join(stateDir, '.kamal-proxy.state.77.abcdefabcdef.tmp')]],
  ]);
});

test('a state file that cannot be parsed is kept aside, loudly, and the next deploy starts a new one', async (t) => {
  const { env, stateDir, statePath } = await environment();
  const broken = '[{"name":"web","options":{"hosts":["web.example.com"]},"active_targets":["10.0.0.1:80"]},\n';
  writeFileSync(statePath, broken);

  const proxy = await spawnProxy([`--http-port=${await freePort()}`], env, t);
  const aside = readdirSync(stateDir).filter((n) => n.startsWith('kamal-proxy.state.corrupt-'));
  assert.equal(aside.length, 1, readdirSync(stateDir).join(' '));
  assert.match(aside[0]!, /^kamal-proxy\.state\.corrupt-\d{8}T\d{6}Z$/);
  const keptAs = join(stateDir, aside[0]!);
  assert.equal(readFileSync(keptAs, 'utf8'), broken);
  const failed = logged(proxy.output(), 'Failed to restore saved state');
  assert.equal(failed.length, 1, proxy.output());
  assert.equal(failed[0]!.level, 'ERROR');
  assert.equal(failed[0]!.path, statePath);
  const error = failed[0]!.error as string;
  assert.ok(error.startsWith('state file is not valid JSON: '), error);
  assert.ok(error.endsWith(`; no service restored; kept it as ${keptAs} (the next save starts a new state file)`), error);

  const app = await startBackend('app');
  t.after(() => app.close());
  assert.equal((await cli(['deploy', 'app', `--target=${app.address}`, '--host=app.example.com'], env)).code, 0);
  assert.match(readFileSync(statePath, 'utf8'), /^\[\{"name":"app",/);
  assert.equal(readFileSync(keptAs, 'utf8'), broken, 'the deploy left the kept copy alone');
});
