// `node bench/compression.ts`: what --compress costs and saves, to choose its
// levels (src/config/defaults.ts). Two parts:
//
// 1. The codecs alone, through the same streaming compressor the proxy uses
//    (src/accel/compression.ts), on a server-rendered HTML page
//    (bench/fixtures/html-page.ts) and a real minified JS bundle
//    (node-forge's, from node_modules): bytes out and CPU per response
//    (process CPU, so zlib's work on the thread pool counts) for each coding
//    at several levels; then, at the chosen levels, the streaming compressor
//    against a one-shot synchronous call, which is what buffering a small
//    body whole (to send it with a Content-Length) would cost instead.
// 2. With --proxy: through bin/kamal-proxy, side by side in interleaved
//    rounds, the page uncompressed and with each coding (wrk with an
//    Accept-Encoding header): requests/s as a ratio to the uncompressed run.
//
// Only 127.0.0.1; every child and temp dir is removed on exit.
import { readFileSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import zlib from 'node:zlib';
import type { Coding } from '../src/accel/accept-encoding.ts';
import { compressWhole, createCompressor } from '../src/accel/compression.ts';
import * as d from '../src/config/defaults.ts';
import { cleanup, installExitHandlers, makeTempDir, run, start } from './children.ts';
import { freePort, HOST, waitForPort } from './net.ts';
import { median } from './report.ts';
import { ROOT, NODE, which } from './tools.ts';
import { htmlPage } from './fixtures/html-page.ts';
import { failure, parseWrk } from './wrk.ts';

const USAGE = `Usage: node bench/compression.ts [--budget-ms MS] [--no-levels] [--proxy] [--rounds N] [--duration SECONDS]
  --budget-ms MS      CPU time to spend on each codec cell (default 400)
  --no-levels         leave out the table of every coding at every level
  --proxy             also measure through bin/kamal-proxy with wrk
  --rounds N          interleaved rounds of the proxy part (default 3)
  --duration SECONDS  length of each wrk run (default 5)`;

const CANDIDATES: Record<Coding, number[]> = {
  gzip: [1, 4, 5, 6, 9],
  br: [1, 3, 4, 5, 6, 8, 11],
  zstd: [1, 3, 5, 6, 9, 12, 19],
};
const CHOSEN: Record<Coding, number> = { gzip: d.COMPRESS_GZIP_LEVEL, br: d.COMPRESS_BROTLI_QUALITY, zstd: d.COMPRESS_ZSTD_LEVEL };
const CODINGS: Coding[] = ['br', 'zstd', 'gzip'];

function fixtures(): { name: string; body: Buffer }[] {
  return [
    { name: 'HTML page', body: htmlPage() },
    { name: 'JS bundle', body: readFileSync(join(ROOT, 'node_modules/node-forge/dist/forge.min.js')) },
  ];
}

// One response through the proxy's streaming compressor, to its last byte.
function streamOnce(coding: Coding, level: number, body: Buffer): Promise<number> {
  return new Promise((resolve, reject) => {
    const z = createCompressor(coding, body.length, level);
    let n = 0;
    z.on('data', (c: Buffer) => (n += c.length));
    z.on('end', () => resolve(n));
    z.on('error', reject);
    z.end(body);
  });
}

// The same in one synchronous call, as the proxy does for a small body.
function syncOnce(coding: Coding, level: number, body: Buffer): number {
  return compressWhole(coding, body, level).length;
}

// cpuMs: the process's CPU (zlib streams work on the thread pool);
// mainMs: the main thread's alone, which bounds the proxy's throughput.
type Cell = { bytes: number; cpuMs: number; mainMs: number; runs: number };

// Repeats `once` until `budgetMs` of process CPU is spent (at least 3 runs,
// after 2 warm-up ones); CPU per response is the mean.
async function measure(once: () => Promise<number> | number, budgetMs: number): Promise<Cell> {
  let bytes = 0;
  for (let i = 0; i < 2; i++) bytes = await once();
  const start = process.cpuUsage();
  const mainStart = process.threadCpuUsage();
  let runs = 0;
  let spentMs = 0;
  while (runs < 3 || spentMs < budgetMs) {
    await once();
    runs++;
    const u = process.cpuUsage(start);
    spentMs = (u.user + u.system) / 1000;
  }
  const m = process.threadCpuUsage(mainStart);
  return { bytes, cpuMs: spentMs / runs, mainMs: (m.user + m.system) / 1000 / runs, runs };
}

const pad = (s: string | number, n: number) => String(s).padStart(n);

async function codecs(budgetMs: number, levels: boolean): Promise<unknown[]> {
  const results: unknown[] = [];
  for (const { name, body } of levels ? fixtures() : []) {
    console.log(`\n${name}: ${body.length.toLocaleString('en')} bytes; CPU per response, mean over runs\n`);
    console.log(`${'coding'.padEnd(6)} ${pad('level', 5)} ${pad('bytes', 9)} ${pad('% of orig', 9)} ${pad('CPU ms', 8)} ${pad('MB/s', 7)}  `);
    for (const coding of CODINGS) {
      for (const level of CANDIDATES[coding]) {
        const cell = await measure(() => streamOnce(coding, level, body), budgetMs);
        const mbps = body.length / 1e6 / (cell.cpuMs / 1000);
        const mark = level === CHOSEN[coding] ? '  ← chosen' : '';
        console.log(
          `${coding.padEnd(6)} ${pad(level, 5)} ${pad(cell.bytes.toLocaleString('en'), 9)} ${pad(((100 * cell.bytes) / body.length).toFixed(1), 9)} ${pad(cell.cpuMs.toFixed(3), 8)} ${pad(mbps.toFixed(0), 7)}${mark}`,
        );
        results.push({ fixture: name, size: body.length, coding, level, ...cell });
      }
    }
  }
  // Buffering a small body whole would trade the stream for one call.
  console.log(`\nAt the chosen levels: the proxy's stream against one synchronous call, CPU ms per response (all threads; main thread)\n`);
  console.log(`${'body'.padEnd(8)} ${'coding'.padEnd(6)} ${pad('stream ms', 10)} ${pad('sync ms', 8)} ${pad('sync/stream', 11)} ${pad('stream main', 11)} ${pad('sync main', 9)}`);
  for (const rows of [1, 8, 40]) {
    const page = htmlPage(rows);
    const size = `${(page.length / 1024).toFixed(0)} KB`;
    for (const coding of CODINGS) {
      const level = CHOSEN[coding];
      const s = await measure(() => streamOnce(coding, level, page), budgetMs);
      const y = await measure(() => syncOnce(coding, level, page), budgetMs);
      console.log(
        `${size.padEnd(8)} ${coding.padEnd(6)} ${pad(s.cpuMs.toFixed(3), 10)} ${pad(y.cpuMs.toFixed(3), 8)} ${pad((y.cpuMs / s.cpuMs).toFixed(2), 11)} ${pad(s.mainMs.toFixed(3), 11)} ${pad(y.mainMs.toFixed(3), 9)}`,
      );
      results.push({ fixture: `HTML page, ${rows} rows`, size: page.length, coding, level, stream: s, sync: y });
    }
  }
  return results;
}

// What an open compressed response holds: `count` compressors of one coding,
// each mid-stream (a first piece of the page written and flushed, as for a
// stream of unknown length), measured as the growth of RSS in a fresh
// process per coding (freed memory would hide the next coding's).
async function memoryOf(coding: Coding, count: number): Promise<number> {
  const piece = fixtures()[0]!.body.subarray(0, 16 * 1024);
  const before = process.memoryUsage.rss();
  const open = Array.from({ length: count }, () => createCompressor(coding, -1));
  const kind = coding === 'gzip' ? zlib.constants.Z_SYNC_FLUSH : coding === 'br' ? zlib.constants.BROTLI_OPERATION_FLUSH : zlib.constants.ZSTD_e_flush;
  await Promise.all(
    open.map(
      (z) =>
        new Promise<void>((resolve) => {
          z.on('data', () => {});
          z.write(piece);
          z.flush(kind, () => resolve());
        }),
    ),
  );
  const kb = (process.memoryUsage.rss() - before) / 1024 / count;
  for (const z of open) z.destroy();
  return kb;
}

async function openCompressors(count: number): Promise<unknown[]> {
  console.log(`\nMemory per open compressor: ${count} at once, each mid-stream (16 KB in, flushed), RSS growth\n`);
  const results: unknown[] = [];
  for (const coding of CODINGS) {
    const out = await run(NODE, [import.meta.filename, `--memory-of=${coding}`, `--count=${count}`], { timeoutMs: 60_000 });
    if (out.code !== 0) throw new Error(`memory of ${coding}: ${out.stderr}`);
    const kb = Number(out.stdout.trim());
    console.log(`${coding.padEnd(6)} level ${CHOSEN[coding]}: ${kb.toFixed(0)} KB each`);
    results.push({ coding, level: CHOSEN[coding], kbEach: kb });
  }
  return results;
}

// The proxy part: one backend serving the page, one proxy with two services.
async function throughProxy(rounds: number, seconds: number): Promise<unknown> {
  const wrk = which('wrk');
  if (wrk === undefined) {
    console.log('\n(no wrk: the proxy part is skipped)');
    return null;
  }
  const dir = makeTempDir();
  const pageFile = join(dir, 'page.html');
  writeFileSync(pageFile, htmlPage());
  const smallFile = join(dir, 'small.html');
  writeFileSync(smallFile, htmlPage(1)); // under COMPRESS_WHOLE_MAX_BYTES: compressed in one call
  const backendPort = await freePort();
  const backendCode = `const http=require('node:http');const fs=require('node:fs');const big=fs.readFileSync(process.env.PAGE);const small=fs.readFileSync(process.env.SMALL);
http.createServer((q,s)=>{q.resume();const b=q.url==='/small'?small:big;s.writeHead(200,{'Content-Type':'text/html; charset=utf-8','Content-Length':b.length});s.end(b)}).listen(+process.env.PORT,'127.0.0.1')`;
  start('backend', NODE, ['-e', backendCode], { env: { ...process.env, PAGE: pageFile, SMALL: smallFile, PORT: String(backendPort) } });
  await waitForPort(backendPort, 'backend');

  const port = await freePort();
  const httpsPort = await freePort();
  const env = { ...process.env, HOME: dir, KAMAL_PROXY_SOCKET: join(dir, 'proxy.sock') };
  const bin = join(ROOT, 'bin', 'kamal-proxy');
  start('kamal-napper', bin, ['run', `--http-port=${port}`, `--https-port=${httpsPort}`], { env });
  await waitForPort(port, 'kamal-napper');
  for (const [service, extra] of [
    ['plain', []],
    ['z', ['--compress']],
  ] as const) {
    const out = await run(bin, ['deploy', service, `--target=127.0.0.1:${backendPort}`, `--host=${service}.test`, '--deploy-timeout=10s', ...extra], { env, timeoutMs: 20_000 });
    if (out.code !== 0) throw new Error(`deploy ${service}: ${out.stderr}`);
  }

  const big = `${(htmlPage().length / 1024).toFixed(0)} KB`;
  const small = `${(htmlPage(1).length / 1024).toFixed(0)} KB`;
  const targets = [
    { name: `${big} uncompressed`, base: `${big} uncompressed`, host: 'plain.test', ae: '', path: '/' },
    { name: `${big} --compress, no A-E`, base: `${big} uncompressed`, host: 'z.test', ae: '', path: '/' },
    ...CODINGS.map((c) => ({ name: `${big} ${c} ${CHOSEN[c]}`, base: `${big} uncompressed`, host: 'z.test', ae: c, path: '/' })),
    { name: `${small} uncompressed`, base: `${small} uncompressed`, host: 'plain.test', ae: '', path: '/small' },
    ...CODINGS.map((c) => ({ name: `${small} ${c} ${CHOSEN[c]}`, base: `${small} uncompressed`, host: 'z.test', ae: c, path: '/small' })),
  ];
  const bytesPer = new Map<string, number>();
  for (const t of targets) bytesPer.set(t.name, await responseBytes(port, t.host, t.ae, t.path));
  const perRound: Record<string, number[]> = {};
  const args = (t: (typeof targets)[number], s: number) => [
    '-t1', '-c20', `-d${s}s`, '--latency', '-H', `Host: ${t.host}`, ...(t.ae ? ['-H', `Accept-Encoding: ${t.ae}`] : []), `http://${HOST}:${port}${t.path}`,
  ];
  for (let r = 0; r < rounds; r++) {
    for (const t of targets) {
      await run(wrk, args(t, 1), { timeoutMs: 20_000 }); // warm-up
      const out = await run(wrk, args(t, seconds), { timeoutMs: (seconds + 15) * 1000 });
      const result = parseWrk(out.stdout);
      const bad = failure(result);
      if (bad !== undefined) throw new Error(`${t.name}: ${bad}`);
      (perRound[t.name] ??= []).push(result.reqPerSec);
    }
  }
  console.log(`\nThrough bin/kamal-proxy: wrk -t1 -c20 -d${seconds}s, ${rounds} interleaved round(s), medians; two pages from a Node backend; ratio to the same page uncompressed\n`);
  console.log(`${'target'.padEnd(32)} ${pad('bytes/resp', 10)} ${pad('req/s', 8)} ${pad('ratio', 6)}  req/s per round`);
  const rows = targets.map((t) => {
    const rps = median(perRound[t.name]!);
    const base = median(perRound[t.base]!);
    console.log(`${t.name.padEnd(32)} ${pad(bytesPer.get(t.name)!.toLocaleString('en'), 10)} ${pad(Math.round(rps).toLocaleString('en'), 8)} ${pad((rps / base).toFixed(2), 6)}  ${perRound[t.name]!.map(Math.round).join(' / ')}`);
    return { target: t.name, bytes: bytesPer.get(t.name), reqPerSec: rps, ratio: rps / base, rounds: perRound[t.name] };
  });
  return rows;
}

// One response's body bytes as the client gets them (checked: it decodes to the page).
function responseBytes(port: number, host: string, ae: string, path: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = { host, ...(ae ? { 'accept-encoding': ae } : {}) };
    http.get({ host: HOST, port, path, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const body = Buffer.concat(chunks);
        const coding = res.headers['content-encoding'];
        const plain =
          coding === 'br' ? zlib.brotliDecompressSync(body) : coding === 'zstd' ? zlib.zstdDecompressSync(body) : coding === 'gzip' ? zlib.gunzipSync(body) : body;
        if ((coding ?? '') !== ae || !plain.equals(path === '/small' ? htmlPage(1) : htmlPage())) reject(new Error(`${host} ${ae}: got ${coding ?? 'no coding'}, ${plain.length} bytes`));
        else resolve(body.length);
      });
    }).on('error', reject);
  });
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      'budget-ms': { type: 'string', default: '400' },
      proxy: { type: 'boolean', default: false },
      'no-levels': { type: 'boolean', default: false },
      rounds: { type: 'string', default: '3' },
      duration: { type: 'string', default: '5' },
      help: { type: 'boolean', short: 'h', default: false },
      'memory-of': { type: 'string' }, // the child of openCompressors()
      count: { type: 'string', default: '200' },
    },
  });
  if (values.help) return console.log(USAGE);
  if (values['memory-of'] !== undefined) return console.log(await memoryOf(values['memory-of'] as Coding, Number(values.count)));
  installExitHandlers(15 * 60_000);
  const out: Record<string, unknown> = { codecs: await codecs(Number(values['budget-ms']), !values['no-levels']), memory: await openCompressors(200) };
  if (values.proxy) out.proxy = await throughProxy(Number(values.rounds), Number(values.duration));
  const file = join(ROOT, 'bench', 'results', 'compression.json'); // ignored by git
  writeFileSync(file, JSON.stringify(out, null, 2) + '\n');
  console.log(`\n${file}`);
}

try {
  await main();
} finally {
  await cleanup();
}
