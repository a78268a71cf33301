// The start-up clean-up of the state directory, case by case: which temp
// files are ours to remove, and how an unparsable state file is kept aside.
// As the running proxy meets them: test/e2e/state-recovery.test.ts.
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readdir, readFile, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { keepCorruptAside } from '../../src/state/state-corrupt.ts';
import { loadStateFile, removeLeftoverTempFiles } from '../../src/state/state-file.ts';
import { tempPath } from '../../src/state/state-temp-files.ts';

let root: string;
before(async () => {
  root = await mkdtemp(join(tmpdir(), 'state-recovery-test-'));
});
after(async () => {
  await rm(root, { recursive: true, force: true });
});

const HOUR_MS = 3_600_000;

describe('removeLeftoverTempFiles', () => {
  test('removes only files named as our saves name them, last written before the given start', async () => {
    const dir = await mkdtemp(join(root, 'temp-'));
    const target = join(dir, 'kamal-proxy.state');
    const startedAtMs = Date.now();
    const old = new Date(startedAtMs - HOUR_MS);
    const names = {
      ours: '.kamal-proxy.state.12.00112233aabb.tmp',
      young: '.kamal-proxy.state.13.00112233aabb.tmp',
      dotIsLiteral: '.kamal-proxyXstate.14.00112233aabb.tmp',
      shortRandom: '.kamal-proxy.state.15.0011.tmp',
      upperHex: '.kamal-proxy.state.16.00112233AABB.tmp',
    };
    for (const [key, name] of Object.entries(names)) {
      await writeFile(join(dir, name), '');
      const time = key === 'young' ? new Date(startedAtMs + HOUR_MS) : old;
      await utimes(join(dir, name), time, time);
    }
    const directory = '.kamal-proxy.state.17.00112233aabb.tmp';
    await mkdir(join(dir, directory));
    await utimes(join(dir, directory), old, old);

    assert.deepEqual(removeLeftoverTempFiles(target, startedAtMs), [join(dir, names.ours)]);
    assert.deepEqual((await readdir(dir)).sort(), [directory, names.dotIsLiteral, names.shortRandom, names.young, names.upperHex].sort());
  });

  test('the name a save gives its temp file is one that is removed', async () => {
    const dir = await mkdtemp(join(root, 'named-'));
    const target = join(dir, 'kamal-proxy.state');
    const temp = tempPath(target);
    await writeFile(temp, '');
    const old = new Date(Date.now() - HOUR_MS);
    await utimes(temp, old, old);
    assert.deepEqual(removeLeftoverTempFiles(target, Date.now()), [temp]);
  });

  test('a missing directory removes nothing', () => {
    assert.deepEqual(removeLeftoverTempFiles(join(root, 'missing', 'kamal-proxy.state'), Date.now()), []);
  });
});

describe('an unparsable state file', () => {
  test('is renamed aside with a UTC timestamp, never over an earlier copy', async () => {
    const dir = await mkdtemp(join(root, 'corrupt-'));
    const target = join(dir, 'kamal-proxy.state');
    const now = new Date('2026-12-02T03:15:00.250Z');
    await writeFile(target, 'first');
    assert.equal(keepCorruptAside(target, now), `${target}.corrupt-20261202T031500Z`);
    await writeFile(target, 'second');
    assert.equal(keepCorruptAside(target, now), `${target}.corrupt-20261202T031500Z-2`);
    assert.deepEqual((await readdir(dir)).sort(), ['kamal-proxy.state.corrupt-20261202T031500Z', 'kamal-proxy.state.corrupt-20261202T031500Z-2']);
    assert.equal(await readFile(`${target}.corrupt-20261202T031500Z`, 'utf8'), 'first');
  });

  test('load moves it aside and says where; JSON that is not an array too', async () => {
    for (const text of ['[{"name":', '{"services":[]}', '']) {
      const dir = await mkdtemp(join(root, 'load-'));
      const target = join(dir, 'kamal-proxy.state');
      await writeFile(target, text);
      await assert.rejects(loadStateFile(target), (err: Error) => {
        assert.match(err.message, new RegExp(`; no service restored; kept it as ${target.replace(/\./g, '\\.')}\\.corrupt-\\d{8}T\\d{6}Z \\(the next save starts a new state file\\)$`));
        return true;
      });
      const [aside, ...rest] = await readdir(dir);
      assert.deepEqual(rest, []);
      assert.equal(await readFile(join(dir, aside!), 'utf8'), text);
    }
  });

  test('a file whose entries are bad one by one stays in place (the good ones are restored)', async () => {
    const dir = await mkdtemp(join(root, 'entries-'));
    const target = join(dir, 'kamal-proxy.state');
    await writeFile(target, '[{"name":""}]');
    const loaded = await loadStateFile(target);
    assert.equal(loaded!.errors.length, 1);
    assert.deepEqual(await readdir(dir), ['kamal-proxy.state']);
  });
});
