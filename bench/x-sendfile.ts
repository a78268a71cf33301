// `node bench/x-sendfile.ts`: what --x-sendfile-root saves. Through
// bin/kamal-proxy (deployed as Kamal does: --buffer-requests
// --buffer-responses), side by side in interleaved rounds, a file served two
// ways by the same Node app:
//
//   app streams   the app reads the file and sends it as its body
//   X-Sendfile    the app answers `X-Sendfile: <path>` and the proxy sends it
//
// for a small and a large file: requests/s (wrk -t1 -c20) as a ratio to the
// app streaming, and the CPU each process spent per request (from
// /proc/<pid>/stat), which shows the work moving from the app to the proxy.
// Correctness first: one GET of each must return the file's exact bytes.
//
// Only 127.0.0.1; every child and temp dir is removed on exit.
import { readFileSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { cleanup, installExitHandlers, makeTempDir, run, start } from './children.ts';
import { freePort, HOST, waitForPort } from './net.ts';
import { median } from './report.ts';
import { ROOT, NODE, which } from './tools.ts';
import { failure, parseWrk } from './wrk.ts';

const USAGE = `Usage: node bench/x-sendfile.ts [--rounds N] [--duration SECONDS]
  --rounds N          interleaved rounds (default 3)
  --duration SECONDS  length of each wrk run (default 5)`;

const SIZES = [16 * 1024, 1024 * 1024];
const KAMAL_FLAGS = ['--buffer-requests', '--buffer-responses', '--deploy-timeout=10s'];

// The app: /stream?f= sends the file itself, /sendfile?f= names it; any
// other path (the health check) is 200.
const APP_CODE = `const http=require('node:http');const fs=require('node:fs');
http.createServer((q,s)=>{q.resume();const u=new URL(q.url,'http://a');const f=u.searchParams.get('f');
if(!f){s.writeHead(200).end('up');return}
if(u.pathname==='/sendfile'){s.writeHead(200,{'Content-Type':'application/octet-stream','X-Sendfile':f,'Content-Length':'0'});return s.end()}
fs.stat(f,(e,st)=>{if(e){s.writeHead(404).end();return}s.writeHead(200,{'Content-Type':'application/octet-stream','Content-Length':st.size});fs.createReadStream(f).pipe(s)})
}).listen(+process.env.PORT,'127.0.0.1')`;

// utime + stime of a process, in seconds.
function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100; // USER_HZ
}

function get(port: number, host: string, path: string): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    http.get({ host: HOST, port, path, headers: { host } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => (res.statusCode === 200 ? resolve(Buffer.concat(chunks)) : reject(new Error(`${host}${path}: ${res.statusCode}`))));
    }).on('error', reject);
  });
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      rounds: { type: 'string', default: '3' },
      duration: { type: 'string', default: '5' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) return console.log(USAGE);
  const rounds = Number(values.rounds);
  const seconds = Number(values.duration);
  const wrk = which('wrk');
  if (wrk === undefined) throw new Error('wrk is needed: sudo apt-get install -y wrk');
  installExitHandlers(15 * 60_000);

  const dir = makeTempDir();
  const files = SIZES.map((size) => {
    const path = join(dir, `file-${size}.bin`);
    const bytes = Buffer.alloc(size);
    for (let i = 0; i < size; i++) bytes[i] = (i * 7919) & 0xff;
    writeFileSync(path, bytes);
    return { size, path, bytes };
  });

  const appPort = await freePort();
  const app = start('app', NODE, ['-e', APP_CODE], { env: { ...process.env, PORT: String(appPort) } });
  await waitForPort(appPort, 'app');
  const port = await freePort();
  const httpsPort = await freePort();
  const env = { ...process.env, HOME: dir, KAMAL_PROXY_SOCKET: join(dir, 'proxy.sock') };
  const bin = join(ROOT, 'bin', 'kamal-proxy');
  const proxy = start('kamal-napper', bin, ['run', `--http-port=${port}`, `--https-port=${httpsPort}`], { env });
  await waitForPort(port, 'kamal-napper');
  for (const [service, extra] of [
    ['plain', []],
    ['sf', [`--x-sendfile-root=${dir}`]],
  ] as const) {
    const out = await run(bin, ['deploy', service, `--target=127.0.0.1:${appPort}`, `--host=${service}.test`, ...KAMAL_FLAGS, ...extra], { env, timeoutMs: 20_000 });
    if (out.code !== 0) throw new Error(`deploy ${service}: ${out.stderr}`);
  }

  const targets = files.flatMap((f) => [
    { name: `${f.size / 1024} KiB, app streams`, host: 'plain.test', path: `/stream?f=${encodeURIComponent(f.path)}`, file: f },
    { name: `${f.size / 1024} KiB, X-Sendfile`, host: 'sf.test', path: `/sendfile?f=${encodeURIComponent(f.path)}`, file: f },
  ]);
  for (const t of targets) {
    const body = await get(port, t.host, t.path);
    if (!body.equals(t.file.bytes)) throw new Error(`${t.name}: wrong body (${body.length} bytes)`);
  }

  type Cell = { reqPerSec: number; appCpuMsPerReq: number; proxyCpuMsPerReq: number };
  const perRound: Record<string, Cell[]> = {};
  const args = (t: (typeof targets)[number], s: number) => ['-t1', '-c20', `-d${s}s`, '-H', `Host: ${t.host}`, `http://${HOST}:${port}${t.path}`];
  for (let r = 0; r < rounds; r++) {
    for (const t of targets) {
      await run(wrk, args(t, 1), { timeoutMs: 20_000 }); // warm-up
      const [app0, proxy0] = [cpuSeconds(app.proc.pid!), cpuSeconds(proxy.proc.pid!)];
      const out = await run(wrk, args(t, seconds), { timeoutMs: (seconds + 15) * 1000 });
      const [app1, proxy1] = [cpuSeconds(app.proc.pid!), cpuSeconds(proxy.proc.pid!)];
      const result = parseWrk(out.stdout);
      const bad = failure(result);
      if (bad !== undefined) throw new Error(`${t.name}: ${bad}`);
      (perRound[t.name] ??= []).push({
        reqPerSec: result.reqPerSec,
        appCpuMsPerReq: ((app1 - app0) * 1000) / result.requests,
        proxyCpuMsPerReq: ((proxy1 - proxy0) * 1000) / result.requests,
      });
    }
  }

  console.log(`\nThrough bin/kamal-proxy (Kamal's buffering flags): wrk -t1 -c20 -d${seconds}s, ${rounds} interleaved round(s), medians\n`);
  console.log(`${'target'.padEnd(26)} ${'req/s'.padStart(8)} ${'ratio'.padStart(6)} ${'app CPU ms/req'.padStart(15)} ${'proxy CPU ms/req'.padStart(17)}  req/s per round`);
  const rows = targets.map((t, i) => {
    const base = median(perRound[targets[i - (i % 2)]!.name]!.map((c) => c.reqPerSec));
    const cells = perRound[t.name]!;
    const rps = median(cells.map((c) => c.reqPerSec));
    const appCpu = median(cells.map((c) => c.appCpuMsPerReq));
    const proxyCpu = median(cells.map((c) => c.proxyCpuMsPerReq));
    console.log(
      `${t.name.padEnd(26)} ${Math.round(rps).toLocaleString('en').padStart(8)} ${(rps / base).toFixed(2).padStart(6)} ${appCpu.toFixed(3).padStart(15)} ${proxyCpu.toFixed(3).padStart(17)}  ${cells.map((c) => Math.round(c.reqPerSec)).join(' / ')}`,
    );
    return { target: t.name, reqPerSec: rps, ratio: rps / base, appCpuMsPerReq: appCpu, proxyCpuMsPerReq: proxyCpu, rounds: cells };
  });
  const file = join(ROOT, 'bench', 'results', 'x-sendfile.json'); // ignored by git
  writeFileSync(file, JSON.stringify(rows, null, 2) + '\n');
  console.log(`\n${file}`);
}

try {
  await main();
} finally {
  await cleanup();
}
