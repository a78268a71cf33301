// A throwaway ACME CA for tests: Debian's `pebble` plus `pebble-challtestsrv`
// (DNS only, every name resolves to 127.0.0.1), all on loopback.
// Needs `apt-get install -y pebble` (CI installs it in .ci/run).
// Recipe: ../shared/reference/node-stack.md, Part A4.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import { freePort } from './free-port.ts';

export interface Pebble {
  readonly directoryUrl: string;
  /** CA of pebble's own HTTPS listener: the ACME client must trust it. */
  readonly caPem: string;
  /** Pebble's issuing root (from its management port): validates issued certificates. */
  readonly rootPem: string;
  /** What pebble has logged so far: a line for each ACME request it served. */
  log(): string;
  stop(): Promise<void>;
}

export interface PebbleOptions {
  /** Port pebble's VA connects to for HTTP-01 (on 127.0.0.1). */
  httpPort: number;
  /** Port pebble's VA connects to for TLS-ALPN-01 (on 127.0.0.1). */
  tlsPort: number;
  /** Percentage of orders that reuse a valid authorization (pebble's default is 50). */
  authzReusePercent?: number;
}

export function pebbleInstalled(): boolean {
  return fs.existsSync('/usr/bin/pebble') && fs.existsSync('/usr/bin/pebble-challtestsrv');
}

export async function startPebble(opts: PebbleOptions): Promise<Pebble> {
  if (!pebbleInstalled()) throw new Error('pebble is not installed: apt-get install -y pebble');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pebble-'));
  makeListenerCertificate(dir);
  const caPem = fs.readFileSync(path.join(dir, 'ca.pem'), 'utf8');
  const [acmePort, mgmtPort, dnsPort, challMgmtPort] = [await freePort(), await freePort(), await freePort(), await freePort()];
  fs.writeFileSync(
    path.join(dir, 'pebble.json'),
    JSON.stringify({
      pebble: {
        listenAddress: `127.0.0.1:${acmePort}`,
        managementListenAddress: `127.0.0.1:${mgmtPort}`,
        certificate: path.join(dir, 'listener.pem'),
        privateKey: path.join(dir, 'listener.key'),
        httpPort: opts.httpPort,
        tlsPort: opts.tlsPort,
        ocspResponderURL: '',
        externalAccountBindingRequired: false,
      },
    }),
  );

  const children: LaunchedProcess[] = [];
  const stop = async () => {
    await Promise.all(children.map(stopChild));
    fs.rmSync(dir, { recursive: true, force: true });
  };

  try {
    children.push(
      launch('pebble-challtestsrv', [
        '-dns01', `127.0.0.1:${dnsPort}`,
        '-http01', '', '-https01', '', '-tlsalpn01', '',
        '-management', `127.0.0.1:${challMgmtPort}`,
        '-defaultIPv4', '127.0.0.1', '-defaultIPv6', '',
      ]),
    );
    const pebble = launch('pebble', ['-config', path.join(dir, 'pebble.json'), '-dnsserver', `127.0.0.1:${dnsPort}`], {
      PEBBLE_VA_NOSLEEP: '1', // validate at once instead of sleeping 0-15 s
      PEBBLE_WFE_NONCEREJECT: '0', // do not reject 5% of good nonces
      PEBBLE_AUTHZREUSE: String(opts.authzReusePercent ?? 0), // every order runs a challenge
    }, 1_000_000);
    children.push(pebble);
    const directoryUrl = `https://127.0.0.1:${acmePort}/dir`;
    await waitUntil(() => httpsGet(directoryUrl, caPem).then(() => true, () => false), 10_000, 'pebble did not start');
    const rootPem = await httpsGet(`https://127.0.0.1:${mgmtPort}/roots/0`, caPem);
    return { directoryUrl, caPem, rootPem, log: pebble.output, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

// A CA and a 127.0.0.1/localhost certificate for pebble's own HTTPS listener
// (the Debian package ships none).
function makeListenerCertificate(dir: string): void {
  const run = (args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];
  run(['req', '-x509', ...ec, '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '2', '-subj', '/CN=pebble test listener CA']);
  run(['req', ...ec, '-keyout', 'listener.key', '-out', 'listener.csr', '-subj', '/CN=localhost']);
  fs.writeFileSync(path.join(dir, 'ext.cnf'), 'subjectAltName=DNS:localhost,IP:127.0.0.1\n');
  run(['x509', '-req', '-in', 'listener.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial',
    '-out', 'listener.pem', '-days', '2', '-extfile', 'ext.cnf']);
}

// Each CA process runs under a small sh that kills it once our end of its
// stdin closes, so the processes go away with the test process even when that
// one is killed outright (SIGKILL, a runner timeout) and no handler of ours runs.
const WATCHDOG = '"$@" & child=$!; read _; kill $child; wait $child';
const stopping = new WeakSet<ChildProcess>();

type LaunchedProcess = ChildProcess & { output(): string };

// Keeps the last `keepChars` of the process's output.
function launch(cmd: string, args: string[], env: Record<string, string> = {}, keepChars = 4000): LaunchedProcess {
  const child = spawn('sh', ['-c', WATCHDOG, 'sh', cmd, ...args], {
    env: { ...process.env, ...env },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let log = '';
  const keep = (b: Buffer) => {
    log = (log + b.toString()).slice(-keepChars);
  };
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  child.on('exit', (code) => {
    if (!stopping.has(child)) process.stderr.write(`${cmd} exited early (${code}):\n${log.slice(-4000)}\n`);
  });
  return Object.assign(child, { output: () => log });
}

function stopChild(child: ChildProcess): Promise<void> {
  stopping.add(child);
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    child.once('exit', () => resolve());
    child.stdin!.end();
  });
}

export function httpsGet(url: string, caPem: string): Promise<string> {
  return new Promise((resolve, reject) => {
    https
      .get(url, { ca: caPem }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (body += c));
        res.on('end', () => (res.statusCode === 200 ? resolve(body) : reject(new Error(`GET ${url}: ${res.statusCode}`))));
      })
      .on('error', reject);
  });
}

async function waitUntil(check: () => Promise<boolean>, timeoutMs: number, message: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(message);
    await new Promise((r) => setTimeout(r, 50));
  }
}
