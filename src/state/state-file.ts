// Reading and writing kamal-proxy's state file (spec §1.11) on disk: atomic
// replacement, and one write at a time per path. The JSON format itself lives
// in state-codec.ts; its names are re-exported here so importers need one path.
import { basename, dirname, join, resolve } from 'node:path';
import type { ServiceState } from '../service/options.ts';
import { fsAsync } from '../util/node-fs.ts';
import { randomHex } from '../util/random.ts';
import { decodeState, encodeState } from './state-codec.ts';
import type { DecodedState } from './state-codec.ts';

export { decodeState, encodeState };
export type { DecodeError, DecodedState } from './state-codec.ts';

// One promise chain per file. Deploys that finish together save one after the
// other, in call order, so the file ends with the last call's content.
const writeChains = new Map<string, Promise<void>>();

export async function saveStateFile(path: string, services: readonly ServiceState[]): Promise<void> {
  // Everything up to the return runs synchronously, so calls queue in call order.
  const target = resolve(path);
  const text = encodeState(services); // snapshot now: the caller may change the services while we queue
  const previous = writeChains.get(target) ?? Promise.resolve();
  const write = previous.then(() => writeAtomically(target, text));
  const tail = write.catch(() => {}); // one failed save must not block the next
  writeChains.set(target, tail);
  void tail.then(() => {
    if (writeChains.get(target) === tail) writeChains.delete(target);
  });
  return write;
}

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
  return decodeState(text);
}

// kamal-proxy truncates and rewrites the file in place, so a crash mid-write
// loses every service. We write a temp file and rename it over the old one:
// a reader sees the old file or the new one, never half of one.
async function writeAtomically(target: string, text: string): Promise<void> {
  const dir = dirname(target);
  await fsAsync.mkdir(dir, { recursive: true, mode: 0o700 });
  const temp = join(dir, `.${basename(target)}.${process.pid}.${randomHex(6)}.tmp`);
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
