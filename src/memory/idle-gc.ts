// Gives memory back once a burst of traffic is over.
//
// Under load V8's old generation grows with garbage between collections, and
// the pages it frees go to a pool for reuse, resident, instead of back to the
// system. V8's memory reducer would empty that pool once the process idles,
// but in Node it never decides the process is idle: it judges by an
// allocation rate sampled at collections, and an idle proxy collects nothing,
// so the last busy sample stands. Measured after 30 s of wrk: RSS stayed at
// 175 MiB for as long as we watched while V8's own heap was 21 MiB, 40 MiB of
// it pooled pages (bench/README.md, "Memory").
//
// So we ask for the collection ourselves: once when the start-up is over
// (restoring state and compiling leave garbage too), and after that when the
// traffic has dropped to under a tenth of its busiest interval since the last
// collection, with at least IDLE_GC_MIN_REQUESTS served in between. A steady
// load never triggers it, nor does a trickle. The collection is V8's
// "last resort" one (30–50 ms here with a 10 MiB heap): it is the one that
// empties the pool, and it runs only when few requests are about to wait. It
// has a price later: the next burst starts about a tenth slower while the
// heap grows back and code is optimized again, hence the long interval in
// defaults.ts.
import { IDLE_GC_CHECK_INTERVAL_MS, IDLE_GC_MIN_REQUESTS, IDLE_GC_QUIET_FRACTION } from '../config/defaults.ts';
import { v8Gc } from './v8-gc.ts';

// The decision alone, fed one interval at a time (tests drive it directly).
export class IdleGcPolicy {
  #startup = true;
  #sinceCollection = 0; // requests since the last collection
  #peak = 0; // the busiest interval since the last collection

  // `requests`: served during the interval that just ended. True: collect now.
  interval(requests: number): boolean {
    this.#sinceCollection += requests;
    const quiet = requests < this.#peak * IDLE_GC_QUIET_FRACTION;
    this.#peak = Math.max(this.#peak, requests);
    if (!this.#startup && !(quiet && this.#sinceCollection >= IDLE_GC_MIN_REQUESTS)) return false;
    this.#startup = false;
    this.#sinceCollection = 0;
    this.#peak = 0;
    return true;
  }
}

export interface IdleGcOptions {
  requests: () => number; // requests served so far, a running count
  intervalMs?: number; // default IDLE_GC_CHECK_INTERVAL_MS
  collect?: () => void; // default V8's last-resort collection
}

export class IdleGc {
  readonly #policy = new IdleGcPolicy();
  readonly #requests: () => number;
  readonly #collect: () => void;
  readonly #timer: NodeJS.Timeout;
  #seen: number;

  constructor(options: IdleGcOptions) {
    this.#requests = options.requests;
    this.#collect = options.collect ?? (() => v8Gc()({ type: 'major', flavor: 'last-resort' }));
    this.#seen = this.#requests();
    // Never what keeps the process alive.
    this.#timer = setInterval(() => this.check(), options.intervalMs ?? IDLE_GC_CHECK_INTERVAL_MS).unref();
  }

  stop(): void {
    clearInterval(this.#timer);
  }

  // Run by the timer; public so a test can step through intervals itself.
  check(): void {
    const now = this.#requests();
    const served = now - this.#seen;
    this.#seen = now;
    if (this.#policy.interval(served)) this.#collect();
  }
}
