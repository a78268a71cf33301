// Fills Node's compile cache with every module of src/ at install time, so
// that no start of the proxy has to load Node's TypeScript stripper: it is
// 17 MB of RSS (WebAssembly) for the lifetime of the process that loads it,
// and a proxy that found its modules cached runs up to 6% faster
// (bench/README.md, "Memory" and "Two builds side by side"). Without this,
// the first start after an install pays it, and so does a long-running
// proxy that loads a module for the first time (ACME on its first TLS
// service, the nap runtimes on its first napping one).
//
// package.json's "prepare" (run by `npm ci` and `npm install`) loads this
// with --import into `bin/kamal-proxy --help`, so the modules are compiled
// with the exact flags and cache directory of a real start; the cache is
// written when that process exits. Importing is safe: apart from the entry
// points (src/main.ts, which --help runs anyway, and src/demo/), modules only
// declare things at load. Worker threads (run --workers) find these same
// entries: they are keyed by file, not by thread.
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

const src = join(import.meta.dirname, '..', 'src');
const files = readdirSync(src, { recursive: true, encoding: 'utf8' })
  .filter((f) => f.endsWith('.ts') && f !== 'main.ts' && !f.startsWith('demo/'))
  .sort();
for (const f of files) await import(pathToFileURL(join(src, f)).href);
