// Memory bound of request buffering through the real proxy: a 1 GiB POST goes
// through `bin/kamal-proxy run` to a service deployed with --buffer-requests
// --buffer-responses --buffer-memory=1 MiB, and the proxy's RSS must not grow by
// more than the memory buffer plus 32 MiB. bench/buffer-memory.ts measures the
// SpillBuffer alone in a bare server; this one measures the whole request path
// (client socket, spill file, undici upstream) in the process Kamal runs.
//
//   node_modules/.bin/node bench/buffer-proxy-memory.ts [--mib N] [--buffer-memory BYTES] [--node-options="..."]
//
// --mib N              body size in MiB (default 1024)
// --buffer-memory N    the service's --buffer-memory in bytes (default 1048576)
// --node-options=      NODE_OPTIONS for the proxy process only, e.g.
//                      --node-options=--max-semi-space-size=1 (the `=` form, as
//                      parseArgs refuses a dash-led value)
//
// The body is generated chunk by chunk and never held whole; the backend (an
// http server in this process) hashes and counts it as it arrives, so the
// check is "exactly N bytes, same sha256". The proxy's TMPDIR is a temp dir of
// ours, so its spill file is found (and must be gone after the response) and a
// crash cannot leave 1 GiB behind. Everything is on 127.0.0.1, every process
// and dir is removed on exit, and the whole run has a deadline.
//
// Exit code 0 only when the body arrived intact, no spill file is left and the
// growth is within the bound.
import { createHash } from 'node:crypto';
import { mkdirSync, openSync, closeSync, readdirSync, readFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { basename, join } from 'node:path';
import { parseArgs } from 'node:util';
import { cleanup, installExitHandlers, makeTempDir, run, sleep, start, stopping } from './children.ts';
import { freePort, HOST, waitForPort } from './net.ts';
import { tail } from './targets.ts';
import { ROOT } from './tools.ts';

const MiB = 1024 * 1024;
const SLACK_BYTES = 32 * MiB;
const SAMPLE_EVERY_MS = 50;
const CHUNK_BYTES = 64 * 1024;
const WARMUP_BYTES = 8 * MiB;
const SETTLE_MS = 1000;
const DEADLINE_MS = 5 * 60_000;
const SERVICE = 'bench-buffer';
const BIN = join(ROOT, 'bin', 'kamal-proxy');

// --- the backend: drains, counts and hashes every request body ---------------

type Received = { bytes: number; sha256: string };

// When the last request's first body byte reached the backend: with request
// buffering that is when the proxy has the whole body and starts replaying it,
// which splits the run into its two halves (client → spill file → backend).
let firstByteAt = 0;

function startBackend(): Promise<http.Server> {
  const server = http.createServer({ requestTimeout: 0 }, (req, res) => {
    const hash = createHash('sha256');
    let bytes = 0;
    req.on('data', (d: Buffer) => {
      if (bytes === 0) firstByteAt = performance.now();
      hash.update(d);
      bytes += d.length;
    });
    req.on('end', () => {
      const body = JSON.stringify({ bytes, sha256: hash.digest('hex') } satisfies Received);
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
      res.end(body);
    });
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, HOST, () => resolve(server));
  });
}

// --- the client: a generated body with Content-Length -------------------------

// Chunk i is the 8-byte pattern (i, ~i) repeated: cheap to make, different per
// chunk, so a dropped or reordered chunk changes the hash.
function chunk(i: number, bytes: number): Buffer {
  const seed = Buffer.alloc(8);
  seed.writeUInt32LE(i >>> 0, 0);
  seed.writeUInt32LE(~i >>> 0, 4);
  return Buffer.allocUnsafe(bytes).fill(seed);
}

type Posted = { status: number; received: Received | undefined; text: string; sha256: string };

function post(port: number, totalBytes: number): Promise<Posted> {
  return new Promise((resolve, reject) => {
    const hash = createHash('sha256');
    const headers = { 'content-length': totalBytes, 'content-type': 'application/octet-stream' };
    const req = http.request({ host: HOST, port, method: 'POST', path: '/upload', agent: false, headers }, (res) => {
      const parts: Buffer[] = [];
      res.on('data', (d: Buffer) => parts.push(d));
      res.on('end', () => {
        const text = Buffer.concat(parts).toString();
        let received: Received | undefined;
        try {
          received = JSON.parse(text) as Received;
        } catch {
          received = undefined;
        }
        resolve({ status: res.statusCode ?? 0, received, text, sha256: hash.digest('hex') });
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    void (async () => {
      let sent = 0;
      for (let i = 0; sent < totalBytes; i++) {
        const piece = chunk(i, Math.min(CHUNK_BYTES, totalBytes - sent));
        hash.update(piece);
        sent += piece.length;
        if (!req.write(piece)) await new Promise((r) => req.once('drain', r));
      }
      req.end();
    })().catch(reject);
  });
}

// --- the proxy process ---------------------------------------------------------

// bin/kamal-proxy execs node, so the pid we spawned is node's; should a wrapper
// ever stop exec'ing, follow its children down to the node process.
function nodePid(pid: number): number {
  const argv0 = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0')[0] ?? '';
  if (basename(argv0) === 'node') return pid;
  const kids = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter((k) => k !== '');
  for (const kid of kids) {
    const found = nodePidOrUndefined(Number(kid));
    if (found !== undefined) return found;
  }
  throw new Error(`no node process under pid ${pid} (${argv0})`);
}

function nodePidOrUndefined(pid: number): number | undefined {
  try {
    return nodePid(pid);
  } catch {
    return undefined;
  }
}

type Memory = { rssKb: number; hwmKb: number };

function memory(pid: number): Memory {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const field = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN);
  return { rssKb: field('VmRSS'), hwmKb: field('VmHWM') };
}

type Proxy = { pid: number; port: number; spillDir: string; stderrFile: string };

async function startProxy(dir: string, backendPort: number, bufferMemory: number, nodeOptions: string): Promise<Proxy> {
  const home = join(dir, 'home');
  const spillDir = join(dir, 'spill');
  mkdirSync(home);
  mkdirSync(spillDir);
  // HOME keeps the state file out of the real home; TMPDIR is where the
  // SpillBuffer puts its files (os.tmpdir()).
  const env: NodeJS.ProcessEnv = { ...process.env, HOME: home, TMPDIR: spillDir, KAMAL_PROXY_SOCKET: join(dir, 'proxy.sock') };
  delete env.NODE_OPTIONS; // only what --node-options says, not the driver's own
  const [port, httpsPort] = [await freePort(), await freePort()];
  const stderrFile = join(dir, 'proxy-stderr.log');
  const out = openSync(join(dir, 'proxy-requests.log'), 'w');
  const err = openSync(stderrFile, 'w');
  let pid: number | undefined;
  try {
    const runEnv = nodeOptions === '' ? env : { ...env, NODE_OPTIONS: nodeOptions };
    const child = start('kamal-napper', BIN, ['run', `--http-port=${port}`, `--https-port=${httpsPort}`], { env: runEnv, stdout: out, stderr: err });
    pid = child.proc.pid;
  } finally {
    closeSync(out);
    closeSync(err);
  }
  try {
    if (pid === undefined) throw new Error('kamal-napper did not start');
    await waitForPort(port, 'kamal-napper');
    const deploy = await run(
      BIN,
      ['deploy', SERVICE, `--target=${HOST}:${backendPort}`, '--buffer-requests', '--buffer-responses', `--buffer-memory=${bufferMemory}`, '--deploy-timeout=10s'],
      { env, timeoutMs: 20_000 },
    );
    if (deploy.code !== 0) throw new Error(`deploy failed (exit ${deploy.timedOut ? 'timeout' : deploy.code}):\n${deploy.stdout}${deploy.stderr}`);
    return { pid: nodePid(pid), port, spillDir, stderrFile };
  } catch (e) {
    throw new Error(`${(e as Error).message}\n--- kamal-napper stderr ---\n${tail(stderrFile)}`);
  }
}

// The proxy disposes the request buffer once the exchange is over, which can
// be a moment after the client has its response.
async function spillLeftovers(dir: string): Promise<string[]> {
  for (let i = 0; i < 20; i++) {
    const left = readdirSync(dir);
    if (left.length === 0) return left;
    await sleep(100);
  }
  return readdirSync(dir);
}

// --- the measurement -------------------------------------------------------------

type Measured = {
  seconds: number;
  bufferSeconds: number;
  intact: boolean;
  status: number;
  bytes: number;
  afterDeployKb: number;
  beforeKb: number;
  peakKb: number;
  afterKb: number;
  hwmKb: number;
  samples: number;
  sawSpill: boolean;
  leftovers: string[];
};

async function measure(totalBytes: number, bufferMemory: number, nodeOptions: string): Promise<Measured> {
  const dir = makeTempDir();
  const backend = await startBackend();
  try {
    const proxy = await startProxy(dir, (backend.address() as AddressInfo).port, bufferMemory, nodeOptions);
    const afterDeploy = memory(proxy.pid);

    // Warm-up (JIT, the upstream connection, a first spill), then let it settle:
    // the bound is about what one large body adds, not about start-up.
    const warm = await post(proxy.port, WARMUP_BYTES);
    if (warm.status !== 200 || warm.received?.sha256 !== warm.sha256) throw new Error(`warm-up failed: ${warm.status} ${warm.text.slice(0, 200)}`);
    await sleep(SETTLE_MS);
    const before = memory(proxy.pid);

    let peakKb = before.rssKb;
    let samples = 0;
    let sawSpill = false;
    const timer = setInterval(() => {
      try {
        peakKb = Math.max(peakKb, memory(proxy.pid).rssKb);
        samples++;
        sawSpill ||= readdirSync(proxy.spillDir).length > 0;
      } catch {
        // the proxy is gone; the POST fails and says so
      }
    }, SAMPLE_EVERY_MS);
    const started = performance.now();
    let posted: Posted;
    try {
      posted = await post(proxy.port, totalBytes);
    } finally {
      clearInterval(timer);
    }
    const seconds = (performance.now() - started) / 1000;
    const after = memory(proxy.pid);
    if (posted.status !== 200) throw new Error(`the proxy answered ${posted.status}: ${posted.text.slice(0, 300)}\n--- kamal-napper stderr ---\n${tail(proxy.stderrFile)}`);
    return {
      seconds,
      bufferSeconds: (firstByteAt - started) / 1000,
      intact: posted.received?.bytes === totalBytes && posted.received.sha256 === posted.sha256,
      status: posted.status,
      bytes: posted.received?.bytes ?? -1,
      afterDeployKb: afterDeploy.rssKb,
      beforeKb: before.rssKb,
      peakKb: Math.max(peakKb, after.rssKb),
      afterKb: after.rssKb,
      hwmKb: after.hwmKb,
      samples,
      sawSpill,
      leftovers: await spillLeftovers(proxy.spillDir),
    };
  } finally {
    backend.closeAllConnections();
    backend.close();
  }
}

const mib = (kb: number) => `${(kb / 1024).toFixed(1)} MiB`;

function report(m: Measured, totalBytes: number, bufferMemory: number, nodeOptions: string): { lines: string[]; pass: boolean } {
  const growthKb = m.peakKb - m.beforeKb;
  const boundKb = (bufferMemory + SLACK_BYTES) / 1024;
  const withinBound = growthKb <= boundKb;
  const pass = m.intact && m.leftovers.length === 0 && withinBound;
  const totalMiB = totalBytes / MiB;
  const lines = [
    `kamal-napper, --buffer-requests --buffer-responses --buffer-memory=${bufferMemory}; NODE_OPTIONS=${nodeOptions === '' ? '(none)' : nodeOptions}`,
    `  body               ${totalMiB} MiB in ${m.seconds.toFixed(1)} s (${(totalMiB / m.seconds).toFixed(0)} MiB/s), spilled: ${m.sawSpill ? 'yes' : 'not seen'}`,
    `                     ${m.bufferSeconds.toFixed(1)} s buffering from the client, ${(m.seconds - m.bufferSeconds).toFixed(1)} s replaying to the backend`,
    `  backend received   ${m.bytes} bytes, ${m.intact ? 'intact (count and sha256 match)' : 'MISMATCH'}`,
    `  RSS after deploy   ${mib(m.afterDeployKb)}`,
    `  RSS before         ${mib(m.beforeKb)} (after an ${WARMUP_BYTES / MiB} MiB warm-up POST and ${SETTLE_MS} ms)`,
    `  peak RSS during    ${mib(m.peakKb)} (${m.samples} samples every ${SAMPLE_EVERY_MS} ms; VmHWM ${mib(m.hwmKb)})`,
    `  RSS after          ${mib(m.afterKb)}`,
    `  growth             ${mib(growthKb)} (peak − before; ${mib(m.peakKb - m.afterDeployKb)} from after deploy)`,
    `  buffer-memory      ${mib(bufferMemory / 1024)}; bound = buffer-memory + ${SLACK_BYTES / MiB} MiB = ${mib(boundKb)}`,
    `  spill files left   ${m.leftovers.length === 0 ? 'none' : m.leftovers.join(', ')}`,
    `  ${pass ? 'PASS' : 'FAIL'}: growth ${mib(growthKb)} ${withinBound ? '≤' : '>'} ${mib(boundKb)}${m.intact ? '' : ', body not intact'}${m.leftovers.length === 0 ? '' : ', spill file left'}`,
  ];
  return { lines, pass };
}

const { values } = parseArgs({
  options: {
    mib: { type: 'string' },
    'buffer-memory': { type: 'string' },
    'node-options': { type: 'string' },
  },
});

let ok = false;
try {
  installExitHandlers(DEADLINE_MS);
  const totalMiB = Number(values.mib ?? 1024);
  if (!(totalMiB > 0)) throw new Error('--mib must be a positive number');
  const bufferMemory = Number(values['buffer-memory'] ?? 1_048_576);
  if (!Number.isInteger(bufferMemory) || bufferMemory < 0) throw new Error('--buffer-memory must be a whole number of bytes');
  const nodeOptions = (values['node-options'] ?? '').trim();
  const totalBytes = Math.round(totalMiB * MiB);
  const m = await measure(totalBytes, bufferMemory, nodeOptions);
  const r = report(m, totalBytes, bufferMemory, nodeOptions);
  process.stdout.write(r.lines.join('\n') + '\n');
  ok = r.pass;
} catch (err) {
  if (!stopping()) process.stderr.write(`buffer-proxy-memory: ${(err as Error).message}\n`);
} finally {
  await cleanup();
}
process.exit(ok ? 0 : 1);
