// `run` that cannot listen (issue #16): a port in use, a privileged port as
// another user (the README's quick start run by a non-root user), a control
// socket that cannot be created. It used to print the error and keep running,
// serving 404 on the HTTP port with no control socket. Now it exits 1 with
// one `Error: ...` line, having closed whatever it had opened: its HTTP port
// is closed by the time the line is printed, and the process then ends on
// its own (nothing in it calls process.exit).
import assert from 'node:assert/strict';
import { chownSync, existsSync, readFileSync } from 'node:fs';
import { createConnection, createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { startExpectingFailure } from '../helpers/failed-start.ts';
import { freePort } from '../helpers/free-port.ts';
import { scratchDir } from '../helpers/scratch-dir.ts';
import { cli } from '../helpers/proxy.ts';

const NOBODY = 65534;
const AS_NOBODY = ['setpriv', `--reuid=${NOBODY}`, `--regid=${NOBODY}`, '--clear-groups'];
const isRoot = process.getuid?.() === 0;

function environment() {
  const home = scratchDir('kn-startfail-');
  return { home, socket: join(home, 'kamal-proxy.sock'), env: { HOME: home, KAMAL_PROXY_SOCKET: join(home, 'kamal-proxy.sock') } };
}

// Another program on the port, on every address, as the proxy binds it.
async function holdPort(t: TestContext): Promise<number> {
  const port = await freePort();
  const holder: Server = createServer();
  await new Promise<void>((resolve) => holder.listen({ port, host: '::' }, resolve));
  t.after(() => holder.close());
  return port;
}

// Whether a TCP connection to the port on 127.0.0.1 is accepted.
function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ port, host: '127.0.0.1' });
    socket.once('connect', () => (socket.destroy(), resolve(true)));
    socket.once('error', () => resolve(false));
  });
}

for (const held of ['https', 'http'] as const) {
  test(`the ${held.toUpperCase()} port in use: run exits 1 with the address and the cause, having closed what it opened`, async (t) => {
    const { socket, env } = environment();
    const busy = await holdPort(t);
    const other = await freePort();
    const [http, https] = held === 'https' ? [other, busy] : [busy, other];

    const run = await startExpectingFailure([], [`--http-port=${http}`, `--https-port=${https}`], env, t);
    assert.equal(run.started, false, run.stdout);
    assert.equal(run.stderr, `Error: cannot listen on :${busy}: address already in use\n`);
    if (held === 'https') assert.equal(await accepts(http), false, 'the HTTP port, opened first, is closed again');
    assert.equal(await run.exitCode, 1);
    assert.equal(existsSync(socket), false, 'no control socket');
  });
}

test('the README\'s quick start as a non-root user (HTTPS on 443): run exits 1 and says what to do', {
  skip: (!isRoot && 'needs root to run the proxy as another uid')
    || (Number(readFileSync('/proc/sys/net/ipv4/ip_unprivileged_port_start', 'utf8')) <= 443 && 'port 443 is not privileged here'),
}, async (t) => {
  const { home, socket, env } = environment();
  chownSync(home, NOBODY, NOBODY);
  const http = await freePort();

  const run = await startExpectingFailure(AS_NOBODY, [`--http-port=${http}`], env, t);
  assert.equal(run.started, false, run.stdout);
  assert.equal(
    run.stderr,
    'Error: cannot listen on :443: permission denied; ports below 1024 need root or the CAP_NET_BIND_SERVICE capability ' +
      '(or choose others with --http-port and --https-port)\n',
  );
  assert.equal(await accepts(http), false);
  assert.equal(await run.exitCode, 1);
  assert.equal(existsSync(socket), false);
});

test('a control socket that cannot be created: run exits 1, its ports closed', async (t) => {
  const { home, env } = environment();
  const socket = join(home, 'missing-dir', 'kamal-proxy.sock');
  const http = await freePort();
  const https = await freePort();

  const run = await startExpectingFailure([], [`--http-port=${http}`, `--https-port=${https}`], { ...env, KAMAL_PROXY_SOCKET: socket }, t);
  assert.equal(run.started, false, run.stdout);
  assert.equal(run.stderr, `Error: cannot listen on control socket ${socket}: no such file or directory\n`);
  assert.equal(await accepts(http), false);
  assert.equal(await accepts(https), false);
  assert.equal(await run.exitCode, 1);
});

test('--workers (and KAMAL_NAPPER_WORKERS) that is not a number of threads or auto: run exits 1 saying what it takes', async () => {
  const home = scratchDir('kn-workers-flag-');
  const env = { HOME: home, XDG_RUNTIME_DIR: home };
  for (const [args, extra, value] of [[['--workers=zero'], {}, 'zero'], [[], { KAMAL_NAPPER_WORKERS: '0' }, '0'], [['--workers=65'], {}, '65']] as const) {
    const run = await cli(['run', '--http-port=0', '--https-port=0', ...args], { ...env, ...extra });
    assert.deepEqual([run.code, run.stderr], [1, `Error: invalid --workers "${value}": a number of threads from 1 to 64, or auto\n`]);
    assert.equal(existsSync(join(home, 'kamal-proxy.sock')), false, 'nothing opened');
  }
});
