// The CLI's end of the control socket: send one request, wait (as long as it
// takes: a deploy waits for health checks and drains) for one reply.
import net from 'node:net';
import { fs } from '../util/node-fs.ts';
import type { ControlReply, MethodName, Methods } from './protocol.ts';

const { statSync } = fs;

export class ControlError extends Error {}

export function call<M extends MethodName>(socketPath: string, method: M, params: Methods[M]['params']): Promise<Methods[M]['result']> {
  return new Promise((resolve, reject) => {
    const distrust = untrustedOwner(socketPath);
    if (distrust !== null) return reject(new ControlError(distrust));
    const socket = net.createConnection(socketPath);
    let buffered = '';
    let settled = false;
    const fail = (message: string) => {
      if (settled) return;
      settled = true;
      socket.destroy();
      reject(new ControlError(message));
    };
    socket.setEncoding('utf8');
    socket.on('connect', () => socket.write(JSON.stringify({ method, params }) + '\n'));
    socket.on('data', (chunk: string) => (buffered += chunk));
    socket.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT' || err.code === 'ECONNREFUSED') {
        fail(`cannot reach the proxy at ${socketPath}: is "kamal-proxy run" running? (${err.code})`);
      } else fail(`control socket ${socketPath}: ${err.message}`);
    });
    socket.on('end', () => {
      if (settled) return;
      let reply: ControlReply<M>;
      try {
        reply = JSON.parse(buffered) as ControlReply<M>;
      } catch {
        return fail('the proxy closed the control connection without a reply');
      }
      settled = true;
      if (reply.ok) resolve(reply.result);
      else reject(new ControlError(reply.error));
    });
  });
}

// A command goes only to a socket owned by this user or root: in a shared
// directory such as /tmp another user could have created the path first.
// Null when the socket may be used (or is missing: connecting says so).
function untrustedOwner(socketPath: string): string | null {
  const me = process.getuid?.();
  if (me === undefined) return null; // no uids on this platform
  let owner: number;
  try {
    owner = statSync(socketPath).uid;
  } catch {
    return null;
  }
  if (owner === me || owner === 0) return null;
  return `refusing to use control socket ${socketPath}: it is owned by uid ${owner}, not by this user (uid ${me}) or root`;
}
