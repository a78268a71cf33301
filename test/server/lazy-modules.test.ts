// What a proxy loads at start is memory it holds for good (bench/README.md,
// "Memory"): TLS, HTTP/2, Node's bundled fetch/WebSocket and npm undici each
// cost megabytes, and a proxy with no TLS service needs none of them until its
// HTTPS port is used. One ES import of node:http or node:tls anywhere would
// bring them back; this catches that.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { test } from 'node:test';

test('a proxy without TLS services loads no TLS, HTTP/2 or undici until its HTTPS port gets a connection', () => {
  const out = execFileSync(process.execPath, [join(import.meta.dirname, '..', 'fixtures', 'lazy-modules-probe.ts')], { encoding: 'utf8', timeout: 30_000 });
  const { atStart, afterHttps } = JSON.parse(out.trim().split('\n').at(-1)!);
  assert.deepEqual(atStart, { builtins: [], undici: false });
  assert.deepEqual(afterHttps.builtins.sort(), ['http2', 'tls']);
  assert.equal(afterHttps.undici, false);
});
