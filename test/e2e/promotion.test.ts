// Requests that are done must die young. A Set that gets an entry per request
// once made every request's objects reach V8's old generation after the first
// mark-compact under load (src/util/dense-set.ts, bench/README.md "Memory"):
// 10–20% fewer requests/s and 40 MiB more RSS, invisible to every functional
// test. This drives load through a real proxy with a mark-compact in the
// middle and reads, from V8's own GC trace, what each scavenge after it
// promoted: about 0.5 KB when requests die young, 100–350 KB with the Set.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';

// The median of what each scavenge after the first mark-compact promoted, in bytes.
async function medianPromotedAfterMarkCompact(): Promise<{ median: number; scavenges: number }> {
  const fixture = join(import.meta.dirname, '..', 'fixtures', 'promotion-probe.ts');
  // The young generation the bin script gives the proxy, so scavenges come as often as in production.
  const args = ['--expose-gc', '--max-semi-space-size=2', '--trace-gc-nvp', fixture, '3000', '12000'];
  const { stdout } = await promisify(execFile)(process.execPath, args, { maxBuffer: 64 * 1024 * 1024, timeout: 120_000 });
  const lines = stdout.split('\n');
  assert.ok(JSON.parse(lines.filter((l) => l.startsWith('{')).at(-1)!).requests >= 15000); // the load ran to the end
  // --trace-gc-nvp prints one line per collection: gc=s a scavenge, gc=mc a mark-compact.
  const firstMarkCompact = lines.findIndex((l) => / gc=mc /.test(l));
  assert.ok(firstMarkCompact !== -1, 'no mark-compact in the trace');
  const promoted = lines
    .slice(firstMarkCompact + 1)
    .filter((l) => / gc=s /.test(l))
    .map((l) => Number(/ promoted=(\d+)/.exec(l)![1]))
    .sort((a, b) => a - b);
  assert.ok(promoted.length >= 50, `only ${promoted.length} scavenges after the mark-compact`);
  return { median: promoted[Math.floor(promoted.length / 2)]!, scavenges: promoted.length };
}

// A churned Set flips every run: each mark-compact starts the chain again. A
// second run is allowed because a rarer, unexplained seed was seen when the
// app shared the heap (see the fixture); with the app apart it was not seen in
// 40 runs, and both runs failing would need it twice.
test('after a mark-compact under load, scavenges do not promote the requests that went through', async () => {
  const LIMIT_BYTES = 16 * 1024; // good: ~0.5 KB; with the Set: 100–350 KB
  const first = await medianPromotedAfterMarkCompact();
  if (first.median < LIMIT_BYTES) return;
  const second = await medianPromotedAfterMarkCompact();
  assert.ok(second.median < LIMIT_BYTES, `median promoted per scavenge after the mark-compact: ${first.median} B, then ${second.median} B (over ${second.scavenges} scavenges)`);
});
