// V8's gc() without --expose-gc on the command line: the flag applies to
// contexts created after it is set, so a fresh context hands the function
// over (the documented use of v8.setFlagsFromString; Jest does the same).
// Made on first use: the extra context is only worth its memory when a
// collection is actually asked for.
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

// The options V8's gc extension understands. 'last-resort' is the collection
// V8 runs before it gives up on memory: full, compacting, and it returns the
// pages V8 keeps pooled for reuse, which no ordinary collection does.
export type Gc = (options: { type: 'minor' | 'major'; flavor?: 'regular' | 'last-resort' }) => void;

let gc: Gc | null = null;

export function v8Gc(): Gc {
  if (gc === null) {
    setFlagsFromString('--expose-gc');
    gc = runInNewContext('gc') as Gc;
  }
  return gc;
}
