// "No request is lost" for ordinary apps (issue #16, item 4): every request
// held while a sleeping app wakes is released to it at once. An app with a
// small listen backlog drops the SYNs beyond its accept queue, and released
// onto a hundred new connections at a time, some requests never reached it
// (504 after the target timeout). New connections now ramp up as the app
// answers on them (src/upstream/http1-pool.ts).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Agent, request } from 'undici';
import { freePort } from '../helpers/free-port.ts';
import { NODE, napRequest } from '../helpers/nap.ts';
import { deployParams, quietLogs, ROOT, startTestProxy } from '../helpers/proxy.ts';
import type { TestProxy } from '../helpers/proxy.ts';

quietLogs();

const BURST = 300;
// Short enough that a lost request fails the test in seconds rather than
// half a minute; the app needs a second or two for the whole burst.
const TARGET_TIMEOUT_MS = 10_000;
const hasPython = spawnSync('python3', ['--version']).status === 0;

describe('a burst of requests to a sleeping app with a small listen backlog', () => {
  let proxy: TestProxy;
  let dir: string;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'kn-wake-burst-'));
    proxy = await startTestProxy(dir);
  });
  after(async () => {
    for (const s of proxy.router.napStatus()) await proxy.router.remove(s.service).catch(() => {});
    await proxy.stop();
  });

  async function deployAsleep(name: string, port: number, command: string): Promise<void> {
    await proxy.router.deploy({
      ...deployParams(name, [`127.0.0.1:${port}`], { options: { hosts: [`${name}.example.test`] }, target: { responseTimeoutMs: TARGET_TIMEOUT_MS }, deployTimeoutMs: 15_000 }),
      nap: napRequest({ command, idleTimeoutMs: 0, wakeTimeoutMs: 15_000 }),
    });
    await proxy.router.napNap(name);
    assert.equal(proxy.router.service(name)!.napper!.state, 'stopped');
  }

  async function burst(host: string, path: string): Promise<Record<string, number>> {
    const agent = new Agent({ connections: BURST });
    try {
      const statuses = await Promise.all(
        Array.from({ length: BURST }, () =>
          request(proxy.url(path), { headers: { host, accept: 'application/json' }, dispatcher: agent }).then(
            async (r) => (await r.body.dump(), String(r.statusCode)),
            (err: Error) => err.message,
          ),
        ),
      );
      const count: Record<string, number> = {};
      for (const s of statuses) count[s] = (count[s] ?? 0) + 1;
      return count;
    } finally {
      await agent.close();
    }
  }

  test(`${BURST} concurrent requests (backlog 4, busy while it serves): one start, every one answered 200`, async () => {
    const port = await freePort();
    const startLog = join(dir, 'small.starts');
    const app = join(ROOT, 'test/fixtures/small-backlog-app.ts');
    await deployAsleep('small', port, `exec env PORT=${port} START_LOG=${startLog} BACKLOG=4 BUSY_MS=2 ${NODE} --disable-warning=ExperimentalWarning ${app}`);
    const starts = () => spawnSync('wc', ['-l', startLog]).stdout.toString().trim().split(' ')[0];
    const before = starts();
    assert.deepEqual(await burst('small.example.test', '/'), { 200: BURST });
    assert.equal(Number(starts()) - Number(before), 1, 'one wake, shared by every request');
  });

  test(`python3 -m http.server (backlog 5): ${BURST} concurrent requests, every one answered 200`, { skip: !hasPython && 'no python3' }, async () => {
    const port = await freePort();
    const www = join(dir, 'www');
    mkdirSync(www);
    writeFileSync(join(www, 'up'), 'up');
    writeFileSync(join(www, 'index.html'), 'hello');
    await deployAsleep('python', port, `exec python3 -m http.server ${port} --bind 127.0.0.1 --directory ${www}`);
    assert.deepEqual(await burst('python.example.test', '/index.html'), { 200: BURST });
  });
});
