// Memory bound of request buffering: a server process buffers a 1 GiB POST
// with bufferStream(req, { maxMemoryBytes: 1 MiB, maxBytes: 0 }) (kamal's
// defaults: buffering on, no limit), then hashes it back from reader(). We
// sample that process's RSS every 50 ms from /proc/<pid>/status and check that
// it grows by no more than the memory buffer plus 32 MiB of slack.
//
//   node_modules/.bin/node bench/buffer-memory.ts [--mib N] [--no-control] [--node-flags="..."]
//
// --mib N        body size in MiB (default 1024)
// --no-control   skip the control run: the same POST to a server that hashes
//                the request as it streams, without buffering. Node's own
//                per-read 64 KiB socket buffers are garbage awaiting GC in both
//                runs; the control shows how much of the growth is that.
// --node-flags=  extra flags for the server processes, e.g.
//                --node-flags=--max-semi-space-size=1 (collects that garbage
//                sooner); the `=` form, as parseArgs refuses a dash-led value
//
// The body is generated chunk by chunk and never held whole, on either side.
// Everything stays on 127.0.0.1; the spill file goes to a temp dir of our own,
// removed on exit, so a crash cannot leave a 1 GiB file behind. Exit code 1
// when the body does not round-trip or a spill file is left; the memory
// verdict is printed, not enforced (it depends on the GC, see the control).
import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import http from 'node:http';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { bufferStream } from '../src/buffer/spill-buffer.ts';
import { cleanup, installExitHandlers, makeTempDir, sleep, start, stop } from './children.ts';

const HOST = '127.0.0.1';
const MiB = 1024 * 1024;
const BUFFER_MEMORY_BYTES = MiB;
const SLACK_BYTES = 32 * MiB;
const SAMPLE_EVERY_MS = 50;
const CHUNK_BYTES = 64 * 1024;
const WARMUP_BYTES = 8 * MiB;
const DEADLINE_MS = 5 * 60_000;
const NODE = new URL('../node_modules/.bin/node', import.meta.url).pathname;

type Mode = 'buffer' | 'stream';
type Answer = { bytes: number; sha256: string; spilled: boolean };

// --- the measured process ---------------------------------------------------

async function answer(mode: Mode, req: http.IncomingMessage, tmpDir: string | undefined): Promise<Answer> {
  const hash = createHash('sha256');
  if (mode === 'stream') {
    let bytes = 0;
    for await (const piece of req) {
      hash.update(piece as Buffer);
      bytes += (piece as Buffer).length;
    }
    return { bytes, sha256: hash.digest('hex'), spilled: false };
  }
  const buffer = await bufferStream(req, { maxMemoryBytes: BUFFER_MEMORY_BYTES, maxBytes: 0, tmpDir });
  try {
    for await (const piece of buffer.reader()) hash.update(piece as Buffer);
    return { bytes: buffer.size, sha256: hash.digest('hex'), spilled: buffer.spilled };
  } finally {
    await buffer.dispose();
  }
}

function serve(mode: Mode, tmpDir: string | undefined): void {
  const server = http.createServer({ requestTimeout: 0 }, (req, res) => {
    answer(mode, req, tmpDir).then(
      (a) => {
        res.setHeader('content-type', 'application/json');
        res.end(JSON.stringify(a));
      },
      (err: unknown) => {
        res.statusCode = 500;
        res.end(String(err));
      },
    );
  });
  server.listen(0, HOST, () => {
    const address = server.address();
    if (address === null || typeof address === 'string') throw new Error('no port');
    process.stdout.write(`${address.port}\n`);
  });
  process.on('SIGTERM', () => process.exit(0));
}

// --- the driver --------------------------------------------------------------

// Chunk i is the 8-byte pattern (i, ~i) repeated: cheap to make, different per
// chunk, so a dropped or reordered chunk changes the hash.
function chunk(i: number, bytes: number): Buffer {
  const seed = Buffer.alloc(8);
  seed.writeUInt32LE(i >>> 0, 0);
  seed.writeUInt32LE(~i >>> 0, 4);
  return Buffer.allocUnsafe(bytes).fill(seed);
}

type Posted = { answer: Answer; sha256: string };

function post(port: number, totalBytes: number): Promise<Posted> {
  return new Promise((resolve, reject) => {
    const hash = createHash('sha256');
    const req = http.request({ host: HOST, port, method: 'POST', path: '/', headers: { 'content-length': totalBytes } }, (res) => {
      const parts: Buffer[] = [];
      res.on('data', (d: Buffer) => parts.push(d));
      res.on('end', () => {
        const text = Buffer.concat(parts).toString();
        if (res.statusCode !== 200) reject(new Error(`server answered ${res.statusCode}: ${text}`));
        else resolve({ answer: JSON.parse(text) as Answer, sha256: hash.digest('hex') });
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

async function memoryKb(pid: number): Promise<{ rss: number; hwm: number }> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const field = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN);
  return { rss: field('VmRSS'), hwm: field('VmHWM') };
}

type Measured = {
  mode: Mode;
  seconds: number;
  roundTrip: boolean;
  answer: Answer;
  beforeKb: number;
  peakKb: number;
  afterKb: number;
  hwmKb: number;
  samples: number;
  leftovers: string[];
};

async function measure(mode: Mode, totalBytes: number, nodeFlags: string[]): Promise<Measured> {
  const tmpDir = makeTempDir();
  const args = [...nodeFlags, new URL(import.meta.url).pathname, '--server', mode, tmpDir];
  const child = start(`${mode} server`, NODE, args, { stdout: 'pipe', stderr: 'inherit' });
  try {
    const pid = child.proc.pid;
    const stdout = child.proc.stdout;
    if (pid === undefined || stdout === null) throw new Error(`${mode} server did not start`);
    const port = Number(
      await Promise.race([
        new Promise<string>((resolve) => createInterface({ input: stdout }).once('line', resolve)),
        child.exited.then((code) => Promise.reject(new Error(`${mode} server exited (${code})`))),
      ]),
    );

    // Warm up (JIT, the 1 MiB memory part, a first spill), then let it settle.
    const warm = await post(port, WARMUP_BYTES);
    if (warm.answer.sha256 !== warm.sha256) throw new Error(`${mode}: warm-up body did not round-trip`);
    await sleep(1000);
    const before = await memoryKb(pid);

    let peakKb = before.rss;
    let samples = 0;
    const timer = setInterval(() => {
      void memoryKb(pid).then(
        (m) => {
          samples++;
          peakKb = Math.max(peakKb, m.rss);
        },
        () => undefined, // the process is gone; the POST fails and says so
      );
    }, SAMPLE_EVERY_MS);
    const started = performance.now();
    let posted: Posted;
    try {
      posted = await post(port, totalBytes);
    } finally {
      clearInterval(timer);
    }
    const seconds = (performance.now() - started) / 1000;
    const after = await memoryKb(pid);
    return {
      mode,
      seconds,
      roundTrip: posted.answer.bytes === totalBytes && posted.answer.sha256 === posted.sha256,
      answer: posted.answer,
      beforeKb: before.rss,
      peakKb: Math.max(peakKb, after.rss),
      afterKb: after.rss,
      hwmKb: after.hwm,
      samples,
      leftovers: await readdir(tmpDir),
    };
  } finally {
    await stop(child);
  }
}

const mib = (kb: number) => `${(kb / 1024).toFixed(1)} MiB`;

function report(m: Measured, totalMiB: number): string[] {
  const growthKb = m.peakKb - m.beforeKb;
  const title = m.mode === 'buffer' ? 'buffered (bufferStream, 1 MiB in memory, rest on disk)' : 'control: unbuffered (request hashed as it streams)';
  const lines = [
    `${title}`,
    `  body               ${totalMiB} MiB in ${m.seconds.toFixed(1)} s (${(totalMiB / m.seconds).toFixed(0)} MiB/s)${m.mode === 'buffer' ? `, spilled: ${m.answer.spilled}` : ''}`,
    `  round trip         ${m.roundTrip ? 'ok' : 'MISMATCH'} (${m.answer.bytes} bytes, sha256 ${m.answer.sha256.slice(0, 16)}…)`,
    `  RSS before         ${mib(m.beforeKb)}`,
    `  peak RSS during    ${mib(m.peakKb)} (${m.samples} samples every ${SAMPLE_EVERY_MS} ms; VmHWM ${mib(m.hwmKb)})`,
    `  RSS after          ${mib(m.afterKb)}`,
    `  growth             ${mib(growthKb)}`,
  ];
  if (m.mode === 'buffer') {
    const boundKb = (BUFFER_MEMORY_BYTES + SLACK_BYTES) / 1024;
    lines.push(`  growth ≤ ${BUFFER_MEMORY_BYTES / MiB} + ${SLACK_BYTES / MiB} MiB  ${growthKb <= boundKb ? 'yes' : 'NO'}`);
    lines.push(`  spill files left   ${m.leftovers.length === 0 ? 'none' : m.leftovers.join(', ')}`);
  }
  return lines;
}

async function drive(totalMiB: number, control: boolean, nodeFlags: string[]): Promise<boolean> {
  installExitHandlers(DEADLINE_MS);
  const runs = [await measure('buffer', totalMiB * MiB, nodeFlags)];
  if (control) runs.push(await measure('stream', totalMiB * MiB, nodeFlags));
  if (nodeFlags.length > 0) process.stdout.write(`server node flags: ${nodeFlags.join(' ')}\n`);
  for (const m of runs) process.stdout.write(report(m, totalMiB).join('\n') + '\n');
  return runs.every((m) => m.roundTrip && m.leftovers.length === 0);
}

const { values, positionals } = parseArgs({
  options: {
    server: { type: 'string' },
    mib: { type: 'string' },
    'no-control': { type: 'boolean' },
    'node-flags': { type: 'string' },
  },
  allowPositionals: true,
});
if (values.server !== undefined) {
  serve(values.server === 'stream' ? 'stream' : 'buffer', positionals[0]);
} else {
  let ok = false;
  try {
    const totalMiB = Number(values.mib ?? 1024);
    if (!(totalMiB > 0)) throw new Error('--mib must be a positive number');
    const nodeFlags = (values['node-flags'] ?? '').split(/\s+/).filter((f) => f !== '');
    ok = await drive(totalMiB, !values['no-control'], nodeFlags);
  } catch (err) {
    process.stderr.write(`buffer-memory: ${(err as Error).message}\n`);
  } finally {
    await cleanup();
  }
  process.exit(ok ? 0 : 1);
}
