// node:fs loaded as CommonJS, and promise versions of its callback API for
// the running proxy. An ES import of node:fs builds its namespace, whose lazy
// fs.promises getter loads node:fs/promises and more (bench/README.md,
// "Memory"; node:http has the same trap, src/http/node-http.ts). Import fs
// from here in the proxy's own code; `import type` is free. What needs
// FileHandle (spill files) or runs only with TLS uses fs.promises on demand.
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
