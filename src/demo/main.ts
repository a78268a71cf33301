// `npm start`: the proxy on an unprivileged port with a demo app deployed and
// a napping one under /sleepy. State and the control socket live in a temp
// dir that goes with the demo, so a real installation is never touched.
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Server } from 'node:http';
import { startProxy } from '../proxy/proxy.ts';
import type { RunningProxy } from '../proxy/proxy.ts';
import { defaultServiceOptions, defaultTargetOptions } from '../config/service-options.ts';
import { startDemoApp } from './demo-app.ts';
import { portInUseMessage } from './port-in-use.ts';
import { onStopRequest } from './stop-requests.ts';

const ports = { http: Number(process.env.PORT ?? 8080), https: Number(process.env.HTTPS_PORT ?? 8443) };
const SLEEPY_IDLE_TIMEOUT_MS = 10_000;
const dir = mkdtempSync(join(tmpdir(), 'kamal-napper-demo-'));
// On every way out, once nothing runs from it any more.
process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
const socketPath = join(dir, 'kamal-proxy.sock');

// Filled in as they start, for stop() to undo.
let proxy: RunningProxy | undefined;
const apps: Server[] = [];

let stopping = false;
const started = start();
onStopRequest(() => {
  if (stopping) return;
  stopping = true;
  // A stop during the start waits for it: the napping app may be starting.
  void started
    .catch(() => {})
    .then(stop)
    .finally(() => process.exit(0));
});
try {
  await started;
} catch (err) {
  const message = portInUseMessage(err, ports);
  if (message === null) throw err;
  process.stderr.write(`${message}\n`);
  process.exit(1);
}

async function start(): Promise<void> {
  const running = (proxy = await startProxy({ httpPort: ports.http, httpsPort: ports.https, socketPath, statePath: join(dir, 'kamal-proxy.state') }));
  apps.push(...(await Promise.all([startDemoApp('demo app #1'), startDemoApp('demo app #2')])));
  const targets = apps.map((a) => `127.0.0.1:${(a.address() as AddressInfo).port}`);
  await running.router.deploy({
    service: 'demo',
    targets: [targets[0]!],
    readers: [],
    deployTimeoutMs: 10_000,
    drainTimeoutMs: 10_000,
    force: false,
    serviceOptions: defaultServiceOptions(),
    targetOptions: { ...defaultTargetOptions(), forwardHeaders: true },
  });
  // Started by the proxy on the first request, stopped SLEEPY_IDLE_TIMEOUT_MS after the last.
  const sleepyPort = await freePort();
  await running.router.deploy({
    service: 'sleepy',
    targets: [`127.0.0.1:${sleepyPort}`],
    readers: [],
    deployTimeoutMs: 30_000,
    drainTimeoutMs: 10_000,
    force: false,
    serviceOptions: { ...defaultServiceOptions(), pathPrefixes: ['/sleepy'] },
    targetOptions: defaultTargetOptions(),
    nap: {
      idleTimeoutMs: SLEEPY_IDLE_TIMEOUT_MS,
      wakeTimeoutMs: 30_000,
      container: '',
      group: false,
      command: `PORT=${sleepyPort} exec '${process.execPath}' '${join(import.meta.dirname, 'sleepy-app.ts')}'`,
    },
  });

  process.stderr.write(`
  kamal-napper is running.

    Open      http://localhost:${ports.http}/
    Napping   http://localhost:${ports.http}/sleepy/  (stops ${SLEEPY_IDLE_TIMEOUT_MS / 1000} s after the last request; the next one wakes it)
    Status    KAMAL_PROXY_SOCKET=${socketPath} bin/kamal-napper status
    Deploy    KAMAL_PROXY_SOCKET=${socketPath} bin/kamal-proxy deploy demo --target=${targets[1]}
    List      KAMAL_PROXY_SOCKET=${socketPath} bin/kamal-proxy list

  The Deploy command switches traffic to demo app #2 with zero downtime.
  Request logs follow on stdout. Ctrl-C stops everything.

`);
}

async function stop(): Promise<void> {
  if (proxy === undefined) return;
  // A proxy that stops leaves --nap-command apps running for the next one to
  // adopt; the demo's app goes with the demo (remove stops it).
  await proxy.router.remove('sleepy').catch(() => {});
  await proxy.stop();
  for (const a of apps) a.close();
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer().once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port: free } = s.address() as AddressInfo;
      s.close(() => resolve(free));
    });
  });
}
