// A worker's stand-in for a service's napper answers the main thread's claim
// round (may the app nap?) from this thread's own requests only.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { RemoteNapper } from '../../src/workers/remote-napper.ts';
import type { WakeProgress } from '../../src/nap/nap-gate.ts';

const IDLE_TIMEOUT_MS = 30_000;

function remoteNapper(awake = true) {
  const progress: WakeProgress = { service: 'app', state: awake ? 'idle' : 'stopped', elapsedMs: 0, startAttempts: 0, probes: 0, ready: awake, error: '' };
  const flag = new Int32Array(new SharedArrayBuffer(4));
  flag[0] = awake ? 1 : 0;
  const told: Array<[boolean, number]> = [];
  const napper = new RemoteNapper('app', progress, flag, async () => ({ ok: true, progress }), (busy, atMs) => told.push([busy, atMs]));
  return { napper, progress, told };
}

test('a thread that has served no request yet is idle, however recently it started', () => {
  // A restarted proxy's app, overdue by the state file, must nap at once.
  const { napper } = remoteNapper();
  assert.deepEqual(napper.claimIdle(IDLE_TIMEOUT_MS), { idle: true, lastActivityMs: 0 });
  assert.equal(napper.state, 'stopping', 'holds what comes until the main thread decides');
  assert.equal(napper.awake, false);
});

test('a request in flight, or one that ended within the idle timeout, keeps the app up', () => {
  const { napper, told } = remoteNapper();
  napper.requestStarted();
  assert.equal(napper.claimIdle(IDLE_TIMEOUT_MS).idle, false);
  napper.requestEnded();
  const [[busy, startedAt], [idle, endedAt]] = told as [[boolean, number], [boolean, number]];
  assert.deepEqual([busy, idle], [true, false], 'the main thread is told when the first begins and the last ends');
  assert.deepEqual(napper.claimIdle(IDLE_TIMEOUT_MS), { idle: false, lastActivityMs: endedAt });
  assert.ok(endedAt >= startedAt);
  assert.equal(napper.state, 'idle', 'not claimed');
  assert.equal(napper.awake, true);
});

test("a claim ends with the main thread's next word: requests go on if the app stays up", () => {
  const { napper, progress } = remoteNapper();
  napper.claimIdle(IDLE_TIMEOUT_MS);
  napper.update(progress);
  assert.deepEqual([napper.state, napper.awake], ['idle', true]);
});
