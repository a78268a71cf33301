// DockerEngine against a real dockerd on /var/run/docker.sock (or DOCKER_HOST):
// the shared contract, plus one wake of a real app served on 127.0.0.1.
//
// With no daemon the suite is skipped, saying so; with
// KAMAL_NAPPER_REQUIRE_DOCKER=1 (CI, after test/docker/setup.sh) it fails instead.
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { DEFAULT_SOCKET_PATH, DockerEngine } from '../../src/docker/engine.ts';
import { DockerRuntime } from '../../src/nap/docker-runtime.ts';
import { docker, removeAllDockerApps, startDockerApp, waitForUp, withDocker } from '../helpers/docker-app.ts';
import { forwardTcpToUnix } from '../helpers/tcp-forwarder.ts';
import { engineContract } from './engine-contract.ts';

await withDocker('real Docker Engine tests', () => {
  after(removeAllDockerApps);

  // The same subject reached on the socket, and over TCP through a forwarder
  // (DOCKER_HOST=tcp://..., as through a filtering socket proxy).
  const realSubject = (overTcp: boolean) => async () => {
    const forwarder = overTcp ? await forwardTcpToUnix(DEFAULT_SOCKET_PATH) : null;
    const engine = forwarder ? new DockerEngine({ url: forwarder.url, timeoutMs: 10_000 }) : DockerEngine.fromEnv(process.env, 10_000);
    const apps = new Map<string, { remove(): Promise<void> }>();
    return {
      engine,
      createContainer: async ({ name, labels }: { name: string; labels: Record<string, string> }) => {
        // Our labels win over the helper's Kamal defaults (service/role/destination).
        const app = await startDockerApp({ name, start: false, ...kamalLabels(labels) });
        apps.set(app.id, app);
        return { id: app.id, name: app.name };
      },
      pauseContainer: async (id: string) => {
        await docker(['pause', id]);
      },
      cleanup: async () => {
        await Promise.allSettled([...apps.values()].map((a) => a.remove()));
        await engine.close();
        await forwarder?.close();
      },
    };
  };
  engineContract('real dockerd', realSubject(false));
  engineContract('real dockerd over tcp://', realSubject(true));

  describe('DockerRuntime (real dockerd)', () => {
    test('wakes a napping app and its job role; /up then answers on 127.0.0.1', async () => {
      const engine = DockerEngine.fromEnv(process.env, 10_000);
      const web = await startDockerApp({ role: 'web', version: 'v2', start: false, readyAfterMs: 200 });
      const job = await startDockerApp({ service: web.service, role: 'job', version: 'v2', start: false });
      const runtime = new DockerRuntime({ engine, container: web.shortId, group: true, stopTimeoutSeconds: 5 });
      try {
        assert.equal(await runtime.inspect(), 'stopped');
        const changes: string[] = [];
        const unsubscribe = runtime.onExternalChange((state) => changes.push(state));
        await runtime.start();
        assert.equal(await runtime.inspect(), 'running');
        await waitForUp(web, 10_000);
        await waitUntil(async () => (await engine.inspectContainer(job.id))?.running === true);

        await runtime.stop();
        assert.equal(await runtime.inspect(), 'stopped');
        assert.equal((await engine.inspectContainer(job.id))?.running, false);
        await assert.rejects(fetch(`${web.url}/up`, { signal: AbortSignal.timeout(1000) }));

        // Someone else starts it: that is an external change.
        await docker(['start', web.id]);
        await waitUntil(async () => changes.includes('running'));
        assert.deepEqual(changes, ['running']);
        unsubscribe();
      } finally {
        runtime.close();
        await web.remove();
        await job.remove();
        await engine.close();
      }
    });
  });
});

// The contract passes labels as a plain map; the helper wants Kamal's three
// as options (it always sets them) and anything else as extra labels.
function kamalLabels(labels: Record<string, string>) {
  const { service, role, destination, ...rest } = labels;
  return { service, role, destination, labels: rest };
}

async function waitUntil(check: () => Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
