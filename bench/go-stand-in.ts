// A Go reverse proxy beside ours (bench/fixtures/go-stand-in/main.go): Go's
// stdlib reverse proxy, which kamal-proxy is built on, standing in for
// kamal-proxy, which cannot be obtained here. Built from source on each run, as
// the source is all that is committed.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Backend } from './backend.ts';
import { run, start } from './children.ts';
import { freePort, HOST, waitForPort } from './net.ts';
import type { Target } from './targets.ts';
import { ROOT } from './tools.ts';

// A file, not its directory: GOPATH mode refuses an absolute package path.
const SOURCE = join(ROOT, 'bench', 'fixtures', 'go-stand-in', 'main.go');

// GOPATH mode (no go.mod, so nothing to download) and a cache of our own in the
// temp dir, so the build neither reads the user's GOFLAGS nor leaves files behind.
async function build(dir: string, go: string): Promise<string> {
  const out = join(dir, 'go-stand-in');
  mkdirSync(out);
  const env: NodeJS.ProcessEnv = { ...process.env, GO111MODULE: 'off', GOCACHE: join(out, 'cache') };
  delete env.GOFLAGS;
  const bin = join(out, 'go-stand-in');
  // Seconds with Debian's Go 1.19, which ships its stdlib compiled; a newer Go
  // first compiles net/http into the empty cache.
  const r = await run(go, ['build', '-o', bin, SOURCE], { env, timeoutMs: 300_000 });
  if (r.code !== 0) throw new Error(`go build of the Go stand-in failed (exit ${r.timedOut ? 'timeout' : r.code}):\n${r.stdout}${r.stderr}`);
  return bin;
}

export async function startGoStandIn(dir: string, go: string, backend: Backend): Promise<Target & { pid: number }> {
  const bin = await build(dir, go);
  const port = await freePort();
  // stderr only carries proxy errors (it logs no requests), worth seeing at once.
  const child = start('Go stand-in', bin, ['-listen', `${HOST}:${port}`, '-backend', `${HOST}:${backend.port}`], { stderr: 'inherit' });
  await waitForPort(port, 'Go stand-in');
  return { name: 'Go stand-in', port, pid: child.proc.pid! };
}
