// In Kamal's proxy container the mounted Docker socket belongs to the host's
// `docker` group, which the container user is not in: `run --docker` must
// say, once at start, exactly what to add. The real executable runs as
// uid 65534 (tests run as root, which the socket's permissions do not stop).
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { chownSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { DEFAULT_SOCKET_PATH } from '../../src/docker/engine.ts';
import { withDocker } from '../helpers/docker-app.ts';
import { freePort } from '../helpers/free-port.ts';
import { BIN } from '../helpers/proxy.ts';
import { waitFor } from '../helpers/wait.ts';

const NOBODY = 65534;

// Runs `kamal-proxy run --docker` as uid 65534 with these extra groups, and
// returns its output once `Docker access` was logged (or the wait ran out).
async function runAsNobody(t: TestContext, groups: number[], env: NodeJS.ProcessEnv = {}, waitMs = 10_000): Promise<string> {
  const home = mkdtempSync(join(tmpdir(), 'kn-docker-access-'));
  chownSync(home, NOBODY, NOBODY);
  t.after(() => rmSync(home, { recursive: true, force: true }));
  const groupArgs = groups.length > 0 ? [`--groups=${groups.join(',')}`] : ['--clear-groups'];
  const args = ['setpriv', `--reuid=${NOBODY}`, `--regid=${NOBODY}`, ...groupArgs, BIN, 'run', '--docker', `--http-port=${await freePort()}`, `--https-port=${await freePort()}`];
  const child = spawn(args[0]!, args.slice(1), {
    env: { ...process.env, HOME: home, KAMAL_PROXY_SOCKET: join(home, 'kamal-proxy.sock'), ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  t.after(() => child.kill('SIGKILL'));
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (out += d));
  await waitFor(() => out.includes('"Server started"'), 20_000);
  return await waitFor(() => out.includes('Docker access'), waitMs).then(
    () => out,
    () => out,
  );
}

if (process.getuid?.() !== 0) {
  test('Docker access diagnosis', { skip: 'needs root (to run the proxy as another uid)' }, () => {});
} else {
  await withDocker('Docker access diagnosis', accessTests);
}

function accessTests(): void {
  test('a proxy not in the socket\'s group says which group to add, once', async (t) => {
    const gid = statSync(DEFAULT_SOCKET_PATH).gid;
    const out = await runAsNobody(t, []);
    const lines = out.split('\n').filter((l) => l.includes('Docker access'));
    assert.equal(lines.length, 1, out);
    assert.match(lines[0]!, new RegExp(`--group-add ${gid}\\b`));
    assert.match(lines[0]!, new RegExp(`group-add: \\\\?"${gid}\\\\?"`));
    assert.match(lines[0]!, /"level":"ERROR"/);
  });

  test('a proxy in the socket\'s group uses Docker and says nothing about access', async (t) => {
    const gid = statSync(DEFAULT_SOCKET_PATH).gid;
    // The check is one /_ping on the socket: a few seconds is plenty.
    const out = await runAsNobody(t, [gid], {}, 3_000);
    assert.doesNotMatch(out, /Docker access/);
  });

  test('a missing socket says how to mount it', async (t) => {
    const out = await runAsNobody(t, [], { DOCKER_HOST: 'unix:///nonexistent/docker.sock' });
    assert.match(out, /no Docker socket at \/nonexistent\/docker\.sock: mount it/);
  });
}
