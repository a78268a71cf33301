// What gets measured: the backend directly, our proxy in front of it, and
// (when nginx is installed) nginx as a reference reverse proxy.
import { closeSync, mkdirSync, openSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { Backend } from './backend.ts';
import { run, start, type Child } from './children.ts';
import { freePort, waitForPort } from './net.ts';
import { reverseProxyConfig, startNginx } from './nginx.ts';
import { ROOT } from './tools.ts';

export type Target = { name: string; port: number };

export type Napper = Target & { pid: number; logFile: string; stderrFile: string };

// Deployed with the flags Kamal 2 passes by default, so buffering and the
// extra logged headers are part of the cost.
const DEPLOY_FLAGS = [
  '--buffer-requests',
  '--buffer-responses',
  '--log-request-header=Cache-Control',
  '--log-request-header=Last-Modified',
  '--log-request-header=User-Agent',
  '--deploy-timeout=10s',
];

// nodeOptions: NODE_OPTIONS for the proxy process (not the deploy CLI), e.g.
// GC settings to compare; '' leaves the environment's NODE_OPTIONS as it is.
export async function startNapper(dir: string, backend: Backend, nodeOptions = ''): Promise<Napper> {
  const home = join(dir, 'napper-home');
  mkdirSync(home);
  // HOME keeps the state file out of the real home; the socket is ours alone.
  const env = { ...process.env, HOME: home, KAMAL_PROXY_SOCKET: join(dir, 'napper.sock') };
  const runEnv = nodeOptions === '' ? env : { ...env, NODE_OPTIONS: nodeOptions };
  const [port, httpsPort] = [await freePort(), await freePort()];
  // The request log goes to a real file: writing it is part of the cost measured.
  const logFile = join(dir, 'napper-requests.log');
  const stderrFile = join(dir, 'napper-stderr.log');
  const out = openSync(logFile, 'w');
  const err = openSync(stderrFile, 'w');
  const bin = join(ROOT, 'bin', 'kamal-proxy');
  let child: Child;
  try {
    child = start('kamal-napper', bin, ['run', `--http-port=${port}`, `--https-port=${httpsPort}`], { env: runEnv, stdout: out, stderr: err });
  } finally {
    closeSync(out);
    closeSync(err);
  }
  try {
    await waitForPort(port, 'kamal-napper');
    const deploy = await run(bin, ['deploy', 'bench', `--target=127.0.0.1:${backend.port}`, ...DEPLOY_FLAGS], { env, timeoutMs: 20_000 });
    if (deploy.code !== 0) {
      throw new Error(`deploy failed (exit ${deploy.timedOut ? 'timeout' : deploy.code}):\n${deploy.stdout}${deploy.stderr}`);
    }
  } catch (e) {
    throw new Error(`${(e as Error).message}\n--- kamal-napper stderr ---\n${tail(stderrFile)}`);
  }
  return { name: 'kamal-napper', port, pid: child.proc.pid!, logFile, stderrFile };
}

export async function startNginxProxy(dir: string, nginx: string, backend: Backend): Promise<Target> {
  const prefix = join(dir, 'nginx-proxy');
  mkdirSync(prefix);
  const port = await freePort();
  startNginx('nginx proxy', nginx, prefix, reverseProxyConfig(port, backend.port, prefix));
  await waitForPort(port, 'nginx proxy');
  return { name: 'nginx proxy', port };
}

// Resident set size from /proc, in kB; undefined where there is no /proc.
export function rssKb(pid: number): number | undefined {
  try {
    const m = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : undefined;
  } catch {
    return undefined;
  }
}

export function fileSize(file: string): number {
  try {
    return statSync(file).size;
  } catch {
    return 0;
  }
}

export function tail(file: string, bytes = 2000): string {
  try {
    const s = readFileSync(file, 'utf8');
    return s.slice(-bytes);
  } catch {
    return '(none)';
  }
}
