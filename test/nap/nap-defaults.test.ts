// Which deploys nap, and with what, when Kamal drives us: its deploy lines
// carry none of our flags, so a Kamal app container naps by default (with
// Docker access), its `kamal-napper.*` labels tune or opt out, and flags
// still win. Against the fake Engine; the real one is in the Kamal replay.
import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, test } from 'node:test';
import { DockerEngine } from '../../src/docker/engine.ts';
import { loadNapConfig } from '../../src/nap/nap-config.ts';
import type { NapConfig } from '../../src/nap/nap-config.ts';
import { napFlagsFromLabels, LabelError } from '../../src/config/option-labels.ts';
import { napFlagsFor, resolveNapOptions } from '../../src/router/napping.ts';
import { FakeEngine } from '../docker/fake-engine.ts';

let fake: FakeEngine;
let engine: DockerEngine;

beforeEach(async () => {
  fake = await FakeEngine.start();
  engine = new DockerEngine({ socketPath: fake.socketPath, timeoutMs: 2000 });
});
afterEach(async () => {
  await engine.close();
  await fake.close();
});

const config = (idleTimeout = '15m'): NapConfig => loadNapConfig({ KAMAL_NAPPER_IDLE_TIMEOUT: idleTimeout }, '/nonexistent');
const env = (c: NapConfig, docker: DockerEngine | null = engine) => ({ config: c, docker, runtimeDir: '/nonexistent' });

// As Kamal starts them: three labels, the destination one empty when there is none.
function kamalApp(labels: Record<string, string> = {}, role = 'web') {
  const name = `app-${role}-${Math.random().toString(16).slice(2, 10)}`;
  const c = fake.add({ name, status: 'running', labels: { service: 'app', role, destination: '', ...labels } });
  return { target: `${c.id.slice(0, 12)}:80`, name };
}

describe('napping by default for Kamal app containers', () => {
  test('a Kamal app container with no flags or labels naps with the proxy-wide defaults', async () => {
    const { target } = kamalApp();
    const flags = await napFlagsFor('app-web', null, [target], env(config('15m')));
    assert.deepEqual(flags, {});
    assert.equal(resolveNapOptions(flags!, config('15m')).idleTimeoutMs, 15 * 60_000);
  });

  test('KAMAL_NAPPER_IDLE_TIMEOUT=0 turns the default off; a label opts in', async () => {
    const plain = kamalApp();
    assert.equal(await napFlagsFor('app-web', null, [plain.target], env(config('0'))), null);
    const labelled = kamalApp({ 'kamal-napper.idle-timeout': '30m' });
    assert.deepEqual(await napFlagsFor('app-web', null, [labelled.target], env(config('0'))), { idleTimeoutMs: 30 * 60_000 });
  });

  test('a label of "0" opts out: the app never naps', async () => {
    const { target } = kamalApp({ 'kamal-napper.idle-timeout': '0' });
    const flags = await napFlagsFor('app-web', null, [target], env(config('15m')));
    assert.equal(resolveNapOptions(flags!, config('15m')).idleTimeoutMs, 0);
  });

  test('labels take Go durations or plain seconds, and booleans as Go does', async () => {
    const { target } = kamalApp({ 'kamal-napper.idle-timeout': '90', 'kamal-napper.wake-timeout': '2m30s', 'kamal-napper.nap-group': 'true' }, 'job');
    assert.deepEqual(await napFlagsFor('app-job', null, [target], env(config())), { idleTimeoutMs: 90_000, wakeTimeoutMs: 150_000, group: true });
  });

  test('deploy flags win over labels, labels over the environment', async () => {
    const { target } = kamalApp({ 'kamal-napper.idle-timeout': '30m', 'kamal-napper.wake-timeout': '20s' });
    const flags = await napFlagsFor('app-web', { idleTimeoutMs: 5_000, wakeTimeoutMs: null, container: '', command: '', group: false }, [target], env(config('15m')));
    assert.deepEqual(flags, { idleTimeoutMs: 5_000, wakeTimeoutMs: 20_000, group: false });
    assert.equal(resolveNapOptions(flags!, config('15m')).wakeTimeoutMs, 20_000);
  });

  test('a bad label value is a deploy error naming the label and the container', async () => {
    const { target, name } = kamalApp({ 'kamal-napper.idle-timeout': 'soon' });
    await assert.rejects(napFlagsFor('app-web', null, [target], env(config())), (err: Error) => {
      assert.ok(err instanceof LabelError);
      assert.match(err.message, /kamal-napper\.idle-timeout="soon"/);
      assert.ok(err.message.includes(name), err.message);
      return true;
    });
  });

  test('an unknown kamal-napper.* label is an error; labels that name another app to run are not settable', () => {
    assert.throws(() => napFlagsFromLabels({ 'kamal-napper.idle-timout': '5m' }, 'c'), /unknown setting/);
    assert.throws(() => napFlagsFromLabels({ 'kamal-napper.nap-command': 'rm -rf /' }, 'c'), /unknown setting/);
    assert.throws(() => napFlagsFromLabels({ 'kamal-napper.idle-timeout': '-5m' }, 'c'), /negative/);
    assert.throws(() => napFlagsFromLabels({ 'kamal-napper.nap-group': 'yes' }, 'c'), /true or false/);
    assert.deepEqual(napFlagsFromLabels({ service: 'app', 'other.label': 'x' }, 'c'), {});
  });

  test('accessories (no role label), other containers and non-container targets never nap by default', async () => {
    const db = fake.add({ name: 'app-db', status: 'running', labels: { service: 'app-db' } });
    assert.equal(await napFlagsFor('app-db', null, [`${db.id.slice(0, 12)}:5432`], env(config())), null);
    const other = fake.add({ name: 'grafana', status: 'running', labels: {} });
    assert.equal(await napFlagsFor('grafana', null, [`${other.id.slice(0, 12)}:3000`], env(config())), null);
    assert.equal(await napFlagsFor('local', null, ['127.0.0.1:3000'], env(config())), null);
  });

  test('without Docker access only flags make a service nap', async () => {
    const { target } = kamalApp({ 'kamal-napper.idle-timeout': '30m' });
    assert.equal(await napFlagsFor('app-web', null, [target], env(config(), null)), null);
    assert.deepEqual(await napFlagsFor('app-web', { idleTimeoutMs: 1000 }, [target], env(config(), null)), { idleTimeoutMs: 1000 });
  });

  test('a --nap-command deploy never looks at Docker', async () => {
    await fake.close(); // any Engine call would now fail
    assert.deepEqual(await napFlagsFor('p', { command: 'sleep 1' }, ['127.0.0.1:1'], env(config())), { command: 'sleep 1' });
    fake = await FakeEngine.start();
  });
});

describe('the napping config takes Go durations or seconds', () => {
  test('environment values', () => {
    const c = loadNapConfig({ KAMAL_NAPPER_IDLE_TIMEOUT: '5s', KAMAL_NAPPER_POLL_INTERVAL: '2', KAMAL_NAPPER_WAKE_TIMEOUT: '1m30s' }, '/nonexistent');
    assert.equal(c.idleTimeoutMs, 5_000);
    assert.equal(c.pollIntervalMs, 2_000);
    assert.equal(c.wakeTimeoutMs, 90_000);
    assert.equal(loadNapConfig({ KAMAL_NAPPER_STARTUP_TIMEOUT: '45' }, '/nonexistent').wakeTimeoutMs, 45_000);
    assert.equal(loadNapConfig({}, '/nonexistent').idleTimeoutMs, 15 * 60_000);
    assert.throws(() => loadNapConfig({ KAMAL_NAPPER_IDLE_TIMEOUT: 'soon' }, '/nonexistent'), /idle_timeout must be a duration/);
  });
});
