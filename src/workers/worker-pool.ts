// The data-plane workers, from the main thread (the control plane): starts
// them, pushes every change of the routing table, nap state, certificates
// and ACME challenges to them, answers what they ask (a wake, a
// certificate), writes their log lines, adds their metrics to ours, and
// stops them with the proxy.
import { getCompileCacheDir } from 'node:module';
import { dirname } from 'node:path';
import { Worker } from 'node:worker_threads';
import { SHUTDOWN_TIMEOUT_MS, WORKER_ANSWER_TIMEOUT_MS, WORKER_RESTART_DELAY_MS } from '../config/defaults.ts';
import { log } from '../log/logger.ts';
import type { Napper } from '../nap/napper.ts';
import type { Replicas } from '../router/replicas.ts';
import type { Router } from '../router/router.ts';
import type { Certificate } from '../tls/certificate.ts';
import { Channel } from './channel.ts';
import { changeFromThread } from '../accel/http-cache/http-cache.ts';
import type { LoadBalancer } from '../loadbalancer/load-balancer.ts';
import type { Service } from '../service/service.ts';
import type { CertificatePems, IdleAnswer, ServiceSnapshot, ToMain, ToWorker, WakeAnswer, WorkerInit, WorkerMetrics } from './messages.ts';

export interface WorkerPoolConfig {
  threads: number; // serving in all, the main thread included
  httpPort: number; // as configured
  httpsPort: number;
  bindPorts: { http: number; https: number }; // as bound by the main thread (never 0)
  bindAddress?: string;
  clientHeadersTimeoutMs?: number;
  metrics: boolean;
  ignoreUserAgents: readonly string[];
}

interface Running {
  index: number;
  worker: Worker;
  channel: Channel<ToMain, ToWorker>;
}

export class WorkerPool implements Replicas {
  readonly #router: Router;
  readonly #config: WorkerPoolConfig;
  readonly #running = new Map<number, Running>();
  readonly #followed = new WeakMap<Napper, Int32Array<SharedArrayBuffer>>(); // its awake flag
  readonly #mirrored = new WeakSet<Service>();
  readonly #watched = new WeakSet<LoadBalancer>(); // balancers whose health changes reach the workers
  // A worker busy with a napping service's requests counts as one request in
  // flight on its napper, from its first request to the end of its last.
  readonly #busy = new Map<string, Napper>(); // `${worker}\n${service}` -> the napper told
  #stopping = false;

  constructor(router: Router, config: WorkerPoolConfig) {
    this.#router = router;
    this.#config = config;
  }

  // Resolves once every worker listens; rejects if one cannot.
  async start(): Promise<void> {
    this.#router.useReplicas(this);
    log.flushElsewhereFirst(() => this.#flushLogs());
    this.#router.certificates.challenges.watch((update) => this.#broadcast({ t: 'challenge', update }));
    this.#router.onCertificatesChange(() => this.#broadcast({ t: 'certificates', defaultCertificate: pemsOf(this.#router.defaultCertificate()) }));
    const started: Promise<void>[] = [];
    for (let index = 1; index < this.#config.threads; index++) started.push(this.#spawn(index));
    await Promise.all(started);
  }

  async stop(): Promise<void> {
    this.#stopping = true;
    await Promise.all([...this.#running.values()].map(async (r) => {
      await withTimeout(r.channel.ask({ t: 'stop' }), SHUTDOWN_TIMEOUT_MS + WORKER_ANSWER_TIMEOUT_MS).catch(() => {});
      r.channel.close();
      await r.worker.terminate();
    }));
    this.#running.clear();
    log.flushElsewhereFirst(null);
  }

  async #flushLogs(): Promise<void> {
    await Promise.all(this.#each((c) => withTimeout(c.ask({ t: 'flushLog' }), WORKER_ANSWER_TIMEOUT_MS).catch(() => {})));
  }

  // ---- Replicas

  async changed(): Promise<void> {
    if (this.#running.size === 0) return;
    const services = this.#snapshot();
    await Promise.all(this.#each((c) => withTimeout(c.ask({ t: 'routes', services }), WORKER_ANSWER_TIMEOUT_MS).catch(() => {})));
  }

  async drain(service: string, what: 'retired' | 'serving', timeoutMs: number): Promise<void> {
    await Promise.all(this.#each((c) => c.ask({ t: 'drain', service, what, timeoutMs }).catch(() => {})));
  }

  async othersIdle(service: string, idleTimeoutMs: number): Promise<IdleAnswer> {
    // A worker that does not answer has nothing in flight to lose.
    const answers = await Promise.all(this.#each((c) =>
      withTimeout(c.ask<IdleAnswer>({ t: 'claimIdle', service, idleTimeoutMs }), WORKER_ANSWER_TIMEOUT_MS).catch(() => ({ idle: true, lastActivityMs: 0 })),
    ));
    return { idle: answers.every((a) => a.idle), lastActivityMs: Math.max(0, ...answers.map((a) => a.lastActivityMs)) };
  }

  // What every worker counted, for the metrics scrape.
  async metrics(): Promise<WorkerMetrics[]> {
    const answers = await Promise.all(this.#each((c) => withTimeout(c.ask<WorkerMetrics>({ t: 'metrics' }), WORKER_ANSWER_TIMEOUT_MS).catch(() => null)));
    return answers.filter((a) => a !== null);
  }

  // ---- workers

  #spawn(index: number): Promise<void> {
    const init: WorkerInit = {
      kind: 'kamal-napper-worker',
      index,
      workers: this.#config.threads,
      httpPort: this.#config.httpPort,
      httpsPort: this.#config.httpsPort,
      bindPorts: this.#config.bindPorts,
      bindAddress: this.#config.bindAddress,
      clientHeadersTimeoutMs: this.#config.clientHeadersTimeoutMs,
      metrics: this.#config.metrics,
      debug: log.debugEnabled,
      ignoreUserAgents: this.#config.ignoreUserAgents,
      services: this.#snapshot(),
      defaultCertificate: pemsOf(this.#router.defaultCertificate()),
    };
    const worker = new Worker(new URL('./worker-main.ts', import.meta.url), { workerData: init, env: workerEnv() });
    return new Promise((resolve, reject) => {
      let listening = false;
      const channel = new Channel<ToMain, ToWorker>(worker, (m) => {
        switch (m.t) {
          case 'listening':
            listening = true;
            return resolve();
          case 'log': return log.appendLines(Buffer.from(m.lines.buffer, m.lines.byteOffset, m.lines.byteLength));
          case 'wake': return this.#wake(m.service, m.trigger);
          case 'activity': return this.#activity(index, m.service, m.busy, m.atMs);
          case 'certificate': return this.#router.certificateFor(m.serverName).then(pemsOf);
          case 'cache':
            this.#router.service(m.service)?.replayCache(m.deployment, changeFromThread(m.change));
            return this.#broadcast(m, index);
        }
      });
      // Told of every change from its snapshot on, while it starts too.
      this.#running.set(index, { index, worker, channel });
      for (const update of this.#router.certificates.challenges.held()) channel.post({ t: 'challenge', update });
      worker.on('error', (err) => {
        if (!listening) return reject(err);
        log.error('Worker failed', { worker: index, error: err.message });
      });
      worker.on('exit', (code) => {
        channel.close();
        this.#running.delete(index);
        for (const key of [...this.#busy.keys()]) if (key.startsWith(`${index}\n`)) this.#activity(index, key.slice(key.indexOf('\n') + 1), false);
        if (!listening) return reject(new Error(`worker ${index} exited (${code}) before listening`));
        if (this.#stopping) return;
        // Its connections are gone; the other threads serve meanwhile.
        log.error('Worker exited, starting another', { worker: index, code });
        setTimeout(() => void this.#spawn(index).catch((err: Error) => log.error('Worker restart failed', { worker: index, error: err.message })), WORKER_RESTART_DELAY_MS).unref();
      });
    });
  }

  #activity(index: number, service: string, busy: boolean, atMs = Date.now()): void {
    const key = `${index}\n${service}`;
    if (busy) {
      const napper = this.#router.service(service)?.napper ?? null;
      if (napper === null || this.#busy.has(key)) return;
      this.#busy.set(key, napper);
      napper.requestStarted();
    } else {
      // The napper told, even if a deploy has replaced it since.
      this.#busy.get(key)?.requestEnded(atMs);
      this.#busy.delete(key);
    }
  }

  async #wake(service: string, trigger: string): Promise<WakeAnswer> {
    const napper = this.#router.service(service)?.napper ?? null;
    if (napper === null) return { ok: false, error: 'the service does not nap', progress: null };
    try {
      await napper.wake(trigger);
      return { ok: true, progress: napper.progress() };
    } catch (err) {
      return { ok: false, error: (err as Error).message, progress: napper.progress() };
    }
  }

  #snapshot(): ServiceSnapshot[] {
    return this.#router.services().map((s) => {
      this.#follow(s);
      const napper = s.napper;
      return {
        state: s.routingState(),
        deployment: s.deployment,
        rolloutDeployment: s.rolloutDeployment,
        activeHealth: s.active.targets.map((t) => t.health),
        rolloutHealth: s.rollout?.targets.map((t) => t.health) ?? [],
        activeCursor: s.active.cursor,
        rolloutCursor: s.rollout?.cursor ?? null,
        nap: napper?.progress() ?? null,
        napAwake: napper === null ? null : this.#followed.get(napper)!,
      };
    });
  }

  // What a service tells the workers of by itself, hooked up once for each
  // service, balancer and napper: its cache's changes, target health, nap state.
  #follow(s: Service): void {
    if (!this.#mirrored.has(s)) {
      this.#mirrored.add(s);
      s.mirrorCache((deployment, change) => this.#broadcast({ t: 'cache', service: s.name, deployment, change }));
    }
    for (const lb of [s.active, s.rollout]) {
      if (lb === null || this.#watched.has(lb)) continue;
      this.#watched.add(lb);
      lb.onHealthChange(() => void this.changed());
    }
    const napper = s.napper;
    if (napper === null || this.#followed.has(napper)) return;
    const flag = new Int32Array(new SharedArrayBuffer(4));
    this.#followed.set(napper, flag);
    Atomics.store(flag, 0, napper.awake ? 1 : 0);
    napper.subscribe((progress) => {
      // First the flag, read by every thread's requests; then the detail, for waiting pages.
      Atomics.store(flag, 0, napper.awake ? 1 : 0);
      this.#broadcast({ t: 'nap', service: s.name, progress });
    });
  }

  #broadcast(message: ToWorker, except = 0): void {
    for (const r of this.#running.values()) if (r.index !== except) r.channel.post(message);
  }

  #each<T>(f: (c: Channel<ToMain, ToWorker>) => T): T[] {
    return [...this.#running.values()].map((r) => f(r.channel));
  }
}

// A worker reads NODE_COMPILE_CACHE from its own copy of the environment,
// which main.ts has already removed it from: without it, the worker strips
// our .ts files again, loading Node's TypeScript stripper (WebAssembly), and
// each worker costs ~25 MB more RSS (bench/README.md, "Workers"). The
// directory is the one this thread uses; Node names its subdirectory by
// version and flags.
function workerEnv(): NodeJS.ProcessEnv {
  const cache = getCompileCacheDir();
  return cache === undefined ? process.env : { ...process.env, NODE_COMPILE_CACHE: dirname(cache) };
}

function pemsOf(cert: Certificate | null): CertificatePems | null {
  return cert === null ? null : { keyPem: cert.keyPem, chainPem: cert.chainPem };
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error('no answer')), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}
