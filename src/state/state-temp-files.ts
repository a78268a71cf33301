// The temp files a save writes before renaming one over the state file, and
// the removal at start of those a crash left behind (killed between the
// create and the rename), which nothing else would ever remove.
import { basename, dirname, join } from 'node:path';
import { fs } from '../util/node-fs.ts';
import { randomHex } from '../util/random.ts';

const { lstatSync, readdirSync, unlinkSync } = fs;

const RANDOM_BYTES = 6;

// `.kamal-proxy.state.<pid>.<12 hex digits>.tmp`, beside the state file.
export function tempPath(target: string): string {
  return join(dirname(target), `.${basename(target)}.${process.pid}.${randomHex(RANDOM_BYTES)}.tmp`);
}

// Removes our temp files for `target` last written before `startedAtMs`
// (when this process started: a younger one may be another process's save
// in progress). Anything else in the directory is left alone. Returns the
// paths removed. Best effort, at start: a directory that cannot be read or
// written is reported by the writability check that follows.
export function removeLeftoverTempFiles(target: string, startedAtMs: number): string[] {
  const dir = dirname(target);
  const ours = tempNamePattern(basename(target));
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  const removed: string[] = [];
  for (const name of names) {
    if (!ours.test(name)) continue;
    const path = join(dir, name);
    try {
      const st = lstatSync(path);
      if (!st.isFile() || st.mtimeMs >= startedAtMs) continue;
      unlinkSync(path);
      removed.push(path);
    } catch {
      // gone meanwhile, or not ours to remove
    }
  }
  return removed;
}

function tempNamePattern(base: string): RegExp {
  const escaped = base.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  return new RegExp(`^\\.${escaped}\\.\\d+\\.[0-9a-f]{${RANDOM_BYTES * 2}}\\.tmp$`);
}
