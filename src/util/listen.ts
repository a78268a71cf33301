// Starting a listener (a client port or the control socket), with a failure
// worded for the operator: where, and why, as kamal-proxy says it
// (`listen tcp :443: bind: permission denied`), without Node's syscall
// prefix. `run` prints the message as `Error: ...` and exits 1.
import net from 'node:net';
import { dirname } from 'node:path';
import { errnoText } from './errno-text.ts';
import { fs } from './node-fs.ts';

export class ListenError extends Error {
  readonly code: string | undefined; // the system error code, e.g. EADDRINUSE

  constructor(message: string, code: string | undefined) {
    super(message);
    this.code = code;
  }
}

// `:443` (all interfaces, as Go writes it), `127.0.0.1:443`, `[::1]:443`.
function tcpAddress(port: number, host?: string): string {
  return `${host === undefined ? '' : host.includes(':') ? `[${host}]` : host}:${port}`;
}

// reusePort: one of several listeners on the same port (data-plane
// workers), among which the kernel spreads new connections.
export function listenTcp(server: net.Server, port: number, host?: string, reusePort = false): Promise<void> {
  return listen(server, reusePort ? { port, host, reusePort } : { port, host }, tcpAddress(port, host), port);
}

// Before listening with reusePort: a port another process holds with
// reusePort too would be shared without a word; listening once without it
// gets the usual error instead. (Port 0: any free port, nothing to check.)
export async function checkPortFree(port: number, host?: string): Promise<void> {
  if (port === 0) return;
  const probe = net.createServer();
  await listenTcp(probe, port, host);
  await new Promise((resolve) => probe.close(resolve));
}

export function listenUnix(server: net.Server, path: string): Promise<void> {
  // libuv reports a missing directory as EACCES (as Windows does).
  const codeOf = (err: NodeJS.ErrnoException) => (err.code === 'EACCES' && !fs.existsSync(dirname(path)) ? 'ENOENT' : err.code);
  return listen(server, { path }, `control socket ${path}`, null, codeOf);
}

type CodeOf = (err: NodeJS.ErrnoException) => string | undefined;

function listen(server: net.Server, options: net.ListenOptions, where: string, port: number | null, codeOf: CodeOf = (err) => err.code): Promise<void> {
  return new Promise((resolve, reject) => {
    const fail = (err: NodeJS.ErrnoException) => reject(listenError(where, port, codeOf(err), err.message));
    server.once('error', fail);
    server.listen(options, () => {
      server.off('error', fail);
      resolve();
    });
  });
}

function listenError(where: string, port: number | null, code: string | undefined, message: string): ListenError {
  const cause = errnoText(code) ?? message;
  // The README's quick start as a user: the default ports are privileged.
  const hint = code === 'EACCES' && port !== null && port < 1024
    ? '; ports below 1024 need root or the CAP_NET_BIND_SERVICE capability (or choose others with --http-port and --https-port)'
    : '';
  return new ListenError(`cannot listen on ${where}: ${cause}${hint}`, code);
}
