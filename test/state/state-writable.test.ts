// The check a command makes before it changes anything (checkStateWritable),
// and the explanation a failed save carries. Permission failures need another
// uid: test/e2e/state-unwritable.test.ts.
import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { checkStateWritable, saveStateFile, StateSaveError } from '../../src/state/state-file.ts';

describe('checkStateWritable', () => {
  let root: string;
  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'state-writable-test-'));
  });
  after(async () => {
    await rm(root, { recursive: true, force: true });
  });

  test('creates a missing directory (0700) as a save would, and leaves nothing in it', async () => {
    const dir = join(root, 'fresh', 'kamal-proxy');
    await checkStateWritable(join(dir, 'kamal-proxy.state'));
    assert.equal((await stat(dir)).mode & 0o777, 0o700);
    assert.deepEqual(await readdir(dir), []);
  });

  test('a directory that cannot be made: rejects naming the state path and the cause', async () => {
    const blocked = join(root, 'blocked');
    await writeFile(blocked, 'a file where the directory should be');
    const path = join(blocked, 'kamal-proxy.state');
    await assert.rejects(checkStateWritable(path), (err: unknown) => {
      assert.ok(err instanceof StateSaveError);
      assert.equal(err.code, 'EEXIST');
      assert.equal(err.message, `cannot save state to ${path}: EEXIST: file already exists, mkdir '${blocked}'`);
      return true;
    });
  });

  test('a failed save carries the same explanation', async () => {
    const blocked = join(root, 'blocked-save');
    await writeFile(blocked, '');
    const path = join(blocked, 'kamal-proxy.state');
    await assert.rejects(saveStateFile(path, []), { code: 'EEXIST', message: `cannot save state to ${path}: EEXIST: file already exists, mkdir '${blocked}'` });
  });
});
