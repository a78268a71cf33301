// The deploy flow: health checks, atomic swap, drain; failures leave the old
// deployment serving; zero failed requests across many deploys.
import assert from 'node:assert/strict';
import http from 'node:http';
import { after, before, describe, test } from 'node:test';
import { Agent, request } from 'undici';
import { startBackend } from '../helpers/backend.ts';
import { deployParams, quietLogs, startTestProxy } from '../helpers/proxy.ts';
import type { TestProxy } from '../helpers/proxy.ts';
import { waitFor } from '../helpers/wait.ts';

quietLogs();

describe('deploy', () => {
  let proxy: TestProxy;
  before(async () => {
    proxy = await startTestProxy();
  });
  after(async () => {
    await proxy.stop();
  });

  const fetchText = async (host: string, path = '/') => {
    const res = await request(proxy.url(path), { headers: { host } });
    return { status: res.statusCode, body: await res.body.text() };
  };

  test('zero downtime: no failed request across 20 deploys, keep-alive and new connections', async () => {
    const host = 'zero.example.com';
    let current = await startBackend('v0');
    await proxy.router.deploy(deployParams('zero', [current.address], { options: { hosts: [host] } }));

    let stop = false;
    const failures: string[] = [];
    let ok = 0;
    const seen = new Set<string>();
    const keepAlive = new Agent({ connections: 4 });
    const keepAliveLoop = async () => {
      while (!stop) {
        try {
          const res = await request(proxy.url('/'), { headers: { host }, dispatcher: keepAlive });
          const body = await res.body.text();
          if (res.statusCode === 200) (ok++, seen.add(body));
          else failures.push(`keep-alive ${res.statusCode} ${body.slice(0, 60)}`);
        } catch (err) {
          failures.push(`keep-alive ${(err as Error).message}`);
        }
      }
    };
    const newConnectionLoop = async () => {
      while (!stop) {
        try {
          const r = await newConnectionGet(proxy.httpPort, host);
          if (r.status === 200) (ok++, seen.add(r.body));
          else failures.push(`new-conn ${r.status}`);
        } catch (err) {
          failures.push(`new-conn ${(err as Error).message}`);
        }
      }
    };
    const loops = [keepAliveLoop(), keepAliveLoop(), newConnectionLoop()];

    for (let i = 1; i <= 20; i++) {
      // Every other new version takes a while to become healthy.
      const next = await startBackend(`v${i}`, { healthy: i % 2 === 1 });
      if (i % 2 === 0) setTimeout(() => (next.healthy = true), 300);
      await proxy.router.deploy(deployParams('zero', [next.address], { options: { hosts: [host] } }));
      // As Kamal does: the old container is stopped once deploy has returned.
      await current.close();
      current = next;
    }
    stop = true;
    await Promise.all(loops);
    await keepAlive.close();
    await current.close();

    assert.deepEqual(failures, []);
    assert.ok(ok > 100, `only ${ok} requests completed`);
    assert.ok(seen.has('v20'), 'the last deployment served traffic');
    assert.ok(seen.size > 5, `traffic moved across versions: ${[...seen].join(',')}`);
  });

  test('a target that never becomes healthy fails the deploy and the old one keeps serving', async () => {
    const good = await startBackend('good');
    const bad = await startBackend('bad', { healthy: false });
    await proxy.router.deploy(deployParams('keep', [good.address], { options: { hosts: ['keep.example.com'] } }));
    await assert.rejects(
      proxy.router.deploy(deployParams('keep', [bad.address], { options: { hosts: ['keep.example.com'] }, deployTimeoutMs: 300 })),
      { message: 'target failed to become healthy within configured timeout (300ms)' },
    );
    assert.deepEqual(await fetchText('keep.example.com'), { status: 200, body: 'good' });
    await Promise.all([good.close(), bad.close()]);
  });

  test('balances round-robin over several targets, skipping unhealthy ones', async () => {
    const a = await startBackend('a');
    const b = await startBackend('b');
    await proxy.router.deploy(deployParams('rr', [a.address, b.address], { options: { hosts: ['rr.example.com'] } }));
    const bodies = [];
    for (let i = 0; i < 4; i++) bodies.push((await fetchText('rr.example.com')).body);
    assert.deepEqual(bodies.sort(), ['a', 'a', 'b', 'b']);

    b.healthy = false; // the health check (every 50 ms here) takes b out of the pool
    await waitFor(async () => {
      const got = [];
      for (let i = 0; i < 4; i++) got.push((await fetchText('rr.example.com')).body);
      return got.every((x) => x === 'a');
    });
    b.healthy = true;
    await waitFor(async () => {
      const got = [];
      for (let i = 0; i < 4; i++) got.push((await fetchText('rr.example.com')).body);
      return got.includes('b');
    });
    await Promise.all([a.close(), b.close()]);
  });

  test('drains in-flight requests of the replaced target before deploy returns', async () => {
    let release!: () => void;
    const released = new Promise<void>((r) => (release = r));
    const old = await startBackend('old', {
      route(req, res) {
        if (req.url === '/long') {
          void released.then(() => res.end('finished'));
          return true;
        }
      },
    });
    const next = await startBackend('new');
    await proxy.router.deploy(deployParams('drain', [old.address], { options: { hosts: ['drain.example.com'] } }));
    const inFlight = fetchText('drain.example.com', '/long');
    await waitFor(async () => old.requests > 0);
    let deployed = false;
    const deploying = proxy.router
      .deploy(deployParams('drain', [next.address], { options: { hosts: ['drain.example.com'] } }))
      .then(() => (deployed = true));
    // New requests go to the new target at once, while the old one drains.
    await waitFor(async () => (await fetchText('drain.example.com')).body === 'new');
    assert.equal(deployed, false, 'deploy waits for the drain');
    release();
    assert.deepEqual(await inFlight, { status: 200, body: 'finished' });
    await deploying;
    await Promise.all([old.close(), next.close()]);
  });

  test('requests still running after the drain timeout get 504', async () => {
    const old = await startBackend('old', { route: (req) => req.url === '/forever' });
    const next = await startBackend('new');
    await proxy.router.deploy(deployParams('cut', [old.address], { options: { hosts: ['cut.example.com'] } }));
    const inFlight = fetchText('cut.example.com', '/forever');
    await waitFor(async () => old.requests > 0);
    await proxy.router.deploy(deployParams('cut', [next.address], { options: { hosts: ['cut.example.com'] }, drainTimeoutMs: 100 }));
    assert.equal((await inFlight).status, 504);
    await Promise.all([old.close(), next.close()]);
  });

  test('a host owned by another service is refused and the owner keeps serving', async () => {
    const a = await startBackend('owner');
    await proxy.router.deploy(deployParams('owner', [a.address], { options: { hosts: ['owned.example.com'] } }));
    await assert.rejects(proxy.router.deploy(deployParams('thief', [a.address], { options: { hosts: ['OWNED.example.com'] } })), {
      message: 'host settings conflict with another service',
    });
    assert.equal((await fetchText('owned.example.com')).body, 'owner');
    await a.close();
  });

  test('remove stops routing at once', async () => {
    const a = await startBackend('gone-soon');
    await proxy.router.deploy(deployParams('removable', [a.address], { options: { hosts: ['rm.example.com'] } }));
    assert.equal((await fetchText('rm.example.com')).status, 200);
    await proxy.router.remove('removable');
    assert.equal((await fetchText('rm.example.com')).status, 404);
    await assert.rejects(proxy.router.remove('removable'), { message: 'service not found' });
    await a.close();
  });

  test('path prefixes route on whole segments and are stripped by default', async () => {
    const api = await startBackend('api', { route: (req, res) => (res.end(`api:${req.url}`), true) });
    const root = await startBackend('root', { route: (req, res) => (res.end(`root:${req.url}`), true) });
    await proxy.router.deploy(deployParams('p-api', [api.address], { options: { hosts: ['p.example.com'], pathPrefixes: ['/api'] } }));
    await proxy.router.deploy(deployParams('p-root', [root.address], { options: { hosts: ['p.example.com'] } }));
    assert.equal((await fetchText('p.example.com', '/api/users?x=1')).body, 'api:/users?x=1');
    assert.equal((await fetchText('p.example.com', '/api')).body, 'api:/');
    assert.equal((await fetchText('p.example.com', '/apiary')).body, 'root:/apiary');
    await Promise.all([api.close(), root.close()]);
  });
});

function newConnectionGet(port: number, host: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.get({ port, host: '127.0.0.1', path: '/', headers: { host }, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode!, body }));
    });
    req.on('error', reject);
  });
}
