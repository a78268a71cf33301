// Where the socket, state and certificates live. The CLI and the server work
// the paths out the same way, exactly as kamal-proxy does, so the CLI run with
// `docker exec` inside the proxy container finds the server.
import { fs } from '../util/node-fs.ts';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { SOCKET_FILE_NAME, STATE_FILE_NAME } from './defaults.ts';

const { mkdirSync } = fs;

export function socketPath(env: NodeJS.ProcessEnv = process.env): string {
  if (env.KAMAL_PROXY_SOCKET) return env.KAMAL_PROXY_SOCKET;
  return join(env.XDG_RUNTIME_DIR || tmpdir(), SOCKET_FILE_NAME);
}

// `$HOME/.config/kamal-proxy` (mode 0700), or the temp dir when there is no
// home directory or it cannot be created.
export function dataDir(env: NodeJS.ProcessEnv = process.env): string {
  const home = env.HOME || safeHomedir();
  if (home) {
    const dir = join(home, '.config', 'kamal-proxy');
    try {
      mkdirSync(dir, { recursive: true, mode: 0o700 });
      return dir;
    } catch {
      // fall through to the temp dir, as kamal-proxy does
    }
  }
  return tmpdir();
}

export function stateFilePath(env: NodeJS.ProcessEnv = process.env): string {
  return join(dataDir(env), STATE_FILE_NAME);
}

function safeHomedir(): string {
  try {
    return homedir();
  } catch {
    return '';
  }
}
