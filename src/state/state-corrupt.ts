// A state file that cannot be parsed restores no service, and the next save
// would replace it: whatever it held (a half-edited file, one written by a
// newer kamal-proxy) would be gone for good. It is renamed aside instead,
// `kamal-proxy.state.corrupt-20261202T031500Z`, for the operator to repair.
import { fs } from '../util/node-fs.ts';

const { existsSync, renameSync } = fs;

// Returns the new path. Throws if the file cannot be renamed.
export function keepCorruptAside(target: string, now: Date): string {
  const stamp = now.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
  let aside = `${target}.corrupt-${stamp}`;
  // Never over an earlier copy (a crash loop can write two within a second).
  for (let n = 2; existsSync(aside); n++) aside = `${target}.corrupt-${stamp}-${n}`;
  renameSync(target, aside);
  return aside;
}
