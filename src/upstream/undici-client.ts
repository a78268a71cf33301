// Proxied requests over undici's Pool: the client for when Node's internals
// are not usable, or KAMAL_NAPPER_UPSTREAM_CLIENT=undici (client-choice.ts).
// The same contract as Http1Pool (upstream-client.ts): the handler hears of
// the request at once and can abort it while it still waits; 1xx responses
// are consumed; the headers timeout is the wait for the response head only
// (undici checks it about once a second); undici's errors come with our
// codes where ours has one, so statusForError answers the same.
//
// The same limits as Http1Pool's, on requests rather than connections
// (undici's Pool itself is uncapped, as Go's Transport, kamal-proxy's, is):
// - at most `maxBusy` requests younger than `patienceMs` at a time. Older
//   ones (SSE streams, long polls, slow uploads) no longer count, so they
//   never starve short ones;
// - at most a window of unanswered ones (connect-window.ts): it grows as the
//   app answers, and starts small again for an app with no connection open
//   (just woken: a small listen backlog drops what goes beyond it).
// More requests wait here, for at most their timeout (then 504). Where it
// does less than Http1Pool: no retry of a refused connect, and no resend of
// an idempotent request on a kept-alive connection the app closed as we
// reused it.
import { Readable } from 'node:stream';
import { type Pool, undici } from '../http/undici.ts';
import { acceptBareLf } from '../http/undici-bare-lf.ts';
import { UPSTREAM_CONNECT_TIMEOUT_MS } from '../config/defaults.ts';
import { ConnectWindow } from './connect-window.ts';
import { POOL_CLOSED, ProxyError, UPSTREAM_CONNECT_WAIT } from './errors.ts';
import type { UpstreamHandler, UpstreamRequest } from './exchange.ts';
import { type ExchangeOwner, UndiciExchange } from './undici-exchange.ts';
import type { UpstreamClient } from './upstream-client.ts';

export interface UndiciClientOptions {
  maxBusy: number;
  rampInitial: number; // the window's start (connect-window.ts)
  rampThreshold: number; // and where its slow start ends
  patienceMs: number;
  keepAliveTimeoutMs: number;
  connectTimeoutMs: number;
  maxHeaderSize: number;
}

const poolClosed = () => new ProxyError(POOL_CLOSED, 'target is closed');

// setTimeout cannot wait longer; beyond it Node fires after 1 ms instead.
const MAX_TIMER_MS = 2 ** 31 - 1;

export class UndiciClient implements UpstreamClient, ExchangeOwner {
  readonly #pool: Pool;
  readonly #options: UndiciClientOptions;
  readonly #window: ConnectWindow;
  readonly #unstarted = new Set<UndiciExchange>(); // not on a connection yet: close() fails them
  readonly #queue: UndiciExchange[] = []; // not handed to undici yet, oldest first
  #sent = 0; // handed to undici, not over
  #young = 0; // of those, younger than patienceMs
  #unanswered = 0; // of those, no response head yet
  #stalledAtMs = -Infinity;
  #closed = false;

  constructor(host: string, port: number, options: UndiciClientOptions) {
    this.#options = options;
    this.#window = new ConnectWindow(options.rampInitial, options.rampThreshold, options.maxBusy);
    this.#pool = acceptBareLf(
      new (undici().Pool)(`http://${host}:${port}`, {
        connections: null,
        // Ours closes idle connections after this, whatever the app's
        // Keep-Alive header says; undici's default keeps them up to 10 minutes.
        keepAliveTimeout: options.keepAliveTimeoutMs,
        keepAliveMaxTimeout: options.keepAliveTimeoutMs,
        connectTimeout: options.connectTimeoutMs,
        maxHeaderSize: options.maxHeaderSize,
        // Each request has its own headers timeout; kamal-proxy limits only
        // the wait for the response head, never a body (SSE, downloads).
        headersTimeout: 0,
        bodyTimeout: 0,
      }),
    );
  }

  get openConnections(): number {
    return this.#pool.stats.connected;
  }

  dispatch(request: UpstreamRequest, handler: UpstreamHandler, headersTimeoutMs: number): void {
    const timeoutMs = headersTimeoutMs > 0 && headersTimeoutMs <= MAX_TIMER_MS ? headersTimeoutMs : 0;
    const ex = new UndiciExchange(request, handler, this, timeoutMs);
    handler.onRequestStart(ex);
    if (ex.done) return; // aborted at once
    if (this.#closed) return ex.fail(poolClosed());
    // As Http1Pool: its target timeout, or the connect timeout when it has none.
    const waitMs = timeoutMs > 0 ? timeoutMs : UPSTREAM_CONNECT_TIMEOUT_MS;
    this.#unstarted.add(ex);
    ex.waitTimer = setTimeout(() => ex.fail(new ProxyError(UPSTREAM_CONNECT_WAIT, `no connection to upstream within ${waitMs} ms`)), waitMs).unref();
    this.#queue.push(ex);
    this.#sendMore();
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const ex of [...this.#unstarted]) ex.fail(poolClosed());
    this.#queue.length = 0;
    // Idle connections close now, busy ones after their response; a request
    // undici was still connecting for was failed above and is aborted as it starts.
    this.#pool.close().catch(() => {});
  }

  // ExchangeOwner

  exchangeStarted(ex: UndiciExchange): void {
    if (ex.waitTimer !== null) clearTimeout(ex.waitTimer);
    ex.waitTimer = null;
    ex.started = true;
    this.#unstarted.delete(ex);
  }

  exchangeAnswered(ex: UndiciExchange): void {
    if (!ex.unanswered) return;
    ex.unanswered = false;
    this.#unanswered--;
    this.#window.answered();
    this.#sendMore();
  }

  exchangeOver(ex: UndiciExchange): void {
    this.exchangeStarted(ex);
    if (ex.ageTimer !== null) clearTimeout(ex.ageTimer);
    ex.ageTimer = null;
    if (!ex.sent) return; // failed or aborted while it waited here
    ex.sent = false;
    this.#sent--;
    if (ex.unanswered) {
      ex.unanswered = false;
      this.#unanswered--;
    }
    if (ex.young) {
      ex.young = false;
      this.#young--;
    }
    this.#sendMore();
  }

  // Internals

  #sendMore(): void {
    const o = this.#options;
    while (this.#queue.length > 0 && this.#young < o.maxBusy && this.#unanswered < this.#window.size) {
      const ex = this.#queue.shift()!;
      if (!ex.done) this.#send(ex); // else aborted or failed while it waited
    }
  }

  #send(ex: UndiciExchange): void {
    // Nothing open to the app: what it could take before says nothing now.
    if (this.#sent === 0 && this.#pool.stats.connected === 0) this.#window.restart();
    this.#sent++;
    this.#young++;
    this.#unanswered++;
    ex.sent = ex.young = ex.unanswered = true;
    ex.ageTimer = setTimeout(() => this.#aged(ex), this.#options.patienceMs).unref();
    const { path, method, headers, body } = ex.request;
    const sent = body === null || Buffer.isBuffer(body) ? body : Readable.from(chunksOf(body), { objectMode: false });
    this.#pool.dispatch({ path, method, headers, body: sent, headersTimeout: ex.headersTimeoutMs, bodyTimeout: 0 }, ex);
  }

  // Has run for patienceMs: it no longer holds others back. Unanswered, it
  // is taken as answered (a long poll: the app has it); still not on a
  // connection, its connect stalled (the app's accept queue is full), and
  // the window halves, once per patienceMs.
  #aged(ex: UndiciExchange): void {
    ex.ageTimer = null;
    ex.young = false;
    this.#young--;
    if (ex.unanswered) {
      ex.unanswered = false;
      this.#unanswered--;
      const now = performance.now();
      if (!ex.started && now - this.#stalledAtMs >= this.#options.patienceMs) {
        this.#stalledAtMs = now;
        this.#window.stalled();
      }
    }
    this.#sendMore();
  }
}

// A stream body's chunks, pulled as the connection takes them, for undici
// in a stream of their own. Given the stream itself, undici destroys it once
// sent, and takes its socket from a node:http request to do so
// (`req.socket = null`); the client's request (HTTP/1.1 or HTTP/2) must
// outlive that, since its response goes out on it. An early end leaves the
// stream as it is.
async function* chunksOf(body: Readable): AsyncGenerator<Buffer, void, undefined> {
  const chunks = body.iterator({ destroyOnReturn: false });
  try {
    for (let r = await chunks.next(); r.done !== true; r = await chunks.next()) yield r.value;
  } finally {
    await chunks.return?.();
  }
}
