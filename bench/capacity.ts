// Capacity bench: the proxy's memory when idle with many services and with
// many idle keep-alive clients, and what 1,000 services cost at start (state
// restore) and per request (routing). Everything runs on 127.0.0.1, in a temp
// dir removed on exit (bench/children.ts), under an overall deadline.
//
// Usage: node bench/capacity.ts [--connections 10000] [--services 1000] [--duration 5]
// (--connections 0 skips the idle-connections step)
//
// Services are not deployed through the CLI (0.3 s each): their state file is
// written in kamal-proxy's format before the proxy starts, which restores it
// exactly as it would after a restart.
import { closeSync, mkdirSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { BODY } from './body.ts';
import { cleanup, installExitHandlers, makeTempDir, run, sleep, start, stop, type Child } from './children.ts';
import { freePort, HOST, waitForPort } from './net.ts';
import { rssKb, tail } from './targets.ts';
import { NODE, ROOT, requireTools } from './tools.ts';
import { failure, parseWrk, type WrkResult } from './wrk.ts';
import { encodeState } from '../src/state/state-codec.ts';
import { defaultPauseState, defaultServiceOptions, defaultTargetOptions, type ServiceState } from '../src/config/service-options.ts';

const DEADLINE_MS = 240_000;
const IDLE_SERVICES = 100;
const IDLE_WAIT_MS = 5000;
const CONNECT_BATCH = 500;

type Proxy = { name: string; child: Child; pid: number; port: number; stdoutFile: string; stderrFile: string; restoredMs: number; startedMs: number };

const hostOf = (i: number): string => `svc-${i}.example.test`;

function services(count: number, backendPort: number): ServiceState[] {
  return Array.from({ length: count }, (_, i) => ({
    name: `svc-${i}`,
    options: { ...defaultServiceOptions(), hosts: [hostOf(i)], pathPrefixes: ['/'] },
    targetOptions: defaultTargetOptions(),
    activeTargets: [`${HOST}:${backendPort}`],
    activeReaders: [],
    rolloutTargets: [],
    rolloutReaders: [],
    pause: defaultPauseState(),
    rollout: null,
  }));
}

// Starts bin/kamal-proxy on a pre-written state file with `count` services and
// times its start from the log lines' own timestamps (their clock is ours).
// stdout goes to a file, not a pipe: the request log under wrk would otherwise
// cost the bench process CPU that wrk needs.
async function startProxy(dir: string, name: string, count: number, backendPort: number): Promise<Proxy> {
  const home = join(dir, name);
  const stateDir = join(home, '.config', 'kamal-proxy');
  mkdirSync(stateDir, { recursive: true });
  writeFileSync(join(stateDir, 'kamal-proxy.state'), encodeState(services(count, backendPort)));
  const env = { ...process.env, HOME: home, KAMAL_PROXY_SOCKET: join(home, 's.sock') };
  const [port, httpsPort] = [await freePort(), await freePort()];
  const stdoutFile = join(home, 'stdout.log');
  const stderrFile = join(home, 'stderr.log');
  const out = openSync(stdoutFile, 'w');
  const err = openSync(stderrFile, 'w');
  let child: Child;
  const spawnedAt = Date.now();
  try {
    child = start(name, join(ROOT, 'bin', 'kamal-proxy'), ['run', `--http-port=${port}`, `--https-port=${httpsPort}`], { env, stdout: out, stderr: err });
  } finally {
    closeSync(out);
    closeSync(err);
  }
  const deadline = Date.now() + 30_000;
  let restored: number | undefined;
  let started: number | undefined;
  while (started === undefined) {
    if (Date.now() > deadline || child.proc.exitCode !== null) {
      throw new Error(`${name} did not log "Server started"\n--- stdout ---\n${tail(stdoutFile)}\n--- stderr ---\n${tail(stderrFile)}`);
    }
    await sleep(20);
    for (const line of readFileSync(stdoutFile, 'utf8').split('\n')) {
      if (!line.startsWith('{')) continue;
      const entry = JSON.parse(line) as { time: string; msg: string; services?: number };
      if (entry.msg === 'Restored saved state') {
        if (entry.services !== count) throw new Error(`${name} restored ${entry.services} services, expected ${count}`);
        restored = Date.parse(entry.time) - spawnedAt;
      }
      if (entry.msg === 'Server started') started = Date.parse(entry.time) - spawnedAt;
    }
  }
  if (restored === undefined) throw new Error(`${name} never logged "Restored saved state":\n${tail(stdoutFile)}`);
  await waitForPort(port, name);
  return { name, child, pid: child.proc.pid!, port, stdoutFile, stderrFile, restoredMs: restored, startedMs: started };
}

function getVia(port: number, host: string): Promise<{ status: number; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: HOST, port, path: '/', headers: { host }, agent: false, timeout: 5000 }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`GET http://${host}/ via ${port} timed out`)));
    req.on('error', reject);
    req.end();
  });
}

async function checkRoutes(p: Proxy, hosts: string[]): Promise<void> {
  for (const host of hosts) {
    const r = await getVia(p.port, host);
    if (r.status !== 200 || !r.body.equals(BODY)) throw new Error(`${p.name}: GET http://${host}/ answered ${r.status} with ${r.body.length} bytes`);
  }
}

// Opens `count` connections, sends one keep-alive GET on each and waits for its
// response head, in batches so the listen backlog never overflows. The sockets
// stay open and idle until the caller destroys them.
async function openIdleConnections(port: number, count: number, hosts: number): Promise<{ sockets: Socket[]; closedEarly: () => number }> {
  const sockets: Socket[] = [];
  let closed = 0;
  const openOne = (i: number): Promise<Socket> =>
    new Promise((resolve, reject) => {
      const sock = connect({ host: HOST, port });
      let head = '';
      const fail = (err: Error) => {
        sock.destroy();
        reject(err);
      };
      sock.setTimeout(10_000, () => fail(new Error(`connection ${i}: no response within 10 s`)));
      sock.on('error', fail);
      sock.once('connect', () => sock.write(`GET / HTTP/1.1\r\nHost: ${hostOf(i % hosts)}\r\nConnection: keep-alive\r\n\r\n`));
      const onData = (d: Buffer) => {
        head += d.toString('latin1');
        if (!head.includes('\r\n\r\n')) return;
        sock.off('data', onData);
        sock.setTimeout(0);
        if (!head.startsWith('HTTP/1.1 200')) return fail(new Error(`connection ${i}: ${head.split('\r\n')[0]}`));
        // Keep reading (and dropping) so the socket is a plain idle client.
        sock.resume();
        sock.once('close', () => closed++);
        resolve(sock);
      };
      sock.on('data', onData);
    });
  try {
    for (let i = 0; i < count; i += CONNECT_BATCH) {
      const batch = Array.from({ length: Math.min(CONNECT_BATCH, count - i) }, (_, j) => openOne(i + j));
      sockets.push(...(await Promise.all(batch)));
    }
  } catch (err) {
    for (const s of sockets) s.destroy();
    throw err;
  }
  return { sockets, closedEarly: () => closed };
}

async function wrkHost(bin: string, port: number, host: string, seconds: number): Promise<WrkResult> {
  const args = ['-t1', '-c50', `-d${seconds}s`, '-H', `Host: ${host}`, `http://${HOST}:${port}/`];
  const out = await run(bin, args, { timeoutMs: (seconds + 15) * 1000 });
  if (out.timedOut || out.code !== 0) throw new Error(`wrk ${args.join(' ')} failed (${out.timedOut ? 'timeout' : `exit ${out.code}`}):\n${out.stderr}${out.stdout}`);
  const r = parseWrk(out.stdout);
  const bad = failure(r);
  if (bad) throw new Error(`wrk ${args.join(' ')}: ${bad}`);
  return r;
}

async function shellFdLimit(): Promise<number> {
  const out = await run('sh', ['-c', 'ulimit -n'], { timeoutMs: 5000 });
  const n = out.stdout.trim();
  return n === 'unlimited' ? Infinity : Number(n);
}

function procFdLimit(pid: number): string {
  try {
    const m = /^Max open files\s+(\S+)/m.exec(readFileSync(`/proc/${pid}/limits`, 'utf8'));
    return m ? m[1] : '?';
  } catch {
    return '?';
  }
}

const mib = (kb: number | undefined): string => (kb === undefined ? 'n/a' : `${(kb / 1024).toFixed(1)} MiB`);
const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      connections: { type: 'string', default: '10000' },
      services: { type: 'string', default: '1000' },
      duration: { type: 'string', default: '5' },
    },
  });
  const connections = Number(values.connections);
  const manyServices = Number(values.services);
  const seconds = Number(values.duration);
  const { wrk } = requireTools();
  installExitHandlers(DEADLINE_MS);

  const dir = makeTempDir();
  const backendPort = await freePort();
  start('node backend', NODE, [join(import.meta.dirname, 'node-backend.ts'), String(backendPort)], { stderr: 'inherit' });
  await waitForPort(backendPort, 'node backend');
  const rows: [string, string, string][] = [];
  const notes: string[] = [];

  // Every start but the first after an install or a change to src/ finds
  // its modules in Node's compile cache (bin/kamal-proxy); measure those.
  await stop((await startProxy(dir, 'warm-up', 1, backendPort)).child);

  // 1. Idle with 100 services.
  log(`1. idle RSS with ${IDLE_SERVICES} services`);
  const idle = await startProxy(dir, 'idle', IDLE_SERVICES, backendPort);
  await checkRoutes(idle, [hostOf(0), hostOf(IDLE_SERVICES - 1)]);
  await sleep(IDLE_WAIT_MS);
  const idleKb = rssKb(idle.pid);
  rows.push([`idle RSS, ${IDLE_SERVICES} services, after ${IDLE_WAIT_MS / 1000} s`, mib(idleKb), '≤ 60 MB']);

  // 2. The same proxy holding idle keep-alive clients.
  const limit = await shellFdLimit();
  const proxyLimit = procFdLimit(idle.pid);
  log(`2. ${connections} idle keep-alive connections (ulimit -n: ${limit}; proxy's Max open files: ${proxyLimit})`);
  // Each side holds one fd per connection, plus the proxy's upstream sockets.
  const needed = connections + 200;
  if (connections <= 0) {
    log('   skipped (--connections 0)');
  } else if (limit < needed || (proxyLimit !== 'unlimited' && Number(proxyLimit) < needed)) {
    const msg = `fd limit too low for ${connections} connections (ulimit -n ${limit}, proxy ${proxyLimit}; need ≥ ${needed}): raise it with 'ulimit -n 65536'`;
    notes.push(msg);
    rows.push([`RSS with ${connections} idle connections`, 'skipped', '≤ 200 MB']);
    log(msg);
  } else {
    const t0 = Date.now();
    const { sockets, closedEarly } = await openIdleConnections(idle.port, connections, IDLE_SERVICES);
    const openMs = Date.now() - t0;
    await sleep(3000);
    const connKb = rssKb(idle.pid);
    const lost = closedEarly();
    for (const s of sockets) s.destroy();
    await sleep(2000);
    const afterKb = rssKb(idle.pid);
    rows.push([`RSS with ${connections} idle keep-alive connections`, mib(connKb), '≤ 200 MB']);
    if (connKb !== undefined && idleKb !== undefined) {
      rows.push(['  per connection (over idle)', `${((connKb - idleKb) / connections).toFixed(1)} KiB`, '']);
    }
    rows.push(['  after closing them (2 s later)', mib(afterKb), '']);
    notes.push(`opened ${connections} connections (one GET each) in ${openMs} ms; ${lost} closed by the proxy before the sample`);
  }
  await stop(idle.child);

  // 3. 1,000 services against 1: start-up and routing cost.
  log(`3. ${manyServices} services vs 1: restore time and req/s`);
  const many = await startProxy(dir, 'many', manyServices, backendPort);
  const one = await startProxy(dir, 'one', 1, backendPort);
  rows.push([`start, ${manyServices} services: spawn → "Restored saved state"`, `${many.restoredMs} ms`, '< 1 s']);
  rows.push([`start, ${manyServices} services: spawn → "Server started"`, `${many.startedMs} ms`, '']);
  rows.push(['start, 1 service: spawn → restored / started', `${one.restoredMs} / ${one.startedMs} ms`, '(baseline)']);
  rows.push([`RSS after start, ${manyServices} services / 1 service`, `${mib(rssKb(many.pid))} / ${mib(rssKb(one.pid))}`, '']);
  const target = hostOf(Math.floor(manyServices / 2));
  await checkRoutes(many, [hostOf(0), target, hostOf(manyServices - 1)]);
  await checkRoutes(one, [hostOf(0)]);
  const rps = { one: [] as number[], many: [] as number[] };
  for (let round = 0; round < 2; round++) {
    // Interleaved, and in the opposite order in the second round, so a drift
    // of the (noisy) machine does not favour one side.
    const order: ['one' | 'many', Proxy, string][] = [['one', one, hostOf(0)], ['many', many, target]];
    if (round === 1) order.reverse();
    for (const [key, p, host] of order) {
      await wrkHost(wrk, p.port, host, 1); // warm-up
      const r = await wrkHost(wrk, p.port, host, seconds);
      rps[key].push(r.reqPerSec);
      log(`  round ${round + 1}, ${p.name}: ${Math.round(r.reqPerSec)} req/s`);
    }
  }
  const fmt = (xs: number[]) => `${Math.round(median(xs)).toLocaleString('en-US')} (${xs.map((x) => Math.round(x)).join(' / ')})`;
  rows.push(['req/s, 1 service (median, per round)', fmt(rps.one), '']);
  rows.push([`req/s, ${manyServices} services, to ${target}`, fmt(rps.many), 'unchanged']);
  const ratios = rps.many.map((x, i) => x / rps.one[i]);
  rows.push([`  ratio ${manyServices} / 1 (per round)`, `${median(ratios).toFixed(2)} (${ratios.map((x) => x.toFixed(2)).join(' / ')})`, '≈ 1.00']);

  printTable(rows);
  for (const n of notes) console.log(`note: ${n}`);
  console.log('RSS is VmRSS of the proxy process (1 MiB = 1.05 MB). Backend: bench/node-backend.ts; wrk -t1 -c50.');
}

function printTable(rows: [string, string, string][]): void {
  const head: [string, string, string] = ['measure', 'value', 'target'];
  const w = [0, 1, 2].map((c) => Math.max(...[head, ...rows].map((r) => r[c].length)));
  const line = (r: [string, string, string]) => `${r[0].padEnd(w[0])}  ${r[1].padStart(w[1])}  ${r[2]}`.trimEnd();
  console.log(['', line(head), ...rows.map(line)].join('\n'));
}

function log(msg: string): void {
  process.stderr.write(`${msg}\n`);
}

try {
  await main();
} catch (err) {
  process.stderr.write(`capacity bench failed: ${(err as Error).message}\n`);
  process.exitCode = 1;
} finally {
  await cleanup();
}
