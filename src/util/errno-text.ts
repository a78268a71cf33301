// The C library's words for the system errors an operator can act on
// (strerror), as Go prints them (`bind: address already in use`), where
// Node's message would add its syscall and our own temp paths.
const TEXT: Record<string, string> = {
  EACCES: 'permission denied',
  EADDRINUSE: 'address already in use',
  EADDRNOTAVAIL: 'cannot assign requested address',
  EDQUOT: 'disk quota exceeded',
  EFBIG: 'file too large',
  ENOENT: 'no such file or directory',
  ENOSPC: 'no space left on device',
  ENOTDIR: 'not a directory',
  EPERM: 'operation not permitted',
  EROFS: 'read-only file system',
};

export function errnoText(code: string | undefined): string | undefined {
  return code === undefined ? undefined : TEXT[code];
}
