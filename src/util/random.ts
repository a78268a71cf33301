// Random bytes from the kernel's generator, read from /dev/urandom (Go's
// crypto/rand, which kamal-proxy uses, asks the same generator through
// getrandom(2)). For request ids and the names of temp files.
//
// Not node:crypto: loading it (38 modules and OpenSSL's state) is 2 MiB of
// RSS in a bare process, which a proxy that serves no TLS would otherwise
// carry for these alone (bench/README.md, "Memory"). A fill is one read(2);
// the descriptor stays open (Node opens it close-on-exec, so apps started by
// --nap-command do not inherit it).
import { fs } from './node-fs.ts';

const { openSync, readSync } = fs;

let urandom = -1;

export function randomFill(buf: Buffer): Buffer {
  if (urandom === -1) urandom = openSync('/dev/urandom', 'r');
  for (let at = 0; at < buf.length; ) at += readSync(urandom, buf, at, buf.length - at, null);
  return buf;
}

export function randomHex(bytes: number): string {
  return randomFill(Buffer.allocUnsafe(bytes)).toString('hex');
}
