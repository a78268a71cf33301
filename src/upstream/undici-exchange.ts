// One request through undici-client.ts: the controller our handler gets
// (abort, pause, resume) and undici's dispatch handler of it, in one object.
// It exists before undici has the request, so our handler can abort it while
// it still waits; undici's word on it after it is over is ignored.
import type { Dispatcher } from 'undici';
import {
  badResponse,
  BODY_ABORTED,
  POOL_CLOSED,
  ProxyError,
  REQUEST_LENGTH_MISMATCH,
  UPSTREAM_CLOSED,
  UPSTREAM_CONNECT_TIMEOUT,
  UPSTREAM_TIMEOUT,
} from './errors.ts';
import type { ResponseHeaders, UpstreamController, UpstreamHandler, UpstreamRequest } from './exchange.ts';

export interface ExchangeOwner {
  // undici has put it on a connection.
  exchangeStarted(ex: UndiciExchange): void;
  // Its final response head came.
  exchangeAnswered(ex: UndiciExchange): void;
  // It is over: ended, failed or aborted, whether undici had it or not.
  exchangeOver(ex: UndiciExchange): void;
}

export class UndiciExchange implements UpstreamController, Dispatcher.DispatchHandler {
  readonly request: UpstreamRequest;
  readonly headersTimeoutMs: number; // 0: no limit
  readonly #handler: UpstreamHandler;
  readonly #owner: ExchangeOwner;
  #controller: Dispatcher.DispatchController | null = null;
  #paused = false;
  #reason: Error | null = null; // why it ended early
  done = false;
  // The owner's bookkeeping (undici-client.ts).
  waitTimer: NodeJS.Timeout | null = null;
  ageTimer: NodeJS.Timeout | null = null;
  sent = false; // handed to undici
  started = false; // on a connection
  young = false;
  unanswered = false;

  constructor(request: UpstreamRequest, handler: UpstreamHandler, owner: ExchangeOwner, headersTimeoutMs: number) {
    this.request = request;
    this.#handler = handler;
    this.#owner = owner;
    this.headersTimeoutMs = headersTimeoutMs;
  }

  // Ends it with an error, once.
  fail(err: Error): void {
    if (this.done) return;
    this.#over(err);
    this.#handler.onResponseError(this, err);
  }

  // UpstreamController

  abort(reason: Error): void {
    if (this.done) return;
    this.#over(reason);
    this.#controller?.abort(reason); // closes the connection: it cannot be reused mid-exchange
    this.#handler.onResponseError(this, reason);
  }

  pause(): void {
    this.#paused = true;
    this.#controller?.pause();
  }

  resume(): void {
    this.#paused = false;
    this.#controller?.resume();
  }

  // undici's DispatchHandler

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.#controller = controller;
    this.#owner.exchangeStarted(this);
    // Failed or aborted while it waited: it must not go out now.
    if (this.done) controller.abort(this.#reason ?? new ProxyError(POOL_CLOSED, 'target is closed'));
    else if (this.#paused) controller.pause();
  }

  onResponseStart(_controller: Dispatcher.DispatchController, statusCode: number, headers: Record<string, string | string[] | undefined>): void {
    // An interim 1xx: the final response follows on the same request.
    if (this.done || statusCode < 200) return;
    this.#owner.exchangeAnswered(this);
    this.#handler.onResponseStart(this, statusCode, responseHeaders(headers));
  }

  onResponseData(_controller: Dispatcher.DispatchController, chunk: Buffer): void {
    // After a pause undici's parser may go on with an empty piece; a handler
    // that pauses for every piece (to spill it to disk) would pause on that
    // too, and resume, forever.
    if (!this.done && chunk.length > 0) this.#handler.onResponseData(this, chunk);
  }

  onResponseEnd(): void {
    if (this.done) return;
    this.#over(null);
    this.#handler.onResponseEnd(this);
  }

  onResponseError(_controller: Dispatcher.DispatchController | null, err: Error): void {
    if (this.done) return;
    const ours = upstreamError(err);
    this.#over(ours);
    this.#handler.onResponseError(this, ours);
  }

  #over(reason: Error | null): void {
    this.done = true;
    this.#reason = reason;
    this.#owner.exchangeOver(this);
  }
}

// undici's parsed headers: lower-case names, latin1 values, repeated ones as
// arrays; only the type allows a missing value.
function responseHeaders(headers: Record<string, string | string[] | undefined>): ResponseHeaders {
  const out: ResponseHeaders = {};
  for (const name in headers) {
    const value = headers[name];
    if (value !== undefined) out[name] = value;
  }
  return out;
}

// undici's errors under the codes our own client gives the same failures.
const OUR_CODE: Record<string, string> = {
  UND_ERR_HEADERS_TIMEOUT: UPSTREAM_TIMEOUT,
  UND_ERR_CONNECT_TIMEOUT: UPSTREAM_CONNECT_TIMEOUT,
  UND_ERR_SOCKET: UPSTREAM_CLOSED, // the app closed or reset the connection mid-exchange
  UND_ERR_REQ_CONTENT_LENGTH_MISMATCH: REQUEST_LENGTH_MISMATCH,
  UND_ERR_ABORTED: BODY_ABORTED, // the request body ended early (our own aborts keep their reason)
  ERR_STREAM_PREMATURE_CLOSE: BODY_ABORTED, // the same, as undici-client.ts reads a stream body
  UND_ERR_CLOSED: POOL_CLOSED,
  UND_ERR_DESTROYED: POOL_CLOSED,
};

// undici brands its errors with these for instanceof across copies of it;
// its parser errors often carry no code.
const PARSER_ERROR = Symbol.for('undici.error.UND_ERR_HTTP_PARSER');

export function upstreamError(err: Error): Error {
  const code = (err as { code?: unknown }).code;
  // The parser's HPE_* codes would read as a client's malformed body (400).
  if (Reflect.get(err, PARSER_ERROR) === true || code === 'UND_ERR_HEADERS_OVERFLOW' || code === 'UND_ERR_RES_CONTENT_LENGTH_MISMATCH') return badResponse(err);
  if (typeof code !== 'string') return err;
  const ours = OUR_CODE[code];
  return ours === undefined ? err : new ProxyError(ours, `${err.message} (${code})`);
}
