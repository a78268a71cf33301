// Why the state could not be saved, worded for the operator who has to fix
// it: the path, the cause, and what to do. The usual cause is Kamal's
// kamal-proxy-config volume, which keeps the owner of whichever image used
// it first, so a permission error says who must be able to write where.
import { dirname } from 'node:path';
import { errnoText } from '../util/errno-text.ts';
import { fs } from '../util/node-fs.ts';

export class StateSaveError extends Error {
  readonly code: string | undefined; // the system error code, e.g. EACCES

  constructor(message: string, code: string | undefined) {
    super(message);
    this.code = code;
  }
}

// Causes an operator can act on. For these Node's message would name our
// temp file, which means nothing to the reader; other errors keep Node's
// message, whose path says which component is wrong.
const ACTIONABLE = new Set(['EACCES', 'EPERM', 'EROFS', 'ENOSPC', 'EDQUOT', 'EFBIG']);

export async function stateSaveError(path: string, err: unknown): Promise<StateSaveError> {
  if (err instanceof StateSaveError) return err;
  const code = (err as NodeJS.ErrnoException | null)?.code;
  const known = code !== undefined && ACTIONABLE.has(code) ? errnoText(code) : undefined;
  const cause = known !== undefined ? `${known} (${code})` : err instanceof Error ? err.message : String(err);
  const hint = await remedy(dirname(path), code);
  return new StateSaveError(`cannot save state to ${path}: ${cause}${hint === '' ? '' : `; ${hint}`}`, code);
}

async function remedy(dir: string, code: string | undefined): Promise<string> {
  switch (code) {
    case 'EACCES':
    case 'EPERM': {
      const owner = await describeOwner(dir);
      return `the directory ${dir} must be writable by uid ${process.getuid?.() ?? '?'}${owner}`;
    }
    case 'EROFS':
      return `mount ${dir} read-write`;
    case 'ENOSPC':
    case 'EDQUOT':
      return `free some space on the filesystem of ${dir}`;
    case 'EFBIG':
      return 'raise the file size limit (ulimit -f) of the proxy process';
    default:
      return '';
  }
}

function describeOwner(dir: string): Promise<string> {
  return new Promise((resolve) => {
    fs.stat(dir, (err, st) => {
      resolve(err ? '' : ` (it is owned by uid ${st.uid}, mode ${(st.mode & 0o7777).toString(8).padStart(4, '0')})`);
    });
  });
}
