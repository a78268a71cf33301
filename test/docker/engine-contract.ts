// The one contract DockerEngine must keep, run against both the fake Engine
// (engine-fake.test.ts) and a real dockerd (engine-real.test.ts). When the two
// disagree, the real one is right and the fake gets fixed.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { EngineError, type DockerEngine, type EngineEvent } from '../../src/docker/engine.ts';

export interface ContractContainer {
  id: string;
  name: string;
}

export interface EngineSubject {
  engine: DockerEngine;
  // Creates a container that is not started (status 'created'), with these
  // labels. It must exit promptly on SIGTERM.
  createContainer(options: { name: string; labels: Record<string, string> }): Promise<ContractContainer>;
  // Pauses it from outside our client (`docker pause`).
  pauseContainer(id: string): Promise<void>;
  // Removes what createContainer made and closes the engine.
  cleanup(): Promise<void>;
}

const WAIT_MS = 10_000;

export function engineContract(label: string, makeSubject: () => Promise<EngineSubject>): void {
  describe(`DockerEngine contract (${label})`, () => {
    let subject: EngineSubject;
    let engine: DockerEngine;
    // Random names so runs (and other tests on the same daemon) never collide.
    const prefix = `knt-contract-${randomBytes(4).toString('hex')}`;
    let serial = 0;
    const create = (labels: Record<string, string> = {}) =>
      subject.createContainer({ name: `${prefix}-${++serial}`, labels });

    before(async () => {
      subject = await makeSubject();
      engine = subject.engine;
    });
    after(async () => {
      await subject?.cleanup();
    });

    test('negotiates the API version with GET /version', async () => {
      assert.match(await engine.apiVersion(), /^1\.\d+$/);
      assert.equal(await engine.ping(), true);
    });

    test('inspects a container by full id, short id and name', async () => {
      const c = await create({ service: `${prefix}-svc`, role: 'web', destination: '' });
      const info = await engine.inspectContainer(c.id);
      assert.ok(info);
      assert.equal(info.id, c.id);
      assert.match(info.id, /^[0-9a-f]{64}$/);
      assert.equal(info.name, c.name);
      assert.equal(info.running, false);
      assert.equal(info.status, 'created');
      assert.deepEqual(
        { service: info.labels.service, role: info.labels.role, destination: info.labels.destination },
        { service: `${prefix}-svc`, role: 'web', destination: '' },
      );
      assert.ok(Math.abs(info.created - Date.now()) < 60_000, `created ${info.created} is not about now`);
      assert.equal((await engine.inspectContainer(c.id.slice(0, 12)))?.id, c.id);
      assert.equal((await engine.inspectContainer(c.name))?.id, c.id);
    });

    test('answers null for a container that does not exist', async () => {
      assert.equal(await engine.inspectContainer(`${prefix}-no-such-container`), null);
    });

    test('starts and stops a container; doing either twice is not an error', async () => {
      const c = await create();
      await engine.startContainer(c.id);
      assert.deepEqual(pick(await engine.inspectContainer(c.id)), { running: true, status: 'running' });
      await engine.startContainer(c.id); // 304: already running
      await engine.stopContainer(c.id, 5);
      assert.deepEqual(pick(await engine.inspectContainer(c.id)), { running: false, status: 'exited' });
      await engine.stopContainer(c.id, 5); // 304: already stopped
      await engine.startContainer(c.name); // by name, from exited
      assert.deepEqual(pick(await engine.inspectContainer(c.id)), { running: true, status: 'running' });
      await engine.stopContainer(c.id, 5);
    });

    test('a paused container is not running, and unpausing runs it again', async () => {
      const c = await create();
      await engine.startContainer(c.id);
      await subject.pauseContainer(c.id);
      assert.deepEqual(pick(await engine.inspectContainer(c.id)), { running: false, status: 'paused' });
      await engine.unpauseContainer(c.id);
      assert.deepEqual(pick(await engine.inspectContainer(c.id)), { running: true, status: 'running' });
      await engine.stopContainer(c.id, 5);
    });

    test("start and stop of a missing container reject with the Engine's message", async () => {
      const missing = `${prefix}-missing`;
      for (const call of [() => engine.startContainer(missing), () => engine.stopContainer(missing, 1)]) {
        await assert.rejects(call(), (error: unknown) => {
          assert.ok(error instanceof EngineError);
          assert.equal(error.statusCode, 404);
          assert.match(error.message, /No such container/);
          assert.match(error.message, new RegExp(missing));
          return true;
        });
      }
    });

    test('lists containers by labels; an empty destination matches only an empty label', async () => {
      const svc = `${prefix}-list`;
      const web = await create({ service: svc, role: 'web', destination: '' });
      const job = await create({ service: svc, role: 'job', destination: '' });
      const staging = await create({ service: svc, role: 'web', destination: 'staging' });
      const other = await create({ service: `${svc}-other`, role: 'web', destination: '' });
      const ids = async (labels: Record<string, string>, all: boolean) =>
        (await engine.listContainers({ labels, all })).map((c) => c.id).sort();

      assert.deepEqual(await ids({ service: svc, destination: '' }, true), [web.id, job.id].sort());
      assert.deepEqual(await ids({ service: svc, destination: 'staging' }, true), [staging.id]);
      assert.deepEqual(await ids({ service: `${svc}-other` }, true), [other.id]);
      // Without `all`, only running containers are listed.
      assert.deepEqual(await ids({ service: svc }, false), []);
      await engine.startContainer(web.id);
      const running = await engine.listContainers({ labels: { service: svc } });
      assert.deepEqual(
        running.map((c) => ({ id: c.id, name: c.name, running: c.running, status: c.status, role: c.labels.role })),
        [{ id: web.id, name: web.name, running: true, status: 'running', role: 'web' }],
      );
      assert.ok(Math.abs(running[0]!.created - Date.now()) < 60_000);
      await engine.stopContainer(web.id, 5);
    });

    test("reads a running container's memory; a created, stopped or missing one has none", async () => {
      const c = await create();
      assert.equal(await engine.containerMemoryBytes(c.id), null, 'created, never started');
      await engine.startContainer(c.id);
      const bytes = await engine.containerMemoryBytes(c.id);
      assert.ok(bytes !== null && bytes > 0 && bytes < 1024 ** 3, `a running container uses some memory: ${bytes}`);
      assert.ok(((await engine.containerMemoryBytes(c.name)) ?? 0) > 0, 'by name too');
      await engine.stopContainer(c.id, 5);
      assert.equal(await engine.containerMemoryBytes(c.id), null, 'stopped');
      assert.equal(await engine.containerMemoryBytes(`${prefix}-missing`), null, 'missing');
    });

    test('streams events for a container until closed', async () => {
      const c = await create({ service: `${prefix}-events` });
      const other = await create({ service: `${prefix}-events` });
      const seen: EngineEvent[] = [];
      let ended: Error | null = null;
      const stream = engine.events(
        { type: ['container'], container: [c.id] },
        (e) => seen.push(e),
        (error) => (ended = error),
      );
      await stream.ready;
      try {
        await engine.startContainer(other.id); // filtered out: another container
        await engine.startContainer(c.id);
        const start = await waitFor(() => seen.find((e) => e.action === 'start'), 'a start event');
        assert.equal(start.type, 'container');
        assert.equal(start.id, c.id);
        assert.equal(start.attributes.name, c.name);
        assert.equal(start.attributes.service, `${prefix}-events`);
        assert.ok(start.timeNano > 0);
        await engine.stopContainer(c.id, 5);
        await waitFor(() => seen.find((e) => e.action === 'die'), 'a die event');
        assert.ok(seen.every((e) => e.id === c.id), 'only events of the filtered container');
      } finally {
        stream.close();
      }
      const count = seen.length;
      await engine.startContainer(c.id);
      await engine.stopContainer(c.id, 5);
      await engine.stopContainer(other.id, 5);
      await new Promise((r) => setTimeout(r, 200));
      assert.equal(seen.length, count, 'no events after close()');
      assert.equal(ended, null, 'close() is not reported as an end');
    });
  });
}

function pick(info: { running: boolean; status: string } | null) {
  assert.ok(info, 'container exists');
  return { running: info.running, status: info.status };
}

async function waitFor<T>(get: () => T | undefined, what: string, timeoutMs = WAIT_MS): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = get();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}
