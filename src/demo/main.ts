// `npm start`: the proxy on an unprivileged port with a demo app deployed, so
// a newcomer sees it work with nothing else installed. State and the control
// socket live in a temp dir, so a real installation is never touched.
import { mkdtempSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startProxy } from '../server/proxy.ts';
import { defaultServiceOptions, defaultTargetOptions } from '../service/options.ts';
import { startDemoApp } from './demo-app.ts';

const port = Number(process.env.PORT ?? 8080);
const dir = mkdtempSync(join(tmpdir(), 'kamal-napper-demo-'));
const socketPath = join(dir, 'kamal-proxy.sock');

const apps = await Promise.all([startDemoApp('demo app #1'), startDemoApp('demo app #2')]);
const targets = apps.map((a) => `127.0.0.1:${(a.address() as AddressInfo).port}`);
const proxy = await startProxy({ httpPort: port, httpsPort: 8443, socketPath, statePath: join(dir, 'kamal-proxy.state') });
await proxy.router.deploy({
  service: 'demo',
  targets: [targets[0]!],
  readers: [],
  deployTimeoutMs: 10_000,
  drainTimeoutMs: 10_000,
  force: false,
  serviceOptions: defaultServiceOptions(),
  targetOptions: { ...defaultTargetOptions(), forwardHeaders: true },
});

process.stderr.write(`
  kamal-napper is running.

    Open      http://localhost:${port}/
    Deploy    KAMAL_PROXY_SOCKET=${socketPath} bin/kamal-proxy deploy demo --target=${targets[1]}
    List      KAMAL_PROXY_SOCKET=${socketPath} bin/kamal-proxy list

  The second command switches traffic to demo app #2 with zero downtime.
  Request logs follow on stdout. Ctrl-C stops everything.

`);

const stop = () => {
  void proxy.stop().then(() => {
    for (const a of apps) a.close();
    process.exit(0);
  });
};
process.once('SIGINT', stop);
process.once('SIGTERM', stop);
