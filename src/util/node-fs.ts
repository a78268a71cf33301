// node:fs, loaded as CommonJS, and the awaited file operations of the
// running proxy (state file, error pages, --nap-command pid files) on its
// callback API.
//
// Not an ES import of node:fs: building its namespace runs the lazy getter of
// fs.promises, which loads node:fs/promises with the readline, REPL-history
// and stream modules it needs, 1.2 MiB of RSS in the idle proxy
// (bench/README.md, "Memory"; node:http has the same trap, see
// src/http/node-http.ts). Import fs from here in the proxy's own code;
// `import type` is free. What needs FileHandle (spill files) or runs only with
// TLS still uses fs.promises, loaded on its first use.
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
export const fs = require('node:fs') as typeof import('node:fs');
// node:util is loaded by Node itself; only its ES namespace is dear.
const { promisify } = require('node:util') as typeof import('node:util');

export const fsAsync = {
  close: promisify(fs.close),
  fchmod: promisify(fs.fchmod),
  fsync: promisify(fs.fsync),
  mkdir: promisify(fs.mkdir),
  open: promisify(fs.open),
  readdir: promisify(fs.readdir),
  readFile: promisify(fs.readFile),
  rename: promisify(fs.rename),
  unlink: promisify(fs.unlink),
  writeFile: promisify(fs.writeFile),
};
