import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { test } from 'node:test';
import { DenseSet, denseSlot, type DenseSetMember } from '../../src/util/dense-set.ts';

type Item = DenseSetMember & { n: number };
const item = (n: number): Item => ({ n });

test('add, has, delete and size, with members deleted from the middle', () => {
  const set = new DenseSet<Item>();
  const items = [item(0), item(1), item(2), item(3)];
  for (const i of items) set.add(i);
  set.add(items[1]!); // twice: still one member
  assert.equal(set.size, 4);
  assert.equal(set.delete(items[1]!), true);
  assert.equal(set.delete(items[1]!), false);
  assert.equal(set.has(items[1]!), false);
  assert.equal(items[1]![denseSlot], undefined);
  assert.equal(set.delete(item(9)), false);
  assert.deepEqual(set.values().map((i) => i.n).sort(), [0, 2, 3]);
  for (const i of [items[0]!, items[2]!, items[3]!]) assert.equal(set.has(i), true);
  set.delete(items[3]!); // the last one
  set.delete(items[0]!);
  assert.deepEqual(set.values().map((i) => i.n), [2]);
  set.add(items[1]!); // back in after it left
  assert.deepEqual(set.values().map((i) => i.n).sort(), [1, 2]);
});

test('members can leave while the set is walked, as drain() cancels them', () => {
  const set = new DenseSet<Item>();
  const items = Array.from({ length: 10 }, (_, n) => item(n));
  for (const i of items) set.add(i);
  const seen: number[] = [];
  for (const i of set) {
    seen.push(i.n);
    set.delete(i);
  }
  assert.deepEqual(seen.sort((a, b) => a - b), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  assert.equal(set.size, 0);
});

test('a member of one set cannot join another (its index lives on it)', () => {
  const a = new DenseSet<Item>();
  const b = new DenseSet<Item>();
  const i = item(1);
  a.add(i);
  assert.throws(() => b.add(i), /another DenseSet/);
  assert.equal(b.has(i), false);
  a.delete(i);
  b.add(i);
  assert.equal(b.has(i), true);
});

// The reason it exists (src/util/dense-set.ts): after a mark-compact, a
// churned Set keeps its departed members alive into the old generation; a
// DenseSet does not. The Set run is the control that shows the measurement
// sees the difference.
test('members that left are not promoted under churn after a mark-compact, as they are with a Set', async () => {
  const fixture = fileURLToPath(new URL('../fixtures/dense-set-churn.ts', import.meta.url));
  const growth = async (kind: string): Promise<number> => {
    const { stdout } = await promisify(execFile)(process.execPath, ['--expose-gc', fixture, kind]);
    return Number(stdout.trim());
  };
  const dense = await growth('dense');
  const set = await growth('set');
  assert.ok(set > 1024 * 1024, `control: a Set should have promoted its departed members (old space grew ${set} B); if V8 no longer does, DenseSet may no longer be needed`);
  assert.ok(dense < 256 * 1024, `DenseSet: old space grew ${dense} B under churn (Set: ${set} B)`);
});
