// The targets of one deployment: writers and optional readers, each with its
// own health check, balanced round-robin over the healthy ones.
import { HealthCheck } from '../health/health-check.ts';
import type { ProxyRequest } from '../http/proxy-request.ts';
import { log } from '../log/logger.ts';
import type { TargetOptions } from '../config/service-options.ts';
import { Target, type TargetHealth } from '../targets/target.ts';
import { cookieValue } from '../http/cookies.ts';
import { WRITER_COOKIE } from '../http/response-headers.ts';

function recentWriter(req: ProxyRequest): boolean {
  const value = cookieValue(req.headers.cookie, WRITER_COOKIE);
  return value !== '' && Number(value) > Date.now();
}

// The position after the one last taken.
function next(cursor: Int32Array<ArrayBufferLike>, slot: number, n: number): number {
  return ((Atomics.add(cursor, slot, 1) + 1) >>> 0) % n;
}

export class LoadBalancer {
  readonly writers: readonly Target[];
  readonly readers: readonly Target[];
  readonly readersAcceptWebSockets: boolean;
  #healthyWriters: Target[] = [];
  #healthyReaders: Target[] = [];
  // Round-robin positions [writers, readers], in memory every thread's copy
  // of this balancer shares, so the rotation is one across threads.
  readonly cursor: Int32Array<ArrayBufferLike>;
  #checks = new Map<Target, HealthCheck>();
  #onHealthChange: (() => void)[] = [];

  // Throws InvalidTargetError for an address kamal-proxy would refuse.
  constructor(writers: readonly string[], readers: readonly string[], options: TargetOptions, readersAcceptWebSockets = false, cursor: Int32Array<ArrayBufferLike> = new Int32Array(new SharedArrayBuffer(8))) {
    this.cursor = cursor;
    this.writers = writers.map((a) => new Target(a, options));
    this.readers = readers.map((a) => new Target(a, options));
    this.readersAcceptWebSockets = readersAcceptWebSockets;
  }

  get targets(): Target[] {
    return [...this.writers, ...this.readers];
  }

  startHealthChecks(): void {
    for (const target of this.targets) {
      if (this.#checks.has(target)) continue;
      const check = new HealthCheck(target.host, target.port, target.options.healthCheck, {
        healthCheckCompleted: (ok) => this.#healthCheckCompleted(target, ok),
      });
      this.#checks.set(target, check);
      check.start();
    }
  }

  stopHealthChecks(): void {
    for (const check of this.#checks.values()) check.stop();
    this.#checks.clear();
  }

  // State restored at start is trusted: every target serves at once, as in
  // kamal-proxy, and multi-target balancers keep checking.
  markAllHealthy(): void {
    for (const t of this.targets) t.health = 'healthy';
    this.#rebuildHealthy();
    if (this.targets.length > 1) this.startHealthChecks();
  }

  // Told of every change of a target's health.
  onHealthChange(listener: () => void): void {
    this.#onHealthChange.push(listener);
  }

  // A data-plane worker's copy of the main thread's balancer: the health
  // its checks found, in the order of `targets`. It runs no checks itself.
  setHealth(health: readonly TargetHealth[]): void {
    const targets = this.targets;
    for (let i = 0; i < targets.length && i < health.length; i++) targets[i]!.health = health[i]!;
    this.#rebuildHealthy();
  }

  get allHealthy(): boolean {
    return this.targets.every((t) => t.health === 'healthy');
  }

  // Resolves true once every target is healthy, false after timeoutMs.
  waitUntilHealthy(timeoutMs: number): Promise<boolean> {
    if (this.allHealthy) return Promise.resolve(true);
    return new Promise((resolve) => {
      const onChange = () => {
        if (!this.allHealthy) return;
        finish(true);
      };
      const finish = (ok: boolean) => {
        clearTimeout(timer);
        this.#onHealthChange = this.#onHealthChange.filter((f) => f !== onChange);
        resolve(ok);
      };
      const timer = setTimeout(() => finish(false), timeoutMs);
      this.#onHealthChange.push(onChange);
    });
  }

  // The target for a request, or null when none is healthy (503). The index
  // moves before use, as kamal-proxy's. Reads go to a reader unless the
  // client wrote moments ago (kamal-writer cookie): it must read its writes.
  claimTarget(req: ProxyRequest): Target | null {
    const readers = this.#healthyReaders;
    if (readers.length > 0 && this.isRead(req) && !recentWriter(req)) return readers[next(this.cursor, 1, readers.length)]!;
    const n = this.#healthyWriters.length;
    if (n === 0) return null;
    if (n === 1) return this.#healthyWriters[0]!;
    return this.#healthyWriters[next(this.cursor, 0, n)]!;
  }

  async drain(timeoutMs: number): Promise<void> {
    await Promise.all(this.targets.map((t) => t.drain(timeoutMs)));
  }

  close(): void {
    this.stopHealthChecks();
    for (const t of this.targets) t.close();
  }

  get hasReaders(): boolean {
    return this.readers.length > 0;
  }

  isRead(req: ProxyRequest): boolean {
    const m = req.method;
    if (m !== 'GET' && m !== 'HEAD') return false;
    if (this.readersAcceptWebSockets) return true;
    return req.headers.upgrade?.toLowerCase() !== 'websocket';
  }

  #healthCheckCompleted(target: Target, ok: boolean): void {
    const was = target.health;
    const now = ok ? 'healthy' : was === 'adding' ? 'adding' : 'unhealthy';
    if (now !== was) {
      target.health = now;
      log.info('Target health updated', { target: target.address, success: ok, state: now, was });
      this.#rebuildHealthy();
      for (const f of [...this.#onHealthChange]) f();
    }
    // A single target has nowhere to fail over to: stop checking once healthy.
    if (ok && this.targets.length === 1) {
      this.#checks.get(target)?.stop();
      this.#checks.delete(target);
    }
  }

  #rebuildHealthy(): void {
    this.#healthyWriters = this.writers.filter((t) => t.health === 'healthy');
    this.#healthyReaders = this.readers.filter((t) => t.health === 'healthy');
  }
}
