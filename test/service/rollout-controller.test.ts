import assert from 'node:assert/strict';
import { test } from 'node:test';
import { fnv1a32, rolloutState, usesRollout } from '../../src/service/rollout-controller.ts';

test('FNV-1a 32-bit matches the reference vectors', () => {
  assert.equal(fnv1a32(''), 0x811c9dc5);
  assert.equal(fnv1a32('a'), 0xe40c292c);
  assert.equal(fnv1a32('foobar'), 0xbf9cf968);
});

test('split point is percentage% of 2^32-1, as kamal-proxy stores it', () => {
  assert.equal(Math.trunc(rolloutState(20, []).percentageSplitPoint), 858993459);
});

test('allowlisted cookie values always use the rollout; no cookie never does', () => {
  const split = rolloutState(0, ['1', 'beta']);
  assert.equal(usesRollout(split, 'kamal-rollout=1'), true);
  assert.equal(usesRollout(split, 'a=b; kamal-rollout="beta"; c=d'), true);
  assert.equal(usesRollout(split, 'kamal-rollout=2'), false);
  assert.equal(usesRollout(split, undefined), false);
  assert.equal(usesRollout(split, 'other=1'), false);
});

// The same values kamal-proxy's own test uses (%05d), so the same counts must come out.
test('a 60% split sends about 600 of 1000 distinct values', () => {
  const split = rolloutState(60, []);
  let n = 0;
  for (let i = 0; i < 1000; i++) if (usesRollout(split, `kamal-rollout=${String(i).padStart(5, '0')}`)) n++;
  assert.ok(Math.abs(n - 600) <= 20, `got ${n}`);
});

test('10% plus an allowlist: about 100, allowlisted values always in', () => {
  const split = rolloutState(10, ['00001', '00002']);
  let n = 0;
  for (let i = 0; i < 1000; i++) if (usesRollout(split, `kamal-rollout=${String(i).padStart(5, '0')}`)) n++;
  assert.ok(Math.abs(n - 100) <= 20, `got ${n}`);
  assert.equal(usesRollout(split, 'kamal-rollout=00001'), true);
});
