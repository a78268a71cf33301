// What a proxy loads at start is memory it holds for good (bench/README.md,
// "Memory"): TLS, HTTP/2, Node's bundled fetch/WebSocket, npm undici,
// node:crypto, node:fs/promises and the ACME, Docker and CLI client modules
// each cost from a few hundred KiB to megabytes, and a proxy whose services
// run without TLS or napping needs none of them. One ES import of node:fs,
// node:util, node:http or node:crypto anywhere on the way would bring some
// back; this catches that.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { test } from 'node:test';

test('a proxy with plain-HTTP services loads no TLS, HTTP/2, crypto, fs/promises, zlib or undici, nor the ACME, Docker or CLI client modules, until it needs them', () => {
  const out = execFileSync(process.execPath, [join(import.meta.dirname, '..', 'fixtures', 'lazy-modules-probe.ts')], { encoding: 'utf8', timeout: 30_000 });
  const { atStart, afterHttps, afterCli, afterDeploy } = JSON.parse(out.trim().split('\n').at(-1)!);
  // After a restore of three services, a proxied request and a state save:
  assert.equal(atStart.status, 200);
  assert.equal(atStart.restored, true); // the probe does see our modules load
  assert.deepEqual(atStart.builtins, []);
  assert.deepEqual(atStart.ours, []);
  assert.equal(atStart.undici, false);
  // A connection to the HTTPS port loads TLS (with node:crypto) and HTTP/2, nothing else.
  assert.deepEqual(afterHttps.builtins.sort(), ['crypto', 'http2', 'tls']);
  assert.deepEqual(afterHttps.ours, []);
  assert.equal(afterHttps.undici, false);
  // The CLI as `kamal-proxy run` loads it: the run verb, not the client verbs.
  assert.equal(afterCli.run, true);
  assert.deepEqual(afterCli.ours, []);
  // A deploy's health checks go through our own client: undici's WebAssembly
  // parser would leave megabytes of malloc's heap behind.
  assert.equal(afterDeploy.undici, false);
});
