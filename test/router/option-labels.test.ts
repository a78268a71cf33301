// Our deploy options from a Kamal app container's `kamal-napper.<flag>`
// labels, as a deploy driven by Kamal gets them (Kamal sends only
// kamal-proxy's flags): a label sets an option, a flag given on the command
// line wins, a bad label fails the deploy naming it. Against the fake Engine;
// the container is named after the address the target is reached at, so
// health checks go to a real backend on 127.0.0.1.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { DockerEngine } from '../../src/docker/engine.ts';
import { loadNapConfig } from '../../src/nap/nap-config.ts';
import { Router } from '../../src/router/router.ts';
import { FakeEngine } from '../docker/fake-engine.ts';
import { startBackend } from '../helpers/backend.ts';
import type { Backend } from '../helpers/backend.ts';
import { deployParams, quietLogs } from '../helpers/proxy.ts';
import { scratchDir } from '../helpers/scratch-dir.ts';

describe('deploy options from container labels', () => {
  let fake: FakeEngine;
  let engine: DockerEngine;
  let app: Backend;
  let router: Router;

  before(async () => {
    quietLogs();
    fake = await FakeEngine.start();
    engine = new DockerEngine({ socketPath: fake.socketPath, timeoutMs: 2000 });
    app = await startBackend('app');
    const dir = scratchDir('kn-labels-');
    // Idle timeout 0: no napping by default, so only the labels under test act.
    const config = loadNapConfig({ KAMAL_NAPPER_IDLE_TIMEOUT: '0' }, '/nonexistent');
    router = new Router(join(dir, 'kamal-proxy.state'), { config, docker: engine, runtimeDir: dir });
  });
  after(async () => {
    router.close();
    await engine.close();
    await fake.close();
    await app.close();
  });

  const kamalApp = (labels: Record<string, string>) => {
    if (fake.find('127.0.0.1') !== undefined) fake.remove('127.0.0.1');
    fake.add({ name: '127.0.0.1', status: 'running', labels: { service: 'app', role: 'web', destination: '', ...labels } });
  };

  test('a label sets one of our target options', async () => {
    kamalApp({ 'kamal-napper.compress': 'true', 'kamal-napper.http-cache-size': '1048576' });
    await router.deploy(deployParams('app-web', [app.address]));
    const o = router.service('app-web')!.targetOptions;
    assert.equal(o.compress, true);
    assert.equal(o.httpCacheSizeBytes, 1_048_576);
  });

  test('a flag given on the command line wins over the label', async () => {
    kamalApp({ 'kamal-napper.compress': 'true' });
    await router.deploy({ ...deployParams('app-web', [app.address], { target: { compress: false } }), flagsGiven: ['compress'] });
    assert.equal(router.service('app-web')!.targetOptions.compress, false);
  });

  test('without the label the option keeps its flag value', async () => {
    kamalApp({});
    await router.deploy(deployParams('app-web', [app.address], { target: { compress: true } }));
    assert.equal(router.service('app-web')!.targetOptions.compress, true);
  });

  test('a label that does not parse fails the deploy, naming it', async () => {
    kamalApp({ 'kamal-napper.compress': 'maybe' });
    await assert.rejects(router.deploy(deployParams('app-web', [app.address])), /kamal-napper\.compress="maybe".*true or false/);
  });
});
