// Random bytes from /dev/urandom, the generator Go's crypto/rand (kamal-proxy)
// uses, for request ids and temp file names. Not node:crypto, which a proxy
// without TLS would otherwise load for these alone (bench/README.md,
// "Memory"). The descriptor stays open, close-on-exec.
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
