// --workers / KAMAL_NAPPER_WORKERS: a number of threads, or auto (one per
// core, up to WORKERS_AUTO_MAX).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DEFAULT_WORKERS, WORKERS_AUTO_MAX } from '../../src/config/defaults.ts';
import { parseWorkers, workersSetting } from '../../src/config/workers.ts';

test('a number is that many threads; auto is one per core, at most WORKERS_AUTO_MAX', () => {
  assert.equal(parseWorkers('1', 8), 1);
  assert.equal(parseWorkers(' 3 ', 8), 3);
  assert.equal(parseWorkers('AUTO', 1), 1);
  assert.equal(parseWorkers('auto', 2), 2);
  assert.equal(parseWorkers('auto', 64), WORKERS_AUTO_MAX);
});

test('anything else is refused, saying what it takes', () => {
  for (const bad of ['0', '-1', '65', '1.5', 'two', '']) {
    assert.throws(() => parseWorkers(bad, 2), { message: `invalid --workers ${JSON.stringify(bad)}: a number of threads from 1 to 64, or auto` });
  }
});

test('the environment gives the default; unset or empty, the built-in one', () => {
  assert.equal(workersSetting({ KAMAL_NAPPER_WORKERS: 'auto' }), 'auto');
  assert.equal(workersSetting({ KAMAL_NAPPER_WORKERS: '' }), DEFAULT_WORKERS);
  assert.equal(workersSetting({}), DEFAULT_WORKERS);
});
