// Finding the external programs the bench needs. It installs nothing itself.
import { accessSync, constants } from 'node:fs';
import { join } from 'node:path';

export const ROOT = join(import.meta.dirname, '..');
export const NODE = join(ROOT, 'node_modules', '.bin', 'node');

export function which(name: string): string | undefined {
  // nginx lives in /usr/sbin, which is not on every user's PATH.
  for (const dir of [...(process.env.PATH ?? '').split(':'), '/usr/sbin']) {
    if (!dir) continue;
    const file = join(dir, name);
    try {
      accessSync(file, constants.X_OK);
      return file;
    } catch {
      // not here
    }
  }
  return undefined;
}

// h2load (Debian: nghttp2-client) and openssl are only needed for the HTTP/2
// part, which is skipped without them.
export type Tools = { wrk: string; nginx: string | undefined; h2load: string | undefined; openssl: string | undefined };

export function requireTools(): Tools {
  const wrk = which('wrk');
  if (!wrk) {
    throw new Error('wrk is not installed. Install it with:\n  sudo apt-get install -y wrk\n' +
      '(optional, for the nginx backend and the nginx reference proxy: sudo apt-get install -y nginx)');
  }
  try {
    accessSync(NODE, constants.X_OK);
  } catch {
    throw new Error(`${NODE} is missing: run 'npm install' in ${ROOT}`);
  }
  return { wrk, nginx: which('nginx'), h2load: which('h2load'), openssl: which('openssl') };
}
