// Where an app's X-Sendfile path really leads, and whether the proxy may
// serve it: only a regular file whose real path (symlinks resolved) lies
// inside one of the service's roots (a root given through a symlink is
// resolved whenever needed, never cached: /srv/app/current may be a symlink
// that each release moves).
import type { BigIntStats } from 'node:fs';
import { isAbsolute, resolve, sep, dirname } from 'node:path';
import { fs } from '../util/node-fs.ts';

export type SendfileRefusal =
  | 'outside' // not inside a root (or not an absolute path): the app's fault, or an attack through it
  | 'missing' // no such file
  | 'not-a-file' // a directory, FIFO, socket or device
  | 'unreadable'; // the proxy may not read it (a volume mounted without access)

export type SendfileTarget = { ok: true; path: string; stat: BigIntStats } | { ok: false; reason: SendfileRefusal; error?: string };

export async function resolveSendfilePath(requested: string, roots: readonly string[]): Promise<SendfileTarget> {
  if (!isAbsolute(requested) || requested.includes('\0')) return { ok: false, reason: 'outside' };
  const lexical = resolve(requested); // `..` and `.` gone
  const given = roots.map((r) => resolve(r));
  // Resolved only when needed: a real path inside a root as given is inside
  // it for real (its every component is a real directory), which spares a
  // realpath per root on every request in the usual case.
  let real: string[] | null = null;
  const realRoots = async (): Promise<string[]> =>
    (real ??= (await Promise.all(given.map((r) => realpath(r).catch(() => null)))).filter((r) => r !== null));
  const inside = async (p: string): Promise<boolean> => given.some((r) => insideRoot(p, r)) || (await realRoots()).some((r) => insideRoot(p, r));

  // Before touching the file system for the path itself, so that a path
  // plainly outside learns nothing (not even whether it exists).
  if (!(await inside(lexical))) return { ok: false, reason: 'outside' };

  let path: string;
  try {
    path = await realpath(lexical);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== 'ENOENT' && code !== 'ENOTDIR') return { ok: false, reason: 'unreadable', error: (err as Error).message };
    // A missing file is 404 only where its directory is inside a root: a
    // symlinked directory leading out learns nothing either.
    const parent = await realpath(dirname(lexical)).catch(() => null);
    if (parent !== null && !(await inside(parent))) return { ok: false, reason: 'outside' };
    return { ok: false, reason: 'missing' };
  }
  if (!(await inside(path))) return { ok: false, reason: 'outside' };
  let stat: BigIntStats;
  try {
    stat = await bigStat(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    return code === 'ENOENT' ? { ok: false, reason: 'missing' } : { ok: false, reason: 'unreadable', error: (err as Error).message };
  }
  if (!stat.isFile()) return { ok: false, reason: 'not-a-file' };
  return { ok: true, path, stat };
}

// By whole path segments: /data/files2 is not inside /data/files.
export function insideRoot(path: string, root: string): boolean {
  if (path === root) return true;
  return path.startsWith(root.endsWith(sep) ? root : root + sep);
}

// The system's realpath(3): one call, where fs.realpath walks the path a
// component at a time.
function realpath(p: string): Promise<string> {
  return new Promise((ok, fail) => fs.realpath.native(p, (err, real) => (err ? fail(err) : ok(real))));
}

function bigStat(p: string): Promise<BigIntStats> {
  return new Promise((ok, fail) => fs.stat(p, { bigint: true }, (err, st) => (err ? fail(err) : ok(st))));
}
