// DockerEngine against the fake Engine: the shared contract, plus what only a
// fake can show (timeouts, a dropped event stream, odd /version answers).
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, test } from 'node:test';
import { DockerEngine, DEFAULT_SOCKET_PATH, EngineError, endpointFromEnv } from '../../src/docker/engine.ts';
import { engineContract } from './engine-contract.ts';
import { FakeEngine, FakeFailure } from './fake-engine.ts';

engineContract('fake', async () => {
  const fake = await FakeEngine.start();
  const engine = new DockerEngine({ socketPath: fake.socketPath, timeoutMs: 2000 });
  return {
    engine,
    createContainer: async ({ name, labels }) => {
      const c = fake.add({ name, labels });
      return { id: c.id, name: c.name };
    },
    pauseContainer: async (id) => fake.setStatus(id, 'paused'),
    cleanup: async () => {
      await engine.close();
      await fake.close();
    },
  };
});

describe('DockerEngine (fake only)', () => {
  let fake: FakeEngine;
  let engine: DockerEngine;
  beforeEach(async () => {
    fake = await FakeEngine.start();
    engine = new DockerEngine({ socketPath: fake.socketPath, timeoutMs: 300 });
  });
  afterEach(async () => {
    await engine.close();
    await fake.close();
  });

  test('uses the daemon ApiVersion in every path, asking /version once', async () => {
    fake.apiVersion = '1.45';
    const c = fake.add({ name: 'app-web-1' });
    await engine.inspectContainer(c.id);
    await engine.startContainer(c.id);
    assert.deepEqual(fake.requests, ['GET /version', `GET /v1.45/containers/${c.id}/json`, `POST /v1.45/containers/${c.id}/start`]);
  });

  test('falls back to API 1.41 when /version gives no ApiVersion', async () => {
    fake.apiVersion = null;
    assert.equal(await engine.apiVersion(), '1.41');
    assert.equal(await engine.inspectContainer('nope'), null);
    assert.deepEqual(fake.requests, ['GET /version', 'GET /v1.41/containers/nope/json']);
  });

  test('a call that gets no answer rejects after the timeout', async () => {
    const c = fake.add({ name: 'slow' });
    fake.onAction = () => new Promise((r) => setTimeout(r, 2000));
    // The message proves it was our 300 ms timeout, not the fake's late answer.
    await assert.rejects(engine.startContainer(c.id), /did not answer POST \/v1\.41\/containers\/[0-9a-f]+\/start within 300 ms/);
  });

  test('stop waits for the grace period on top of the call timeout', async () => {
    const c = fake.add({ name: 'slow-stop', status: 'running' });
    // Answers after 500 ms, longer than the 300 ms call timeout but inside 1 s + 300 ms.
    fake.onAction = () => new Promise((r) => setTimeout(r, 500));
    await engine.stopContainer(c.id, 1);
    assert.equal(fake.get(c.id).status, 'exited');
    assert.ok(fake.requests.includes(`POST /v1.41/containers/${c.id}/stop?t=1`));
  });

  test('an Engine error keeps its message and status', async () => {
    const c = fake.add({ name: 'broken' });
    fake.onAction = () => {
      throw new FakeFailure(500, 'OCI runtime create failed: exec: "nope": not found');
    };
    await assert.rejects(engine.startContainer(c.id), (error: unknown) => {
      assert.ok(error instanceof EngineError);
      assert.equal(error.statusCode, 500);
      assert.equal(error.message, 'OCI runtime create failed: exec: "nope": not found');
      return true;
    });
  });

  test('start on a paused container is a 409 from the Engine', async () => {
    const c = fake.add({ name: 'paused', status: 'paused' });
    await assert.rejects(engine.startContainer(c.id), { statusCode: 409 });
  });

  test('reports an event stream that the daemon drops', async () => {
    let ended: Error | null = null;
    const stream = engine.events({ type: ['container'] }, () => {}, (e) => (ended = e));
    await stream.ready;
    assert.equal(fake.eventStreamCount, 1);
    fake.dropEventStreams();
    await waitUntil(() => ended !== null);
    assert.ok(ended! instanceof Error);
  });

  test('close() ends open event streams', async () => {
    const stream = engine.events({ type: ['container'] }, () => {});
    await stream.ready;
    assert.equal(fake.eventStreamCount, 1);
    await engine.close();
    await waitUntil(() => fake.eventStreamCount === 0);
  });
});

describe('DockerEngine socket', () => {
  test('a missing socket rejects with an Error naming it', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'no-docker-'));
    const engine = new DockerEngine({ socketPath: join(dir, 'docker.sock'), timeoutMs: 1000 });
    try {
      assert.equal(await engine.ping(), false);
      await assert.rejects(engine.inspectContainer('x'), new RegExp(`Docker Engine at ${dir}/docker.sock`));
      let ended: Error | null = null;
      const stream = engine.events({}, () => {}, (e) => (ended = e));
      await assert.rejects(stream.ready);
      await waitUntil(() => ended !== null);
    } finally {
      await engine.close();
      await rm(dir, { recursive: true, force: true });
    }
  });

  test('reads DOCKER_HOST=unix://… or plain tcp://…, and refuses TLS and other schemes', () => {
    assert.deepEqual(endpointFromEnv({}), { socketPath: DEFAULT_SOCKET_PATH });
    assert.deepEqual(endpointFromEnv({ DOCKER_HOST: '' }), { socketPath: DEFAULT_SOCKET_PATH });
    assert.deepEqual(endpointFromEnv({ DOCKER_HOST: 'unix:///run/user/1000/docker.sock' }), { socketPath: '/run/user/1000/docker.sock' });
    assert.deepEqual(endpointFromEnv({ DOCKER_HOST: 'tcp://docker-proxy:2375' }), { url: 'http://docker-proxy:2375' });
    assert.throws(() => endpointFromEnv({ DOCKER_HOST: 'tcp://docker-proxy:2376', DOCKER_TLS_VERIFY: '1' }), /not supported/);
    assert.throws(() => endpointFromEnv({ DOCKER_HOST: 'ssh://me@docker-host' }), /not supported/);
    assert.throws(() => endpointFromEnv({ DOCKER_HOST: 'tcp://docker-proxy:2375/v1.41' }), /expected tcp:\/\/host:port/);
  });
});

async function waitUntil(check: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 10));
  }
}
