// One service's nap cycle: running -> idle -> stopping -> stopped ->
// starting -> running.
//
// Inside the proxy we see every request as it arrives, so there is no polling
// of logs: the first request to a stopped app starts the wake at once, every
// concurrent request joins that same wake (single flight), and readiness is
// the service's own health check probed every few tens of ms. Activity is
// what is in flight (proxied requests, open WebSockets and streams), so a long
// session is never cut; the idle clock starts when the last one ends.
import * as d from '../config/defaults.ts';
import { formatGoDuration } from '../util/go-duration.ts';
import { log } from '../log/logger.ts';
import type { NapOptions, NapPersisted, NapStateName } from '../config/nap-options.ts';
import type { Runtime } from './runtime.ts';
import type { NapGate, WakeProgress } from './nap-gate.ts';
import { memoryOf, NapStats } from './nap-stats.ts';
import { beforeDeadline, DeadlineError, rethrowUnlessProbe, sleep } from './wake-deadline.ts';

export type { WakeProgress };

export interface NapperHooks {
  // One readiness probe: the service's health check on its targets.
  probe(): Promise<boolean>;
  // The app is ready: its targets may take traffic.
  ready(): void;
  // The app is going to sleep: stop health-checking it.
  asleep(): void;
  // Something worth persisting changed (asleep, woke, wake count).
  changed(): void;
  // With data-plane workers: whether their requests let the app nap now.
  // Those that answer idle hold new requests until told otherwise (each
  // change of state is emitted), so none reaches an app being stopped.
  othersIdle?(idleTimeoutMs: number): Promise<{ idle: boolean; lastActivityMs: number }>;
}

export const WAKE_FAILED_TEXT = 'the app could not be started';

export class WakeError extends Error {}

export class Napper implements NapGate {
  readonly service: string;
  readonly options: NapOptions;
  readonly runtimes: readonly Runtime[];
  // Since this process started; a redeploy passes the previous napper's on.
  readonly stats: NapStats;
  readonly #hooks: NapperHooks;
  readonly #maxRetries: number;
  #state: NapStateName;
  #active = 0;
  #lastActivityMs: number;
  #savedActivityMs: number; // what the state file was last given
  #wakes: number;
  #idleTimer: NodeJS.Timeout | null = null;
  #reconcileTimer: NodeJS.Timeout | null = null;
  #waking: Promise<void> | null = null;
  #stopping: Promise<void> | null = null;
  #wakeStartedMs = 0;
  #startAttempts = 0;
  #probes = 0;
  #error = '';
  #listeners = new Set<(p: WakeProgress) => void>();
  #unsubscribe: (() => void)[] = [];
  #closed = false;

  constructor(
    service: string,
    options: NapOptions,
    runtimes: readonly Runtime[],
    hooks: NapperHooks,
    config: { maxRetries: number; pollIntervalMs: number },
    restored?: NapPersisted, // from the state file, or what a deploy carries over
    stats = new NapStats(),
  ) {
    this.service = service;
    this.options = options;
    this.runtimes = runtimes;
    this.stats = stats;
    this.#hooks = hooks;
    this.#maxRetries = config.maxRetries;
    this.#state = restored?.asleep ? 'stopped' : 'idle';
    this.#lastActivityMs = keptActivityMs(restored?.lastActivityMs);
    this.#savedActivityMs = this.#lastActivityMs;
    this.#wakes = restored?.wakes ?? 0;
    // A deploy hands over the stats; a restart has only what the file kept.
    if (this.awake) stats.memoryAtSleepBytes = 0;
    else if (restored?.memoryAtSleepBytes) stats.memoryAtSleepBytes = restored.memoryAtSleepBytes;
    // Counted from the kept time, not from now: a proxy restarted more often
    // than the idle timeout must still let an idle app nap.
    if (this.#state === 'idle') this.#armIdle(this.options.idleTimeoutMs - (Date.now() - this.#lastActivityMs));
    for (const r of runtimes) {
      const off = r.onExternalChange?.((state) => {
        if (state !== 'running') this.#stoppedOutside(r.description);
      });
      if (off) this.#unsubscribe.push(off);
    }
    // Drift: an app stopped by hand (or a host that rebooted) is noticed
    // without waiting for a visitor to hit a dead target.
    if (config.pollIntervalMs > 0) {
      this.#reconcileTimer = setInterval(() => void this.reconcile(), config.pollIntervalMs);
      this.#reconcileTimer.unref();
    }
  }

  get state(): NapStateName {
    return this.#state;
  }

  get awake(): boolean {
    return this.#state === 'running' || this.#state === 'idle';
  }

  get active(): number {
    return this.#active;
  }

  get lastActivityMs(): number {
    return this.#lastActivityMs;
  }

  get wakes(): number {
    return this.#wakes;
  }

  // Called for each save of the state file. Requests in flight are activity
  // until they end: the one a restart cuts off was last used now.
  persisted(): NapPersisted {
    this.#savedActivityMs = this.#active > 0 ? Date.now() : this.#lastActivityMs;
    return { options: this.options, asleep: !this.awake, lastActivityMs: this.#savedActivityMs, wakes: this.#wakes, memoryAtSleepBytes: this.stats.memoryAtSleepBytes };
  }

  // ---- activity: called for every request that counts, and its end

  requestStarted(): void {
    this.#active++;
    this.#lastActivityMs = Date.now();
    if (this.#state === 'idle') this.#state = 'running';
  }

  // atMs: when it ended, if that was earlier (told by a worker thread).
  requestEnded(atMs = Date.now()): void {
    this.#active--;
    this.#lastActivityMs = Math.max(this.#lastActivityMs, atMs);
    if (this.#active === 0 && this.#state === 'running') {
      this.#state = 'idle';
      this.#armIdle();
      this.#saveActivityIfBehind();
    }
  }

  // A restarted proxy counts idleness from the last activity in the state
  // file, so the file must keep up with a busy app; but not at request rate:
  // once it lags by a tenth of the idle timeout (at most a minute). A proxy
  // killed in between lets the app nap that much early; its next request
  // wakes it.
  #saveActivityIfBehind(): void {
    if (this.#closed) return; // replaced or removed: no longer in the file
    const idleMs = this.options.idleTimeoutMs;
    const lagMs = idleMs === 0 ? d.NAP_ACTIVITY_SAVE_MAX_LAG_MS : Math.min(d.NAP_ACTIVITY_SAVE_MAX_LAG_MS, idleMs / d.NAP_ACTIVITY_SAVE_LAG_DIVISOR);
    if (this.#lastActivityMs - this.#savedActivityMs >= lagMs) this.#hooks.changed();
  }

  // ---- wake

  // Starts the app (once, however many callers) and resolves when it is ready.
  wake(trigger: string): Promise<void> {
    if (this.awake) return Promise.resolve();
    this.#waking ??= this.#wake(trigger).finally(() => (this.#waking = null));
    return this.#waking;
  }

  async #wake(trigger: string): Promise<void> {
    if (this.#stopping !== null) await this.#stopping;
    if (this.awake) return;
    this.#wakeStartedMs = Date.now();
    const deadline = this.#wakeStartedMs + this.options.wakeTimeoutMs;
    this.#startAttempts = 0;
    this.#probes = 0;
    this.#error = '';
    this.#state = 'starting';
    this.stats.memoryAtSleepBytes = 0;
    log.info('Waking', { service: this.service, trigger, runtime: this.#description() });
    this.#emit();
    try {
      await this.#startRuntimes(deadline);
      this.#emit();
      await this.#waitUntilReady(deadline);
    } catch (err) {
      this.#error = (err as Error).message;
      log.error('Wake failed', { service: this.service, error: this.#error, elapsed_ms: Date.now() - this.#wakeStartedMs });
      this.stats.recordWake('failed', (Date.now() - this.#wakeStartedMs) / 1000);
      this.#state = 'stopped';
      this.#emit();
      this.#hooks.asleep();
      this.#hooks.changed();
      // Leave nothing half-started behind; the next request tries again.
      void Promise.allSettled(this.runtimes.map((r) => r.stop()));
      throw new WakeError(this.#error);
    }
    this.#wakes++;
    this.stats.recordWake('woken', (Date.now() - this.#wakeStartedMs) / 1000);
    this.#lastActivityMs = Date.now();
    this.#state = this.#active > 0 ? 'running' : 'idle';
    this.#hooks.ready();
    this.#armIdle();
    log.info('Woke', { service: this.service, trigger, duration_ms: Date.now() - this.#wakeStartedMs, probes: this.#probes });
    this.#emit();
    this.#hooks.changed();
  }

  // Runtime errors (Docker busy, a process that exits at once) are retried
  // with exponential backoff, up to max_retries more attempts.
  async #startRuntimes(deadline: number): Promise<void> {
    for (;;) {
      // A removed service (`kamal app stop` runs `remove`, then stops the
      // container) must not start its app again from a retry.
      if (this.#closed) throw new WakeError('the service was removed');
      this.#startAttempts++;
      try {
        await beforeDeadline(Promise.all(this.runtimes.map((r) => r.start())), deadline, 'start');
        return;
      } catch (err) {
        const last = this.#startAttempts > this.#maxRetries || Date.now() >= deadline || err instanceof DeadlineError;
        if (last) throw err;
        this.#error = (err as Error).message;
        log.warn('Wake start failed, retrying', { service: this.service, attempt: this.#startAttempts, error: this.#error });
        this.#emit();
        await sleep(Math.min(d.NAP_RETRY_BACKOFF_BASE_MS * 2 ** (this.#startAttempts - 1), Math.max(0, deadline - Date.now())));
      }
    }
  }

  async #waitUntilReady(deadline: number): Promise<void> {
    for (;;) {
      if (this.#closed) throw new WakeError('the service was removed');
      this.#probes++;
      if (await beforeDeadline(this.#hooks.probe(), deadline, 'ready').catch(rethrowUnlessProbe)) return;
      if (Date.now() >= deadline) {
        throw new DeadlineError(`not ready within the wake timeout (${formatGoDuration(this.options.wakeTimeoutMs)})`);
      }
      // The page only needs a few updates a second.
      if (this.#probes % 8 === 0) this.#emit();
      await sleep(d.NAP_PROBE_INTERVAL_MS);
    }
  }

  // ---- nap

  // Stops the app now (idle timeout, `kamal-napper nap`, stop-all). A wake in
  // progress finishes first; requests arriving meanwhile wait for the stop
  // and then wake it again, so nothing is lost.
  async nap(reason: string): Promise<void> {
    if (this.#waking !== null) await this.#waking.catch(() => {});
    if (this.#stopping !== null) return this.#stopping;
    if (this.#state === 'stopped') return;
    this.#clearIdle();
    this.#state = 'stopping';
    this.#hooks.asleep();
    this.#emit();
    log.info('Napping', { service: this.service, reason, idle_ms: Date.now() - this.#lastActivityMs });
    // What the app holds just before it stops is what napping gives back.
    let memoryBytes = 0;
    this.#stopping = memoryOf(this.runtimes)
      .then((bytes) => {
        memoryBytes = bytes;
        return Promise.all(this.runtimes.map((r) => r.stop()));
      })
      .then(
        () => {
          this.#state = 'stopped';
          this.stats.memoryAtSleepBytes = memoryBytes;
          log.info('Napped', { service: this.service, reason });
        },
        (err: Error) => {
          // Still running as far as we know: serve it and try again later.
          log.error('Nap failed', { service: this.service, error: err.message });
          this.#state = 'idle';
          this.#hooks.ready();
          this.#armIdle();
        },
      )
      .finally(() => {
        this.#stopping = null;
        this.#emit();
        this.#hooks.changed();
      });
    return this.#stopping;
  }

  // Notices an app that stopped without us (crash, `docker stop` by hand).
  async reconcile(): Promise<void> {
    if (!this.awake || this.#closed) return;
    for (const r of this.runtimes) {
      const state = await r.inspect().catch(() => 'running' as const);
      if (state !== 'running' && this.awake) this.#stoppedOutside(r.description);
    }
  }

  #stoppedOutside(what: string): void {
    if (!this.awake || this.#closed) return;
    log.warn('App stopped outside the proxy', { service: this.service, runtime: what });
    this.#clearIdle();
    this.#state = 'stopped';
    this.stats.memoryAtSleepBytes = 0; // not known: it did not stop through us
    this.#hooks.asleep();
    this.#emit();
    this.#hooks.changed();
  }

  // ---- progress, for the waiting page

  progress(): WakeProgress {
    return {
      service: this.service,
      state: this.#state,
      elapsedMs: this.#wakeStartedMs === 0 ? 0 : Date.now() - this.#wakeStartedMs,
      startAttempts: this.#startAttempts,
      probes: this.#probes,
      ready: this.awake,
      error: this.#state === 'stopped' && this.#error !== '' ? WAKE_FAILED_TEXT : '',
    };
  }

  subscribe(listener: (p: WakeProgress) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  close(): void {
    this.#closed = true;
    this.#clearIdle();
    if (this.#reconcileTimer !== null) clearInterval(this.#reconcileTimer);
    for (const off of this.#unsubscribe) off();
    for (const r of this.runtimes) r.close();
    this.#listeners.clear();
  }

  // The idle timer is armed lazily and re-checks the last activity when it
  // fires, so a busy service costs no timer work per request.
  #armIdle(delayMs = this.options.idleTimeoutMs): void {
    if (this.options.idleTimeoutMs === 0 || this.#idleTimer !== null || this.#closed) return;
    this.#idleTimer = setTimeout(() => this.#idleCheck(), Math.max(0, delayMs));
    this.#idleTimer.unref();
  }

  #idleCheck(): void {
    this.#idleTimer = null;
    if (this.#state !== 'idle' || this.#active > 0) return;
    const idleFor = Date.now() - this.#lastActivityMs;
    if (idleFor >= this.options.idleTimeoutMs) {
      if (this.#hooks.othersIdle) void this.#napIfOthersIdle(this.#hooks.othersIdle);
      else void this.nap('idle');
    } else {
      this.#idleTimer = setTimeout(() => this.#idleCheck(), this.options.idleTimeoutMs - idleFor);
      this.#idleTimer.unref();
    }
  }

  async #napIfOthersIdle(othersIdle: NonNullable<NapperHooks['othersIdle']>): Promise<void> {
    const others = await othersIdle(this.options.idleTimeoutMs);
    if (this.#closed) return;
    if (others.idle && this.#state === 'idle' && this.#active === 0) return void this.nap('idle');
    this.#lastActivityMs = Math.max(this.#lastActivityMs, others.lastActivityMs);
    this.#emit(); // those that answered idle serve again
    if (this.#state === 'idle') this.#armIdle(this.options.idleTimeoutMs - (Date.now() - this.#lastActivityMs));
  }

  #clearIdle(): void {
    if (this.#idleTimer !== null) clearTimeout(this.#idleTimer);
    this.#idleTimer = null;
  }

  #emit(): void {
    if (this.#listeners.size === 0) return;
    const p = this.progress();
    for (const l of this.#listeners) l(p);
  }

  #description(): string {
    return this.runtimes.map((r) => r.description).join(', ');
  }
}

// The state file's last activity, unless it is missing (0) or in the future
// (the clock was set back): then now.
function keptActivityMs(kept: number | undefined): number {
  const now = Date.now();
  return kept !== undefined && kept > 0 && kept <= now ? kept : now;
}
