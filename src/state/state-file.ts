// Reading and writing kamal-proxy's state file (spec §1.11) on disk: atomic
// replacement, one write at a time per path, and the check that a write can
// work before a command changes anything. The JSON format itself lives
// in state-codec.ts; its names are re-exported here so importers need one path.
import { dirname, resolve } from 'node:path';
import type { ServiceState } from '../config/service-options.ts';
import { fsAsync } from '../util/node-fs.ts';
import { decodeState, encodeState } from './state-codec.ts';
import type { DecodedState } from './state-codec.ts';
import { keepCorruptAside } from './state-corrupt.ts';
import { stateSaveError } from './state-save-error.ts';
import { tempPath } from './state-temp-files.ts';

export { decodeState, encodeState };
export type { DecodeError, DecodedState } from './state-codec.ts';
export { StateSaveError } from './state-save-error.ts';
export { removeLeftoverTempFiles } from './state-temp-files.ts';

// One promise chain per file. Deploys that finish together save one after the
// other, in call order, so the file ends with the last call's content.
const writeChains = new Map<string, Promise<void>>();

export async function saveStateFile(path: string, services: readonly ServiceState[]): Promise<void> {
  // Everything up to the return runs synchronously, so calls queue in call order.
  const target = resolve(path);
  const text = encodeState(services); // snapshot now: the caller may change the services while we queue
  const previous = writeChains.get(target) ?? Promise.resolve();
  const write = previous.then(() => writeOrExplain(target, text));
  const tail = write.catch(() => {}); // one failed save must not block the next
  writeChains.set(target, tail);
  void tail.then(() => {
    if (writeChains.get(target) === tail) writeChains.delete(target);
  });
  return write;
}

// Null when there is no file. A file that cannot be parsed is renamed aside
// (state-corrupt.ts) and the error says where it went.
export async function loadStateFile(path: string): Promise<DecodedState | null> {
  const target = resolve(path);
  await writeChains.get(target); // see our own pending saves
  let text: string;
  try {
    text = await fsAsync.readFile(target, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
  try {
    return decodeState(text);
  } catch (err) {
    throw new Error(`${(err as Error).message}; no service restored; ${setAside(target)}`);
  }
}

// Restoring reads the file before anything can save over it (the first
// change comes after start), so this is in time.
function setAside(target: string): string {
  try {
    return `kept it as ${keepCorruptAside(target, new Date())} (the next save starts a new state file)`;
  } catch (err) {
    return `could not keep it aside (${(err as Error).message})`;
  }
}

// Whether a save could work now, checked before a command changes anything,
// so that it fails while failing is still harmless. It takes the steps a save
// takes, short of writing the content: create the directory, create and remove
// a temp file in it, open the directory (to sync it). What it cannot foresee
// (the disk filling up before the save) fails the save itself. Rejects with a
// StateSaveError.
export async function checkStateWritable(path: string): Promise<void> {
  const target = resolve(path);
  const dir = dirname(target);
  try {
    await fsAsync.mkdir(dir, { recursive: true, mode: 0o700 });
    const temp = tempPath(target);
    await fsAsync.close(await fsAsync.open(temp, 'wx', 0o600));
    await fsAsync.unlink(temp);
    await fsAsync.close(await fsAsync.open(dir, 'r'));
  } catch (err) {
    throw await stateSaveError(target, err);
  }
}

// A failed save rejects with a StateSaveError, which says what to do.
async function writeOrExplain(target: string, text: string): Promise<void> {
  try {
    await writeAtomically(target, text);
  } catch (err) {
    throw await stateSaveError(target, err);
  }
}

// kamal-proxy truncates and rewrites the file in place, so a crash mid-write
// loses every service. We write a temp file and rename it over the old one:
// a reader sees the old file or the new one, never half of one.
async function writeAtomically(target: string, text: string): Promise<void> {
  const dir = dirname(target);
  await fsAsync.mkdir(dir, { recursive: true, mode: 0o700 });
  const temp = tempPath(target);
  let renamed = false;
  try {
    const fd = await fsAsync.open(temp, 'wx', 0o600);
    try {
      await fsAsync.fchmod(fd, 0o600); // exact, whatever the umask
      await fsAsync.writeFile(fd, text, 'utf8');
      await fsAsync.fsync(fd);
    } finally {
      await fsAsync.close(fd);
    }
    await fsAsync.rename(temp, target);
    renamed = true;
  } finally {
    if (!renamed) await fsAsync.unlink(temp).catch(() => {});
  }
  await syncDirectory(dir);
}

// Makes the rename itself durable. Some filesystems cannot fsync a directory;
// the file is in place by then, so that is not worth failing the save over.
async function syncDirectory(dir: string): Promise<void> {
  const fd = await fsAsync.open(dir, 'r');
  try {
    await fsAsync.fsync(fd);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== 'EINVAL' && code !== 'ENOTSUP' && code !== 'EISDIR' && code !== 'EBADF') throw err;
  } finally {
    await fsAsync.close(fd);
  }
}
