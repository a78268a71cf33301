// Keep-alive HTTP/1.1 connections to one target, for proxied requests.
//
// Why our own and not undici's Pool (health checks run on this one too): side by
// side under `wrk -c50`, this client costs the proxy about a fifth less CPU
// per request, and allocates a quarter less, which shortens every scavenge
// (bench/README.md, "The upstream client").
//
// It does only what a reverse proxy needs: one exchange per connection at a
// time, an idle connection reused when there is one, else a new one, with
// two limits on opening new ones. Both let go of what takes long, so that
// long requests (SSE streams, long polls, slow uploads) never starve short
// ones, as a fixed cap did; Go's Transport (kamal-proxy) has no cap at all.
// - At most `maxBusy` connections carry requests that started less than
//   `patienceMs` ago; more requests wait for one of them to be free. Under a
//   load of short requests a few connections carry many (HTTP/2 clients put
//   hundreds in flight at once), and the app is not flooded with
//   connections. A request that has run for `patienceMs` no longer counts.
// - New connections ramp up: at most a window of unproven ones (connecting,
//   or not answered on yet) at a time (connect-window.ts: an app with a
//   small listen backlog drops what goes beyond its accept queue). One
//   connected for `patienceMs` without an answer is taken as answered (a
//   long poll, a slow upload: the app has it), and makes room for one more
//   while it is open.
// A request waits for whichever comes first, a connection freed by another
// exchange or a new one, for at most its target timeout (then 504), or the
// connect timeout when it has none. Only idle connections are capped
// (`maxIdle`), and they close after `keepAliveTimeoutMs`.
//
// A connect that is refused or goes unanswered has sent nothing, so it is
// tried again: unanswered ones while anything waits, refused ones while the
// target has been refusing for less than `refusedRetryMs` (after that they
// fail at once, as a dead target should: 502).
import { UPSTREAM_CONNECT_TIMEOUT_MS } from '../config/defaults.ts';
import { POOL_CLOSED, ProxyError, UPSTREAM_CONNECT_TIMEOUT, UPSTREAM_CONNECT_WAIT } from './errors.ts';
import { ConnectWindow } from './connect-window.ts';
import { type Carrier, Exchange, type UpstreamHandler, type UpstreamRequest } from './exchange.ts';
import { type ConnectionOwner, Http1Connection } from './http1-connection.ts';
import type { UpstreamClient } from './upstream-client.ts';

const poolClosed = () => new ProxyError(POOL_CLOSED, 'target is closed');

// setTimeout cannot wait longer; beyond it Node fires after 1 ms instead.
const MAX_TIMER_MS = 2 ** 31 - 1;

export interface Http1PoolOptions {
  maxBusy: number;
  rampInitial: number; // the connect window's start (connect-window.ts)
  rampThreshold: number; // and where its slow start ends, until a connect stalls
  patienceMs: number;
  maxIdle: number;
  keepAliveTimeoutMs: number;
  maxHeaderSize: number;
  refusedRetryMs: number; // how long a refusing target's connects are retried
  retryBackoffMs: number; // the first wait before connecting again after a refusal; doubles
}

export class Http1Pool implements UpstreamClient, ConnectionOwner, Carrier {
  readonly #host: string;
  readonly #port: number;
  readonly #options: Http1PoolOptions;
  readonly #open: Http1Connection[] = []; // connecting ones too
  readonly #idle: Http1Connection[] = []; // most recently used last
  // Waiting for a connection, oldest first. An exchange aborted while it
  // waits stays here until it is reached, and is skipped.
  readonly #queue: Exchange[] = [];
  #waiting = 0; // exchanges in #queue still waiting
  #connecting = 0;
  #unproven = 0; // open ones not (taken as) answered on, connecting ones too
  #aged = 0; // open ones taken as answered after patienceMs, not answered yet
  readonly #window: ConnectWindow; // how many may be unproven at once
  #emptySinceMs = -Infinity; // when the last connection closed
  #long = 0; // busy ones whose request has run for patienceMs
  #refusedSinceMs = -1; // connects refused since then, none succeeded; -1: not refusing
  #refusals = 0;
  #retryTimer: NodeJS.Timeout | null = null; // the backoff before connecting again after a refusal
  #patienceTimer: NodeJS.Timeout | null = null; // marks what takes long while requests wait
  #waitTimer: NodeJS.Timeout | null = null; // at the next wait deadline in #queue
  #waitTimerAtMs = Infinity;
  #sweep: NodeJS.Timeout | null = null;
  #closed = false;

  constructor(host: string, port: number, options: Http1PoolOptions) {
    this.#host = host;
    this.#port = port;
    this.#options = options;
    this.#window = new ConnectWindow(options.rampInitial, options.rampThreshold, options.maxBusy);
  }

  get openConnections(): number {
    return this.#open.length;
  }

  // headersTimeoutMs: how long to wait for the response head once the
  // request is sent, and for a connection before that (0 or Infinity: no
  // limit to the first, the connect timeout to the second). The handler
  // hears of every outcome through its callbacks.
  dispatch(request: UpstreamRequest, handler: UpstreamHandler, headersTimeoutMs: number): void {
    const ex = new Exchange(request, handler, headersTimeoutMs);
    handler.onRequestStart(ex);
    if (ex.done) return; // aborted at once
    if (this.#closed) return ex.fail(poolClosed());
    const conn = this.#takeIdle();
    if (conn !== null) return conn.send(ex);
    this.#wait(ex, false);
  }

  // Idle connections close now, busy ones once their exchange is over.
  close(): void {
    this.#closed = true;
    for (const conn of this.#idle.splice(0)) conn.destroy();
    this.#failWaiting(poolClosed);
    for (const timer of [this.#retryTimer, this.#patienceTimer, this.#waitTimer]) if (timer !== null) clearTimeout(timer);
    this.#retryTimer = this.#patienceTimer = this.#waitTimer = null;
    this.#stopSweep();
  }

  // Carrier, for an exchange waiting for a connection

  abortExchange(ex: Exchange): void {
    if (ex.carrier !== this) return;
    ex.carrier = null;
    this.#waiting--;
  }

  pause(): void {}

  resume(): void {}

  // ConnectionOwner

  connectionReady(conn: Http1Connection): void {
    this.#connecting--;
    this.#refusedSinceMs = -1;
    this.#refusals = 0;
    this.connectionFree(conn);
    this.#connectMore(); // it is no longer connecting: room, or a patience check to set
  }

  connectionProven(conn: Http1Connection): void {
    if (conn.aged) {
      conn.aged = false;
      this.#aged--;
      return;
    }
    conn.proven = true;
    this.#unproven--;
    this.#window.answered();
    this.#connectMore();
  }

  connectionFree(conn: Http1Connection): void {
    if (conn.long) {
      conn.long = false;
      this.#long--;
    }
    if (this.#closed) return conn.destroy();
    const next = this.#nextWaiting();
    if (next !== null) return conn.send(next);
    // Beyond the idle cap it closes (and connectionGone counts it out).
    if (this.#idle.length >= this.#options.maxIdle) return conn.destroy();
    conn.idleSinceMs = performance.now();
    this.#idle.push(conn);
    this.#sweep ??= setInterval(this.#closeExpired, this.#options.keepAliveTimeoutMs).unref();
  }

  connectionGone(conn: Http1Connection, resend: Exchange | null): void {
    const at = this.#open.indexOf(conn);
    if (at !== -1) this.#open.splice(at, 1);
    if (this.#open.length === 0) this.#emptySinceMs = performance.now();
    if (!conn.proven) this.#unproven--;
    if (conn.aged) this.#aged--;
    if (conn.long) this.#long--;
    if (!conn.connected) {
      this.#connecting--;
      this.#connectFailed(conn.connectError);
      return;
    }
    const i = this.#idle.indexOf(conn);
    if (i !== -1) this.#idle.splice(i, 1);
    if (resend !== null) {
      // The app closed a kept-alive connection as we reused it; the next
      // connection it gets is fresh, or one that has just answered. Go's
      // Transport does the same for these methods.
      resend.retried = true;
      if (this.#closed) resend.fail(poolClosed());
      else this.#wait(resend, true);
    } else if (i === -1) this.#connectMore(); // a busy one: room for another
  }

  // Internals

  #wait(ex: Exchange, first: boolean): void {
    ex.carrier = this;
    const now = performance.now();
    ex.waitDeadlineMs = now + waitMs(ex);
    if (first) this.#queue.unshift(ex);
    else this.#queue.push(ex);
    this.#waiting++;
    if (ex.waitDeadlineMs < this.#waitTimerAtMs) this.#armWaitTimer(now, ex.waitDeadlineMs);
    this.#connectMore();
  }

  // One connect for each waiting exchange that no connect under way will
  // serve, as far as both limits allow; none while backing off from a
  // refusal. When they hold requests back, a patience check is set.
  #connectMore(): void {
    if (this.#closed || this.#retryTimer !== null) return;
    let wanted = this.#waiting - this.#connecting;
    if (wanted <= 0) return;
    const o = this.#options;
    const open = this.#open.length;
    if (open === 0 && performance.now() - this.#emptySinceMs >= o.patienceMs) this.#window.restart();
    const busy = open - this.#idle.length - this.#connecting;
    const ramp = this.#window.size + this.#aged - this.#unproven;
    const cap = o.maxBusy - (busy - this.#long) - this.#connecting;
    for (let allowed = Math.min(ramp, cap); wanted > 0 && allowed > 0; wanted--, allowed--) {
      this.#connecting++;
      this.#unproven++;
      this.#open.push(new Http1Connection(this, this.#host, this.#port, o.maxHeaderSize));
    }
    if (wanted > 0 && this.#patienceTimer === null) this.#startPatience();
  }

  // Marks what each open connection is at now; patienceMs later, those still
  // the same (on the same exchange, or never answered on) stop counting
  // against the limits, and one still connecting halves the window.
  #startPatience(): void {
    for (const conn of this.#open) {
      conn.markedBusy = conn.busy;
      conn.mark = conn.busy || !conn.proven ? conn.served : -1;
    }
    this.#patienceTimer = setTimeout(this.#onPatience, this.#options.patienceMs).unref();
  }

  readonly #onPatience = (): void => {
    this.#patienceTimer = null;
    let stalled = false;
    for (const conn of this.#open) {
      if (conn.mark === -1 || conn.mark !== conn.served) continue;
      conn.mark = -1;
      if (!conn.connected) stalled = true;
      else if (!conn.proven) {
        conn.proven = conn.aged = true;
        this.#unproven--;
        this.#aged++;
      }
      if (conn.markedBusy && conn.busy && !conn.long) {
        conn.long = true;
        this.#long++;
      }
    }
    if (stalled) this.#window.stalled();
    this.#connectMore();
  };

  #connectFailed(err: Error | null): void {
    if (this.#closed || this.#waiting === 0) return;
    const code = (err as { code?: unknown } | null)?.code;
    // Unanswered: the app's accept queue may be full (or the host slow to
    // come up). Try again; each exchange's wait deadline bounds it.
    if (code === UPSTREAM_CONNECT_TIMEOUT || err === null) return this.#connectMore();
    // Refused (or no route, no such host, no file descriptor left): tried
    // again with backoff for a while, then the waiting exchanges get the error.
    const now = performance.now();
    if (this.#refusedSinceMs < 0) this.#refusedSinceMs = now;
    const left = this.#refusedSinceMs + this.#options.refusedRetryMs - now;
    if (left <= 0) return this.#failWaiting(() => err);
    if (this.#retryTimer !== null) return; // another connect's refusal set it
    const backoff = Math.min(left, this.#options.retryBackoffMs * 2 ** this.#refusals++);
    this.#retryTimer = setTimeout(this.#retry, backoff).unref();
  }

  readonly #retry = (): void => {
    this.#retryTimer = null;
    this.#connectMore();
  };

  #nextWaiting(): Exchange | null {
    for (;;) {
      const ex = this.#queue.shift();
      if (ex === undefined) return null;
      if (ex.carrier !== this) continue; // aborted while it waited
      ex.carrier = null;
      this.#waiting--;
      return ex;
    }
  }

  #failWaiting(error: () => Error): void {
    for (let ex = this.#nextWaiting(); ex !== null; ex = this.#nextWaiting()) ex.fail(error());
  }

  #armWaitTimer(now: number, atMs: number): void {
    if (this.#waitTimer !== null) clearTimeout(this.#waitTimer);
    this.#waitTimerAtMs = atMs;
    this.#waitTimer = setTimeout(this.#onWaitTimer, Math.max(1, Math.ceil(atMs - now))).unref();
  }

  // Fails every exchange past its wait deadline, and waits for the next.
  readonly #onWaitTimer = (): void => {
    this.#waitTimer = null;
    this.#waitTimerAtMs = Infinity;
    const now = performance.now();
    let next = Infinity;
    let kept = 0;
    const queue = this.#queue;
    for (let i = 0; i < queue.length; i++) {
      const ex = queue[i]!;
      if (ex.carrier !== this) continue;
      if (ex.waitDeadlineMs <= now) {
        ex.carrier = null;
        this.#waiting--;
        ex.fail(new ProxyError(UPSTREAM_CONNECT_WAIT, `no connection to upstream within ${waitMs(ex)} ms`));
        continue;
      }
      queue[kept++] = ex;
      if (ex.waitDeadlineMs < next) next = ex.waitDeadlineMs;
    }
    queue.length = kept;
    if (next !== Infinity) this.#armWaitTimer(now, next);
  };

  // The most recently used idle connection that has not outlived the
  // keep-alive timeout (the app may be about to close an older one).
  #takeIdle(): Http1Connection | null {
    const oldest = performance.now() - this.#options.keepAliveTimeoutMs;
    for (;;) {
      const conn = this.#idle.pop();
      if (conn === undefined) return null;
      if (conn.idleSinceMs > oldest && conn.usable) return conn;
      conn.destroy();
    }
  }

  readonly #closeExpired = (): void => {
    const oldest = performance.now() - this.#options.keepAliveTimeoutMs;
    // Oldest first: stop at the first one still fresh.
    while (this.#idle.length > 0 && this.#idle[0]!.idleSinceMs <= oldest) this.#idle.shift()!.destroy();
    if (this.#idle.length === 0) this.#stopSweep();
  };

  #stopSweep(): void {
    if (this.#sweep !== null) clearInterval(this.#sweep);
    this.#sweep = null;
  }
}

// How long an exchange may wait for a connection: its target timeout, or the
// connect timeout when it has none.
function waitMs(ex: Exchange): number {
  const ms = ex.headersTimeoutMs;
  return ms > 0 && ms <= MAX_TIMER_MS ? ms : UPSTREAM_CONNECT_TIMEOUT_MS;
}
