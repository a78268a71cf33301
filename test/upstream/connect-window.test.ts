// The connect window's arithmetic (src/upstream/connect-window.ts); the pool
// tests and test/e2e/wake-burst.test.ts show what it does on real sockets.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ConnectWindow } from '../../src/upstream/connect-window.ts';

const answer = (w: ConnectWindow, n: number) => {
  for (let i = 0; i < n; i++) w.answered();
};

describe('connect window', () => {
  test('grows by one per answer up to the threshold, then by one per window of answers', () => {
    const w = new ConnectWindow(4, 8, 100);
    assert.equal(w.size, 4);
    answer(w, 4);
    assert.equal(w.size, 8);
    answer(w, 8);
    assert.equal(w.size, 9);
    answer(w, 9);
    assert.equal(w.size, 10);
  });

  test('never beyond its maximum', () => {
    const w = new ConnectWindow(4, 100, 10);
    answer(w, 50);
    assert.equal(w.size, 10);
  });

  test('a stalled connect halves it, and slow start ends there from then on', () => {
    const w = new ConnectWindow(4, 100, 100);
    answer(w, 28);
    assert.equal(w.size, 32);
    w.stalled();
    assert.equal(w.size, 16);
    answer(w, 16);
    assert.equal(w.size, 17, 'past the new threshold: one per window of answers');
    w.stalled();
    w.stalled();
    w.stalled();
    assert.equal(w.size, 4, 'never below where it started');
  });

  test('restart() goes back to the start, keeping the threshold learnt', () => {
    const w = new ConnectWindow(4, 100, 100);
    answer(w, 12);
    w.stalled(); // threshold 8
    w.restart();
    assert.equal(w.size, 4);
    answer(w, 4);
    assert.equal(w.size, 8);
    answer(w, 1);
    assert.equal(w.size, 8);
  });
});
