// Where a paced request's time goes: one keep-alive connection per target,
// one request at a time with a pause after each, so nothing queues and every
// request finds the proxy idle. A delay the proxy always adds (a timer, a
// deferred write, Nagle) moves the minimum and the low percentiles; sharing
// the CPU with other work moves the tail. Targets: the backend directly,
// kamal-napper (deployed as Kamal does) and nginx as a reverse proxy, each in
// front of the same nginx backend, visited in interleaved rounds; --variant
// adds kamal-napper builds or settings to compare in the same run, --go a Go
// reverse proxy standing in for kamal-proxy (bench/go-stand-in.ts). See
// bench/README.md, "Where a paced request's time goes".
//
// Usage: node bench/paced.ts [--rounds 5] [--requests 400] [--pause-ms 20] [--load] [--go]
//          [--variant NAME:ITEM[,ITEM...]]...
import { connect, type Socket } from 'node:net';
import { loadavg } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { startBackend } from './backend.ts';
import { startGoStandIn } from './go-stand-in.ts';
import { BODY } from './body.ts';
import { installExitHandlers, makeTempDir, run, runBench, sleep } from './children.ts';
import { HOST } from './net.ts';
import { median } from './report.ts';
import { startNapper, startNginxProxy, type Target } from './targets.ts';
import { requireTools, ROOT, which } from './tools.ts';
import { failure, pacedScript, wrk } from './wrk.ts';

const USAGE = `Usage: node bench/paced.ts [options]
  --rounds N        interleaved rounds over all targets (default 5)
  --requests N      requests per target per round (default 400)
  --pause-ms MS     pause after each response (default 20)
  --load            also load each target, while it is probed, with the bench's
                    fixed load (wrk -t1 -c50, each connection pausing 20 ms)
  --go              also Go's stdlib reverse proxy as a stand-in for kamal-proxy,
                    built with the \`go\` on PATH (skipped without one)
  --variant NAME:ITEM[,ITEM...]
                    one more kamal-napper target (repeatable), to measure a
                    switch in the same run; each ITEM is a checkout whose
                    bin/kamal-proxy runs (a path), ENV=VALUE for its process, or
                    --no-buffering (deployed without Kamal's buffering flags).
                    e.g. --variant undici:KAMAL_NAPPER_UPSTREAM_CLIENT=undici`;

type Variant = { name: string; root: string; env: Record<string, string>; buffering: boolean };
type Options = { rounds: number; requests: number; pauseMs: number; load: boolean; go: boolean; variants: Variant[] };

function variant(spec: string): Variant {
  const colon = spec.indexOf(':');
  if (colon < 1) throw new Error(`--variant wants NAME:ITEM[,ITEM...], got ${spec}`);
  const v: Variant = { name: `kamal-napper ${spec.slice(0, colon)}`, root: ROOT, env: {}, buffering: true };
  for (const item of spec.slice(colon + 1).split(',')) {
    const eq = item.indexOf('=');
    if (item === '--no-buffering') v.buffering = false;
    else if (eq > 0) v.env[item.slice(0, eq)] = item.slice(eq + 1);
    else if (item.includes('/') || item === '.') v.root = resolve(item);
    else throw new Error(`--variant ${spec}: cannot read ${JSON.stringify(item)} (a path, ENV=VALUE or --no-buffering)`);
  }
  return v;
}

function options(): Options {
  const { values } = parseArgs({
    options: {
      rounds: { type: 'string', default: '5' },
      requests: { type: 'string', default: '400' },
      'pause-ms': { type: 'string', default: '20' },
      load: { type: 'boolean', default: false },
      go: { type: 'boolean', default: false },
      variant: { type: 'string', multiple: true, default: [] },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    console.log(USAGE);
    process.exit(0);
  }
  const int = (v: string, name: string, min: number, max: number): number => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < min || n > max) throw new Error(`--${name} must be a whole number from ${min} to ${max}, got ${v}`);
    return n;
  };
  return {
    rounds: int(values.rounds, 'rounds', 1, 100),
    requests: int(values.requests, 'requests', 10, 100_000),
    pauseMs: int(values['pause-ms'], 'pause-ms', 0, 1000),
    load: values.load,
    go: values.go,
    variants: values.variant.map(variant),
  };
}

// One keep-alive connection that sends a GET and times it from the write to
// the last byte of the response (a Content-Length one, as every target's is).
class Probe {
  readonly #socket: Socket;
  readonly #request: Buffer;
  #chunks: Buffer[] = [];
  #bytes = 0;
  #start = 0n;
  #done: ((r: { ms: number; response: Buffer }) => void) | null = null;
  #fail: ((e: Error) => void) | null = null;

  private constructor(socket: Socket, port: number) {
    this.#socket = socket;
    this.#request = Buffer.from(`GET / HTTP/1.1\r\nHost: ${HOST}:${port}\r\nUser-Agent: paced-probe\r\n\r\n`, 'latin1');
    socket.on('data', this.#onData);
    socket.on('error', (e) => this.#fail?.(e));
    socket.on('close', () => this.#fail?.(new Error('connection closed')));
  }

  static open(port: number): Promise<Probe> {
    return new Promise((resolve, reject) => {
      const socket = connect({ host: HOST, port, noDelay: true }, () => {
        socket.off('error', reject);
        resolve(new Probe(socket, port));
      });
      socket.once('error', reject);
    });
  }

  get(): Promise<{ ms: number; response: Buffer }> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => this.#fail?.(new Error(`no response within ${TIMEOUT_MS} ms`)), TIMEOUT_MS);
      this.#done = (r) => {
        clearTimeout(timer);
        resolve(r);
      };
      this.#fail = (e) => {
        clearTimeout(timer);
        this.#done = this.#fail = null;
        reject(e);
      };
      this.#chunks = [];
      this.#bytes = 0;
      this.#start = process.hrtime.bigint();
      this.#socket.write(this.#request);
    });
  }

  close(): void {
    this.#fail = null;
    this.#socket.destroy();
  }

  readonly #onData = (chunk: Buffer): void => {
    const at = process.hrtime.bigint();
    this.#chunks.push(chunk);
    this.#bytes += chunk.length;
    const data = this.#chunks.length === 1 ? chunk : Buffer.concat(this.#chunks);
    const headEnd = data.indexOf('\r\n\r\n');
    if (headEnd === -1) return;
    const length = /\r\ncontent-length:\s*(\d+)/i.exec(data.toString('latin1', 0, headEnd));
    if (length === null) return this.#fail?.(new Error('response without Content-Length'));
    if (this.#bytes < headEnd + 4 + Number(length[1])) return;
    const done = this.#done;
    this.#done = this.#fail = null;
    done?.({ ms: Number(at - this.#start) / 1e6, response: data });
  };
}

function check(name: string, response: Buffer): void {
  const head = response.toString('latin1', 0, response.indexOf('\r\n\r\n'));
  const body = response.subarray(head.length + 4);
  if (!head.startsWith('HTTP/1.1 200 ') || !body.equals(BODY)) {
    throw new Error(`correctness check failed for ${name}: ${JSON.stringify(head.split('\r\n')[0])}, ${body.length}-byte body (want 200 and the 100-byte body)`);
  }
}

const TIMEOUT_MS = 5000;
// Unmeasured requests on each new connection: the first ones open the
// upstream connection and run code not yet compiled.
const WARM_UP_REQUESTS = 20;

const QUANTILES = [['min', 0], ['p10', 0.1], ['p50', 0.5], ['p90', 0.9], ['p99', 0.99]] as const;
type Stats = Record<(typeof QUANTILES)[number][0], number>;

function stats(samples: number[]): Stats {
  const s = [...samples].sort((a, b) => a - b);
  const at = (q: number) => s[Math.min(s.length - 1, Math.floor(q * s.length))]!;
  return Object.fromEntries(QUANTILES.map(([name, q]) => [name, at(q)])) as Stats;
}

async function redeployWithoutBuffering(napper: Target, backendPort: number, dir: string, root: string): Promise<void> {
  const file = napper.name.replace(/[^\w.-]+/g, '-');
  const env = { ...process.env, HOME: join(dir, `${file}-home`), KAMAL_PROXY_SOCKET: join(dir, `${file}.sock`) };
  const args = ['deploy', 'bench', `--target=127.0.0.1:${backendPort}`, '--log-request-header=Cache-Control',
    '--log-request-header=Last-Modified', '--log-request-header=User-Agent', '--deploy-timeout=10s'];
  const out = await run(join(root, 'bin', 'kamal-proxy'), args, { env, timeoutMs: 20_000 });
  if (out.code !== 0) throw new Error(`redeploy of ${napper.name} failed:\n${out.stdout}${out.stderr}`);
}

async function main(): Promise<void> {
  const o = options();
  const tools = requireTools();
  if (!tools.nginx) throw new Error('nginx is needed (sudo apt-get install -y nginx): it is the backend and the reference proxy');
  // A missing Go is a note, not a failure: the other targets still compare.
  const go = o.go ? which('go') : undefined;
  if (o.go && !go) console.log('--go: no `go` on PATH (Debian: sudo apt-get install -y golang-go), so no Go stand-in');
  const perTargetMs = o.requests * (o.pauseMs + 5);
  // The Go build gets its own 300 s, its timeout (bench/go-stand-in.ts).
  installExitHandlers((120 + (go ? 300 : 0) + o.rounds * (3 + o.variants.length + (go ? 1 : 0)) * (perTargetMs / 1000 + 4) * 2) * 1000);

  const loadBefore = loadavg()[0]!;
  const dir = makeTempDir();
  const backend = await startBackend(dir, tools.nginx);
  const direct: Target = { name: 'direct (nginx)', port: backend.port };
  const nappers: Target[] = [await startNapper(dir, backend)];
  for (const v of o.variants) {
    // startNapper copies process.env before its first await.
    const saved = Object.keys(v.env).map((k) => [k, process.env[k]] as const);
    Object.assign(process.env, v.env);
    const started = startNapper(dir, backend, { root: v.root, name: v.name });
    for (const [k, x] of saved) {
      if (x === undefined) delete process.env[k];
      else process.env[k] = x;
    }
    const napper = await started;
    if (!v.buffering) await redeployWithoutBuffering(napper, backend.port, dir, v.root);
    nappers.push(napper);
    const env = Object.entries(v.env).map(([k, x]) => `${k}=${x}`).join(' ');
    console.log(`${v.name}: ${v.root}${env ? ` ${env}` : ''}${v.buffering ? '' : ', without --buffer-requests --buffer-responses'}`);
  }
  const goTarget = go ? [await startGoStandIn(dir, go, backend)] : [];
  const targets: Target[] = [direct, ...nappers, ...goTarget, await startNginxProxy(dir, tools.nginx, backend)];

  // Correctness first, and a warm-up of everything: compiled code, upstream connections.
  for (const t of targets) {
    const p = await Probe.open(t.port);
    for (let i = 0; i < 200; i++) check(t.name, (await p.get()).response);
    p.close();
  }
  console.log(`correctness: 200 + 100-byte body from ${targets.map((t) => t.name).join(', ')}`);
  const script = o.load ? pacedScript(dir, 20) : undefined;

  const samples = new Map<string, number[]>(targets.map((t) => [t.name, []]));
  const roundP50 = new Map<string, number[]>(targets.map((t) => [t.name, []]));
  for (let r = 0; r < o.rounds; r++) {
    // Each round starts with a different target, so none always follows another.
    const order = targets.map((_, i) => targets[(i + r) % targets.length]!);
    for (const t of order) {
      // A new connection each time: an idle keep-alive one may have timed out meanwhile.
      const probe = await Probe.open(t.port);
      for (let i = 0; i < WARM_UP_REQUESTS; i++) {
        await probe.get();
        await sleep(o.pauseMs);
      }
      const load = script ? wrk(tools.wrk, t.port, Math.ceil(perTargetMs / 1000) + 2, false, script) : null;
      if (load) await sleep(1000);
      const round: number[] = [];
      for (let i = 0; i < o.requests; i++) {
        round.push((await probe.get()).ms);
        if (o.pauseMs > 0) await sleep(o.pauseMs);
      }
      probe.close();
      if (load) {
        const bad = failure(await load);
        if (bad) throw new Error(`the load on ${t.name} failed: ${bad}`);
      }
      samples.get(t.name)!.push(...round);
      roundP50.get(t.name)!.push(stats(round).p50);
      console.log(`round ${r + 1}/${o.rounds}  ${t.name.padEnd(16)} p50 ${stats(round).p50.toFixed(3)} ms  min ${stats(round).min.toFixed(3)} ms`);
    }
  }

  const all = new Map(targets.map((t) => [t.name, stats(samples.get(t.name)!)]));
  const base = all.get(direct.name)!;
  const what = `${o.rounds} rounds × ${o.requests} requests per target, one connection each, ${o.pauseMs} ms pause after each response` +
    (o.load ? ', each target under wrk -t1 -c50 with 20 ms pauses meanwhile' : '');
  // Other work on the box moves every figure; say how busy it was.
  console.log(`\n${what}; load average ${loadBefore.toFixed(2)} before, ${loadavg()[0]!.toFixed(2)} after`);
  console.log('ms over all requests; ratio to direct in brackets; p50 per round last\n');
  const cols = QUANTILES.map(([name]) => name);
  const rows = targets.map((t) => {
    const s = all.get(t.name)!;
    return [t.name, ...cols.map((c) => `${s[c].toFixed(3)} (${(s[c] / base[c]).toFixed(2)})`), roundP50.get(t.name)!.map((x) => x.toFixed(2)).join(' / ')];
  });
  const header = ['target', ...cols, 'p50 per round'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === 0 || i === cells.length - 1 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  console.log(line(header));
  console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const r of rows) console.log(line(r));
  console.log('\nadded to direct, ms (median over rounds of the round p50s minus direct\'s):');
  for (const t of targets.slice(1)) {
    const added = roundP50.get(t.name)!.map((x, i) => x - roundP50.get(direct.name)![i]!);
    console.log(`  ${t.name.padEnd(16)} ${median(added).toFixed(3)}`);
  }
}

runBench('paced bench', main);
