// The load balancer's checklist items from kamal-proxy's load_balancer_test.go
// that do not need a listener.
import assert from 'node:assert/strict';
import type { IncomingMessage } from 'node:http';
import { test } from 'node:test';
import { LoadBalancer } from '../../src/loadbalancer/load-balancer.ts';
import { defaultTargetOptions } from '../../src/config/service-options.ts';

const req = (method: string, headers: Record<string, string> = {}) => ({ method, headers }) as unknown as IncomingMessage;

test('invalid target names are rejected', () => {
  for (const bad of ['', '_', '/', 'a', 'host:port', '[::1]:80', 'a b:80']) {
    assert.throws(() => new LoadBalancer([bad], [], defaultTargetOptions()), /invalid host pattern/, bad);
  }
});

test('target names keep their order and get the default port', () => {
  const lb = new LoadBalancer(['one', 'two:3000', 'three.internal:8080'], [], defaultTargetOptions());
  assert.deepEqual(lb.writers.map((t) => t.address), ['one:80', 'two:3000', 'three.internal:8080']);
  lb.close();
});

test('waiting for health succeeds only when every target is healthy', async () => {
  const lb = new LoadBalancer(['one:1', 'two:2'], [], defaultTargetOptions());
  assert.equal(await lb.waitUntilHealthy(30), false);
  lb.writers[0]!.health = 'healthy';
  assert.equal(await lb.waitUntilHealthy(30), false);
  lb.markAllHealthy();
  assert.equal(await lb.waitUntilHealthy(30), true);
  lb.close();
});

test('readers take GET and HEAD; other methods go to writers; no readers means writers', () => {
  const lb = new LoadBalancer(['writer:1'], ['reader:2'], defaultTargetOptions());
  lb.markAllHealthy();
  for (const m of ['GET', 'HEAD']) assert.equal(lb.claimTarget(req(m))!.address, 'reader:2', m);
  for (const m of ['DELETE', 'PATCH', 'POST', 'PUT']) assert.equal(lb.claimTarget(req(m))!.address, 'writer:1', m);
  lb.close();
  const solo = new LoadBalancer(['writer:1'], [], defaultTargetOptions());
  solo.markAllHealthy();
  assert.equal(solo.claimTarget(req('GET'))!.address, 'writer:1');
  solo.close();
});

test('WebSocket upgrades go to writers unless readers accept them', () => {
  const ws = req('GET', { upgrade: 'websocket', connection: 'Upgrade' });
  const lb = new LoadBalancer(['writer:1'], ['reader:2'], defaultTargetOptions());
  lb.markAllHealthy();
  assert.equal(lb.claimTarget(ws)!.address, 'writer:1');
  const open = new LoadBalancer(['writer:1'], ['reader:2'], defaultTargetOptions(), true);
  open.markAllHealthy();
  assert.equal(open.claimTarget(ws)!.address, 'reader:2');
  lb.close();
  open.close();
});

test('a read with a live kamal-writer cookie goes to a writer', () => {
  const lb = new LoadBalancer(['writer:1'], ['reader:2'], defaultTargetOptions());
  lb.markAllHealthy();
  assert.equal(lb.claimTarget(req('GET', { cookie: `kamal-writer=${Date.now() + 500}` }))!.address, 'writer:1');
  assert.equal(lb.claimTarget(req('GET', { cookie: `kamal-writer=${Date.now() - 500}` }))!.address, 'reader:2');
  lb.close();
});

test('no healthy target: null (503)', () => {
  const lb = new LoadBalancer(['writer:1'], [], defaultTargetOptions());
  assert.equal(lb.claimTarget(req('GET')), null);
  lb.close();
});
