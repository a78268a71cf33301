// Before listening on the control socket's path: a live proxy's socket there
// must not be taken (that proxy would be unreachable for good); one left by a
// dead proxy is removed. kamal-proxy deletes whatever is there.
import net from 'node:net';
import { fs } from '../util/node-fs.ts';

const { lstatSync, unlinkSync } = fs;

// Rejects with a message for the operator when the path is not free to take.
export async function claimSocketPath(path: string): Promise<void> {
  let isSocket: boolean;
  try {
    isSocket = lstatSync(path).isSocket();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw new Error(`cannot check control socket ${path}: ${(err as Error).message}`);
  }
  // Not ours to delete: someone put it there.
  if (!isSocket) throw new Error(`control socket path ${path} exists and is not a socket; remove it or set KAMAL_PROXY_SOCKET`);
  const probe = await connectProbe(path);
  if (probe === 'answers') throw new Error(`another kamal-proxy is running (control socket ${path} answers)`);
  if (probe === 'stale') {
    try {
      unlinkSync(path);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw new Error(`cannot remove stale control socket ${path}: ${(err as Error).message}`);
    }
    return;
  }
  if (probe !== 'gone') {
    const cause = probe.code === 'EACCES' ? 'permission denied (EACCES)' : probe.message;
    throw new Error(`cannot check control socket ${path}: ${cause}`);
  }
}

// ECONNREFUSED: a socket file nobody listens on. EAGAIN: a listener whose
// backlog is full, busy but alive.
function connectProbe(path: string): Promise<'answers' | 'stale' | 'gone' | NodeJS.ErrnoException> {
  return new Promise((resolve) => {
    const socket = net.createConnection(path);
    socket.once('connect', () => {
      socket.destroy();
      resolve('answers');
    });
    socket.once('error', (err: NodeJS.ErrnoException) => {
      socket.destroy();
      if (err.code === 'ECONNREFUSED') resolve('stale');
      else if (err.code === 'EAGAIN') resolve('answers');
      else if (err.code === 'ENOENT') resolve('gone');
      else resolve(err);
    });
  });
}
