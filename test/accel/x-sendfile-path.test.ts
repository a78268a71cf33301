// Which X-Sendfile paths the proxy may serve: regular files whose real path
// lies inside a root, by whole path segments, after `..` and symlinks.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, realpathSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, describe, test } from 'node:test';
import { insideRoot, resolveSendfilePath } from '../../src/accel/x-sendfile-path.ts';
import { scratchDir } from '../helpers/scratch-dir.ts';

describe('insideRoot', () => {
  test('by whole segments', () => {
    assert.equal(insideRoot('/data/files/a.txt', '/data/files'), true);
    assert.equal(insideRoot('/data/files', '/data/files'), true);
    assert.equal(insideRoot('/data/files2/a.txt', '/data/files'), false);
    assert.equal(insideRoot('/data/file', '/data/files'), false);
    assert.equal(insideRoot('/data/files/a.txt', '/data/files/'), true);
    assert.equal(insideRoot('/etc/passwd', '/'), true);
  });
});

describe('resolveSendfilePath', () => {
  // base/files is the root; base/files2, base/secret are beside it.
  const base = realpathSync(scratchDir('kn-sendfile-path-'));
  const root = join(base, 'files');
  before(() => {
    mkdirSync(join(root, 'sub'), { recursive: true });
    mkdirSync(join(base, 'files2'));
    mkdirSync(join(base, 'secret'));
    mkdirSync(join(base, 'other-root'));
    writeFileSync(join(root, 'a.txt'), 'inside');
    writeFileSync(join(base, 'files2', 'a.txt'), 'beside');
    writeFileSync(join(base, 'secret', 'key'), 'secret');
    writeFileSync(join(base, 'other-root', 'b.txt'), 'other');
    symlinkSync(join(base, 'secret', 'key'), join(root, 'escape'));
    symlinkSync(join(base, 'secret'), join(root, 'escape-dir'));
    symlinkSync(join(root, 'a.txt'), join(root, 'alias'));
    symlinkSync(root, join(base, 'current')); // a root given through a symlink
    execFileSync('mkfifo', [join(root, 'fifo')]);
  });

  const reason = async (path: string, roots = [root]) => {
    const r = await resolveSendfilePath(path, roots);
    return r.ok ? `ok ${r.path}` : r.reason;
  };

  test('a file inside the root, with its size', async () => {
    const r = await resolveSendfilePath(join(root, 'a.txt'), [root]);
    assert.ok(r.ok);
    assert.equal(r.path, join(root, 'a.txt'));
    assert.equal(r.stat.size, 6n);
  });

  test('a sibling directory whose name starts with the root is outside', async () => {
    assert.equal(await reason(join(base, 'files2', 'a.txt')), 'outside');
  });

  test('`..` that leaves the root is outside; `..` that stays inside is fine', async () => {
    assert.equal(await reason(`${root}/../secret/key`), 'outside');
    assert.equal(await reason(`${root}/sub/../../secret/key`), 'outside');
    assert.equal(await reason(`${root}/sub/../a.txt`), `ok ${join(root, 'a.txt')}`);
  });

  test('a symlink inside the root that leads outside is refused, file or directory', async () => {
    assert.equal(await reason(join(root, 'escape')), 'outside');
    assert.equal(await reason(join(root, 'escape-dir', 'key')), 'outside');
    // Even for a file that does not exist there: nothing is learnt about outside.
    assert.equal(await reason(join(root, 'escape-dir', 'nothing')), 'outside');
  });

  test('a symlink that stays inside is served as its target', async () => {
    assert.equal(await reason(join(root, 'alias')), `ok ${join(root, 'a.txt')}`);
  });

  test('a root given through a symlink holds the files of its target, by either name', async () => {
    const link = join(base, 'current');
    assert.equal(await reason(join(link, 'a.txt'), [link]), `ok ${join(root, 'a.txt')}`);
    assert.equal(await reason(join(root, 'a.txt'), [link]), `ok ${join(root, 'a.txt')}`);
    assert.equal(await reason(join(base, 'secret', 'key'), [link]), 'outside');
  });

  test('any of several roots', async () => {
    const roots = [root, join(base, 'other-root')];
    assert.equal(await reason(join(base, 'other-root', 'b.txt'), roots), `ok ${join(base, 'other-root', 'b.txt')}`);
    assert.equal(await reason(join(base, 'secret', 'key'), roots), 'outside');
  });

  test('a missing file inside is missing; a directory or a FIFO is not a file', async () => {
    assert.equal(await reason(join(root, 'nope.txt')), 'missing');
    assert.equal(await reason(join(root, 'nodir', 'nope.txt')), 'missing');
    assert.equal(await reason(join(root, 'a.txt', 'below-a-file')), 'missing');
    assert.equal(await reason(join(root, 'sub')), 'not-a-file');
    assert.equal(await reason(root), 'not-a-file');
    assert.equal(await reason(join(root, 'fifo')), 'not-a-file');
  });

  test('relative paths, NUL bytes and roots that do not exist are refused', async () => {
    assert.equal(await reason('files/a.txt'), 'outside');
    assert.equal(await reason(`${root}/a.txt\0.jpg`), 'outside');
    assert.equal(await reason(join(root, 'a.txt'), [join(base, 'no-such-root')]), 'outside');
    assert.equal(await reason(join(root, 'a.txt'), []), 'outside');
  });
});
