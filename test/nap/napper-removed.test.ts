// `kamal app stop` runs `kamal-proxy remove`, then stops the container: a
// wake still retrying must not start the app again once its service is gone.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Napper } from '../../src/nap/napper.ts';
import type { Runtime, RuntimeState } from '../../src/nap/runtime.ts';

class FailingRuntime implements Runtime {
  readonly description = 'test:failing';
  starts = 0;
  onStart: () => void = () => {};
  async inspect(): Promise<RuntimeState> {
    return 'stopped';
  }
  async start(): Promise<void> {
    this.starts++;
    this.onStart();
    throw new Error('Docker is busy');
  }
  async stop(): Promise<void> {}
  close(): void {}
}

test('a wake in its retry backoff stops retrying when the service is removed', async () => {
  const runtime = new FailingRuntime();
  const hooks = { probe: async () => false, ready() {}, asleep() {}, changed() {} };
  const napper = new Napper(
    'app-web',
    { idleTimeoutMs: 60_000, wakeTimeoutMs: 30_000, runtime: { kind: 'docker', container: '', group: false } },
    [runtime],
    hooks,
    { maxRetries: 3, pollIntervalMs: 0 },
    { options: { idleTimeoutMs: 60_000, wakeTimeoutMs: 30_000, runtime: { kind: 'docker', container: '', group: false } }, asleep: true, lastActivityMs: 0, wakes: 0 },
  );
  // Removed right after the first failed start, while the retry waits.
  runtime.onStart = () => queueMicrotask(() => napper.close());
  await assert.rejects(napper.wake('GET /'), /the service was removed/);
  assert.equal(runtime.starts, 1);
});
