// Body data crosses the proxy in Buffers whose bytes live outside V8's heap,
// and V8 decides when to collect mostly by their small JavaScript wrappers, so
// the bytes of a big upload pile up as garbage (bench/README.md, "Why the
// figure depends on the GC"). So every BODY_GC_INTERVAL_BYTES through a spill
// file we ask for a young-generation collection, which frees them at once.
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

// V8's gc() without --expose-gc on the command line: the flag applies to
// contexts created after it is set. On first use only: node:v8 and node:vm
// are worth loading only in a proxy that spills.
function exposeGc(): Gc {
  const require = createRequire(import.meta.url);
  (require('node:v8') as typeof import('node:v8')).setFlagsFromString('--expose-gc');
  return (require('node:vm') as typeof import('node:vm')).runInNewContext('gc') as Gc;
}
