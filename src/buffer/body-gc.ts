// Body data crosses the proxy in 64 KiB Buffers whose bytes live outside
// V8's heap. When V8 decides whether to collect, it weighs mostly their small
// JavaScript wrappers, so the bytes of a big upload pile up as garbage: a
// buffered 1 GB body (32,768 of these pieces in, as many out of the spill
// file) grew RSS by 17–33 MiB, depending on how large the heap happened to be
// (bench/README.md, "Why the figure depends on the GC"). So every
// BODY_GC_INTERVAL_BYTES through a spill file we ask for a young-generation
// collection (a scavenge, about a millisecond), which gives the bytes of the
// dead pieces back at once.
import { createRequire } from 'node:module';
import { BODY_GC_INTERVAL_BYTES } from '../config/defaults.ts';

type Gc = (options: { type: 'minor' }) => void;

let gc: Gc | null = null;
let sinceGc = 0;

export function bodyBytesPassed(bytes: number): void {
  sinceGc += bytes;
  if (sinceGc < BODY_GC_INTERVAL_BYTES) return;
  sinceGc = 0;
  (gc ??= exposeGc())({ type: 'minor' });
}

// The documented way to reach V8's gc() without --expose-gc on the command
// line: the flag applies to contexts created after it is set. Done on first
// use, node:v8 and node:vm loaded only then: the extra context and modules
// (node:v8 brings worker_threads) are only worth their memory in a proxy
// that spills.
function exposeGc(): Gc {
  const require = createRequire(import.meta.url);
  (require('node:v8') as typeof import('node:v8')).setFlagsFromString('--expose-gc');
  return (require('node:vm') as typeof import('node:vm')).runInNewContext('gc') as Gc;
}
