// Temp dirs a test file makes (state, sockets, logs, certificates), removed
// when its process exits: after every test and hook has run, pass or fail,
// and after its child processes were killed, so nothing still writes there.
// Without it each test run left ~40 dirs (10 MB) in the temp dir.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const made: string[] = [];

export function scratchDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  if (made.length === 0) process.once('exit', removeAll);
  made.push(dir);
  return dir;
}

function removeAll(): void {
  for (const dir of made) {
    try {
      rmSync(dir, { recursive: true, force: true, maxRetries: 2 });
    } catch {
      // a dir a test made unremovable on purpose is not worth failing the run
    }
  }
}
