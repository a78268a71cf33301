// The nap runtime kinds: what each builds, and where the service lifecycle
// treats them differently (an app we own stops with its service; another
// command is another app; only containers carry Kamal labels).
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { DockerEngine } from '../../src/docker/engine.ts';
import type { NapRuntimeSpec } from '../../src/config/nap-options.ts';
import { DockerDisabledError, buildRuntimes, runtimeKind } from '../../src/nap/runtimes.ts';
import { scratchDir } from '../helpers/scratch-dir.ts';
import { FakeEngine } from '../docker/fake-engine.ts';

const process1: NapRuntimeSpec = { kind: 'process', command: 'run one' };
const process2: NapRuntimeSpec = { kind: 'process', command: 'run two' };
const targets: NapRuntimeSpec = { kind: 'docker', container: '', group: false };

describe('runtime kinds', () => {
  test('a process is ours: it stops with its service, and another command replaces it only once stopped', () => {
    const kind = runtimeKind(process1);
    assert.equal(kind.ownsApp, true);
    assert.equal(kind.readsLabels, false);
    assert.equal(kind.stopsBeforeReplacing(process1, { kind: 'process', command: 'run one' }), false, 'the same app');
    assert.equal(kind.stopsBeforeReplacing(process1, process2), true, 'another command');
    assert.equal(kind.stopsBeforeReplacing(process1, targets), true, 'a container instead');
  });

  test("containers are Kamal's: never stopped by a deploy or a removal, and they carry its labels", () => {
    const kind = runtimeKind(targets);
    assert.equal(kind.ownsApp, false);
    assert.equal(kind.readsLabels, true);
    assert.equal(kind.stopsBeforeReplacing(targets, process1), false);
  });
});

describe('buildRuntimes', () => {
  let fake: FakeEngine;
  let engine: DockerEngine;
  before(async () => {
    fake = await FakeEngine.start();
    engine = new DockerEngine({ socketPath: fake.socketPath, timeoutMs: 2000 });
  });
  after(async () => {
    await engine.close();
    await fake.close();
  });

  test('a process: one runtime', async () => {
    const [runtime, ...more] = await buildRuntimes('app/web', process1, ['127.0.0.1:3000'], { docker: null, runtimeDir: scratchDir('kn-runtimes-') });
    assert.deepEqual(more, []);
    assert.match(runtime!.description, /^process:/);
    runtime!.close();
  });

  test("containers: the named one, or each writer target's host once", async () => {
    const env = { docker: engine, runtimeDir: '/nonexistent' };
    const each = await buildRuntimes('app', targets, ['c1:80', 'c2:80', 'c1:3000'], env);
    assert.deepEqual(each.map((r) => r.description), ['docker:c1', 'docker:c2']);
    const named = await buildRuntimes('app', { kind: 'docker', container: 'c9', group: true }, ['c1:80'], env);
    assert.deepEqual(named.map((r) => r.description), ['docker:c9 (group)']);
    for (const r of [...each, ...named]) r.close();
  });

  test('containers without Docker access are refused', async () => {
    await assert.rejects(buildRuntimes('app', targets, ['c1:80'], { docker: null, runtimeDir: '/nonexistent' }), DockerDisabledError);
  });
});
