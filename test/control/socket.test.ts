// Who may hold and who may be trusted with the control socket (issue #16).
// A second `run` used to delete a live proxy's socket and listen in its
// place; once it exited, the first proxy was unreachable by every command.
// Now it refuses before listening on any port, and only a stale file (its
// proxy gone: connecting is refused) is removed. And the CLI sends commands
// only to a socket owned by its own uid or root: in a shared directory such
// as /tmp another user could have made the path first.
//
// The real executable throughout. Tests run as root; another user is uid
// 65534 (setpriv), and a socket of another user is one chowned to it.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { chmodSync, chownSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { startBackend } from '../helpers/backend.ts';
import { startExpectingFailure } from '../helpers/failed-start.ts';
import { freePort } from '../helpers/free-port.ts';
import { scratchDir } from '../helpers/scratch-dir.ts';
import { BIN, cli, spawnProxy } from '../helpers/proxy.ts';
import type { CliResult } from '../helpers/proxy.ts';

const NOBODY = 65534;
const AS_NOBODY = ['setpriv', `--reuid=${NOBODY}`, `--regid=${NOBODY}`, '--clear-groups'];
const isRoot = process.getuid?.() === 0;

async function environment() {
  const home = scratchDir('kn-socket-');
  const socket = join(home, 'kamal-proxy.sock');
  return { home, socket, env: { HOME: home, KAMAL_PROXY_SOCKET: socket, KAMAL_PROXY_HTTPS_PORT: String(await freePort()) } };
}

const plain = (s: string) => s.replace(/\x1b\[[0-9;]*m/g, '');

test('a second run beside a live proxy is refused before it listens on any port; the first keeps its socket', async (t) => {
  const { env, socket } = await environment();
  const port = await freePort();
  await spawnProxy([`--http-port=${port}`], env, t);
  const app = await startBackend('app');
  t.after(() => app.close());
  assert.equal((await cli(['deploy', 'app', `--target=${app.address}`, '--host=app.example.com'], env)).code, 0);

  const refused = `Error: another kamal-proxy is running (control socket ${socket} answers)\n`;
  // On ports of its own.
  const second = await startExpectingFailure([], [`--http-port=${await freePort()}`, `--https-port=${await freePort()}`], env, t);
  assert.equal(second.started, false, second.stdout);
  assert.equal(second.stderr, refused);
  assert.equal(await second.exitCode, 1);
  // On the first one's ports: the socket is what it reports, so it looked
  // there before it tried to listen.
  const third = await startExpectingFailure([], [`--http-port=${port}`, `--https-port=${env.KAMAL_PROXY_HTTPS_PORT}`], env, t);
  assert.equal(third.stderr, refused);
  assert.equal(await third.exitCode, 1);

  // The first proxy still answers its commands.
  const listed = await cli(['list'], env);
  assert.equal(listed.code, 0, listed.stderr);
  assert.match(plain(listed.stdout), /^app\s+app\.example\.com\s/m);
});

test('a stale socket, left by a proxy that was killed, is removed and the next proxy starts', async (t) => {
  const { env } = await environment();
  const port = await freePort();
  const first = await spawnProxy([`--http-port=${port}`], env, t);
  first.child.kill('SIGKILL');
  await new Promise((r) => first.child.once('exit', r));

  await spawnProxy([`--http-port=${port}`], env, t);
  assert.equal((await cli(['list'], env)).code, 0);
});

test('a file that is not a socket at the socket path is left alone, and run refuses', async (t) => {
  const { env, socket } = await environment();
  writeFileSync(socket, 'not a socket');

  const run = await startExpectingFailure([], [`--http-port=${await freePort()}`], env, t);
  assert.equal(run.started, false, run.stdout);
  assert.equal(run.stderr, `Error: control socket path ${socket} exists and is not a socket; remove it or set KAMAL_PROXY_SOCKET\n`);
  assert.equal(await run.exitCode, 1);
  assert.equal(readFileSync(socket, 'utf8'), 'not a socket');
});

// A listener standing in for a proxy, counting the connections it gets.
async function impostor(path: string, t: TestContext): Promise<{ server: Server; connections: () => number }> {
  let connections = 0;
  const server = createServer((socket) => {
    connections++;
    socket.end(JSON.stringify({ ok: true, result: [] }) + '\n');
  });
  await new Promise<void>((resolve) => server.listen(path, resolve));
  t.after(() => server.close());
  return { server, connections: () => connections };
}

function cliAs(prefix: string[], args: string[], env: NodeJS.ProcessEnv): Promise<CliResult> {
  return new Promise((resolve) => {
    const argv = [...prefix, BIN, ...args];
    const child = spawn(argv[0]!, argv.slice(1), { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

test('the CLI sends nothing to a socket owned by another user', { skip: !isRoot && 'needs root to give the socket to another uid' }, async (t) => {
  const { env, socket } = await environment();
  const listener = await impostor(socket, t);
  chownSync(socket, NOBODY, NOBODY);

  for (const args of [['list'], ['deploy', 'app', '--target=127.0.0.1:3000', '--host=app.example.com']]) {
    const r = await cli(args, env);
    assert.deepEqual(
      [args[0], r.code, r.stdout, r.stderr],
      [args[0], 1, '', `Error: refusing to use control socket ${socket}: it is owned by uid ${NOBODY}, not by this user (uid 0) or root\n`],
    );
  }
  assert.equal(listener.connections(), 0);
});

test('the CLI of another user trusts a socket owned by root', { skip: !isRoot && 'needs root to run the CLI as another uid' }, async (t) => {
  const { home, env, socket } = await environment();
  chmodSync(home, 0o755);
  const listener = await impostor(socket, t);
  chmodSync(socket, 0o666);

  const r = await cliAs(AS_NOBODY, ['list'], env);
  assert.deepEqual([r.code, r.stderr], [0, '']);
  assert.match(plain(r.stdout), /^Service\s+Host\s+Path\s+Target\s+State\s+TLS\s*\n$/);
  assert.equal(listener.connections(), 1);
});
