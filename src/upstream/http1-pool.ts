// Keep-alive HTTP/1.1 connections to one target, for proxied requests.
//
// Why our own and not undici's Pool (which health checks and WebSocket
// upgrades still use): side by side under `wrk -c50`, this client costs the
// proxy about a fifth less CPU per request, and allocates a quarter less,
// which shortens every scavenge (bench/README.md, "The upstream client").
// It does only what a reverse proxy needs: one exchange per connection at a
// time, up to `maxConnections` of them, requests queued beyond that, and idle
// connections closed after `keepAliveTimeoutMs`.
import { POOL_CLOSED, ProxyError } from '../target/errors.ts';
import { Exchange, type UpstreamHandler, type UpstreamRequest } from './exchange.ts';
import { type ConnectionOwner, Http1Connection } from './http1-connection.ts';

const poolClosed = () => new ProxyError(POOL_CLOSED, 'target is closed');

export interface Http1PoolOptions {
  maxConnections: number;
  keepAliveTimeoutMs: number;
  maxHeaderSize: number;
}

export class Http1Pool implements ConnectionOwner {
  readonly #host: string;
  readonly #port: number;
  readonly #options: Http1PoolOptions;
  readonly #idle: Http1Connection[] = []; // most recently used last
  readonly #queue: Exchange[] = [];
  #open = 0;
  #sweep: NodeJS.Timeout | null = null;
  #closed = false;

  constructor(host: string, port: number, options: Http1PoolOptions) {
    this.#host = host;
    this.#port = port;
    this.#options = options;
  }

  get openConnections(): number {
    return this.#open;
  }

  // headersTimeoutMs: how long to wait for the response head (0 or Infinity:
  // no limit). The handler hears of every outcome through its callbacks.
  dispatch(request: UpstreamRequest, handler: UpstreamHandler, headersTimeoutMs: number): void {
    const ex = new Exchange(request, handler, headersTimeoutMs);
    handler.onRequestStart(ex);
    if (ex.done) return; // aborted at once
    if (this.#closed) return ex.fail(poolClosed());
    this.#send(ex);
  }

  // Idle connections close now, busy ones once their exchange is over.
  close(): void {
    this.#closed = true;
    for (const conn of this.#idle.splice(0)) conn.destroy();
    for (const ex of this.#queue.splice(0)) ex.fail(poolClosed());
    this.#stopSweep();
  }

  // ConnectionOwner

  connectionFree(conn: Http1Connection): void {
    if (this.#closed) return conn.destroy();
    const next = this.#nextQueued();
    if (next !== null) return conn.send(next);
    conn.idleSinceMs = performance.now();
    this.#idle.push(conn);
    this.#sweep ??= setInterval(this.#closeExpired, this.#options.keepAliveTimeoutMs).unref();
  }

  connectionGone(conn: Http1Connection, resend: Exchange | null): void {
    this.#open--;
    const i = this.#idle.indexOf(conn);
    if (i !== -1) this.#idle.splice(i, 1);
    if (resend !== null) {
      // The app closed a kept-alive connection as we reused it; a fresh one
      // is not stale. Go's Transport does the same for these methods.
      resend.retried = true;
      if (this.#closed) resend.fail(poolClosed());
      else this.#send(resend, true);
      return;
    }
    // A queued request waits for a free slot, and this was one.
    const next = this.#nextQueued();
    if (next !== null) this.#send(next);
  }

  // Internals

  #send(ex: Exchange, fresh = false): void {
    const conn = fresh ? null : this.#takeIdle();
    if (conn !== null) return conn.send(ex);
    if (this.#open >= this.#options.maxConnections) {
      this.#queue.push(ex);
      return;
    }
    this.#open++;
    new Http1Connection(this, this.#host, this.#port, this.#options.maxHeaderSize).send(ex);
  }

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

  #nextQueued(): Exchange | null {
    for (;;) {
      const ex = this.#queue.shift();
      if (ex === undefined) return null;
      if (!ex.done) return ex; // one aborted while it waited is skipped
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
