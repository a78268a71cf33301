// What gets measured: the backend directly, our proxy in front of it, and
// (when nginx is installed) nginx as a reference reverse proxy; for the
// HTTP/2 table the same over TLS.
import { closeSync, mkdirSync, openSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { Backend } from './backend.ts';
import { run, sleep, start, type Child } from './children.ts';
import { freePort, waitForPort } from './net.ts';
import { backendConfig, reverseProxyConfig, startNginx } from './nginx.ts';
import { TLS_NAME, type Cert } from './tls.ts';
import { ROOT } from './tools.ts';

export type Target = { name: string; port: number };

export type Napper = Target & { httpsPort: number; pid: number; logFile: string; stderrFile: string; child: Child };

// The service the HTTP/2 part goes through (the catch-all one is plain HTTP).
export const TLS_SERVICE = 'bench-tls';

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

export type NapperOptions = {
  // NODE_OPTIONS for the proxy process (not the deploy CLI), e.g. GC settings
  // to compare; '' leaves the environment's NODE_OPTIONS as it is.
  nodeOptions?: string;
  // With a certificate, a second service serves bench.test over TLS, deployed
  // as Kamal deploys an app with a custom certificate.
  tls?: Cert;
  // The checkout whose bin/kamal-proxy runs (bench/side-by-side.ts runs two).
  root?: string;
  name?: string;
};

export async function startNapper(dir: string, backend: Backend, o: NapperOptions = {}): Promise<Napper> {
  const { nodeOptions = '', tls, root = ROOT, name = 'kamal-napper' } = o;
  const file = name.replace(/[^\w.-]+/g, '-');
  const home = join(dir, `${file}-home`);
  mkdirSync(home);
  // HOME keeps the state file out of the real home; the socket is ours alone.
  const env = { ...process.env, HOME: home, KAMAL_PROXY_SOCKET: join(dir, `${file}.sock`) };
  const runEnv = nodeOptions === '' ? env : { ...env, NODE_OPTIONS: nodeOptions };
  const [port, httpsPort] = [await freePort(), await freePort()];
  // The request log goes to a real file: writing it is part of the cost measured.
  const logFile = join(dir, `${file}-requests.log`);
  const stderrFile = join(dir, `${file}-stderr.log`);
  const out = openSync(logFile, 'w');
  const err = openSync(stderrFile, 'w');
  const bin = join(root, 'bin', 'kamal-proxy');
  let child: Child;
  try {
    child = start(name, bin, ['run', `--http-port=${port}`, `--https-port=${httpsPort}`], { env: runEnv, stdout: out, stderr: err });
  } finally {
    closeSync(out);
    closeSync(err);
  }
  try {
    await waitForPort(port, name);
    // The control socket opens last (after the workers, with --workers).
    await waitForLine(logFile, '"msg":"Server started"', name);
    const target = `--target=127.0.0.1:${backend.port}`;
    await deploy(bin, env, ['bench', target, ...DEPLOY_FLAGS]);
    if (tls) {
      const tlsFlags = [`--host=${TLS_NAME}`, '--tls', `--tls-certificate-path=${tls.certFile}`, `--tls-private-key-path=${tls.keyFile}`];
      await deploy(bin, env, [TLS_SERVICE, target, ...tlsFlags, ...DEPLOY_FLAGS]);
    }
  } catch (e) {
    throw new Error(`${(e as Error).message}\n--- ${name} stderr ---\n${tail(stderrFile)}`);
  }
  return { name, port, httpsPort, pid: child.proc.pid!, logFile, stderrFile, child };
}

async function waitForLine(file: string, text: string, name: string): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if (readFileSync(file, 'utf8').includes(text)) return;
    await sleep(50);
  }
  throw new Error(`${name} did not log ${text} within 10 s`);
}

async function deploy(bin: string, env: NodeJS.ProcessEnv, args: string[]): Promise<void> {
  const out = await run(bin, ['deploy', ...args], { env, timeoutMs: 20_000 });
  if (out.code !== 0) {
    throw new Error(`deploy ${args[0]} failed (exit ${out.timedOut ? 'timeout' : out.code}):\n${out.stdout}${out.stderr}`);
  }
}

// With a certificate: TLS and HTTP/2 in front, plain HTTP/1.1 to the backend,
// as kamal-napper does it.
export async function startNginxProxy(dir: string, nginx: string, backend: Backend, tls?: Cert): Promise<Target> {
  const prefix = join(dir, tls ? 'nginx-proxy-h2' : 'nginx-proxy');
  mkdirSync(prefix);
  const port = await freePort();
  startNginx('nginx proxy', nginx, prefix, reverseProxyConfig(port, backend.port, prefix, tls));
  await waitForPort(port, 'nginx proxy');
  return { name: 'nginx proxy', port };
}

// The direct reference of the HTTP/2 table: a second nginx serving the same
// file itself over TLS and HTTP/2 (the backend stays plain, as an app behind
// a TLS-terminating proxy would be).
export async function startNginxTlsDirect(dir: string, nginx: string, tls: Cert): Promise<Target> {
  const prefix = join(dir, 'direct-h2');
  mkdirSync(prefix);
  const port = await freePort();
  startNginx('nginx h2 direct', nginx, prefix, backendConfig(port, prefix, tls));
  await waitForPort(port, 'nginx h2 direct');
  return { name: 'direct (nginx)', port };
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
