// One request and its response on the upstream side, and the controller its
// handler gets: abort, pause, resume. The handler interface is the part of
// undici's DispatchHandler the proxy uses, so a handler is written the same
// way for either client.
import type { Readable } from 'node:stream';

export type ResponseHeaders = Record<string, string | string[]>;

export interface UpstreamController {
  abort(reason: Error): void;
  pause(): void;
  resume(): void;
}

export interface UpstreamHandler {
  onRequestStart(controller: UpstreamController): void;
  // Final responses only: 1xx interim responses are consumed by the client.
  onResponseStart(controller: UpstreamController, status: number, headers: ResponseHeaders): void;
  onResponseData(controller: UpstreamController, chunk: Buffer): void;
  onResponseEnd(controller: UpstreamController): void;
  // Called once, for a failure or after abort(); never after onResponseEnd.
  onResponseError(controller: UpstreamController | null, err: Error): void;
}

export interface UpstreamRequest {
  path: string; // with the query
  method: string;
  headers: string[]; // flat [name, value, ...], sent as given
  // A Buffer is a whole body, as long as the request's Content-Length says.
  body: Readable | Buffer | null;
}

// The seam between an exchange and what holds it: the connection carrying
// it, or the pool while it waits for one.
export interface Carrier {
  abortExchange(ex: Exchange): void;
  pause(): void;
  resume(): void;
}

// Go's Transport (which kamal-proxy runs on) resends these when a reused
// keep-alive connection turns out to be closed before any response byte.
const RETRIABLE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS', 'TRACE']);

export class Exchange implements UpstreamController {
  readonly request: UpstreamRequest;
  readonly handler: UpstreamHandler;
  readonly headersTimeoutMs: number; // the wait for the response head; 0 or Infinity: none
  carrier: Carrier | null = null;
  waitDeadlineMs = 0; // while it waits for a connection: performance.now() it may wait until
  responseStarted = false;
  done = false;
  retried = false;

  constructor(request: UpstreamRequest, handler: UpstreamHandler, headersTimeoutMs: number) {
    this.request = request;
    this.handler = handler;
    this.headersTimeoutMs = headersTimeoutMs;
  }

  // May go again on another connection if its own failed before any answer.
  get retriable(): boolean {
    return !this.retried && !this.responseStarted && this.request.body === null && RETRIABLE_METHODS.has(this.request.method);
  }

  // Ends the exchange with an error, once.
  fail(err: Error): void {
    if (this.done) return;
    this.done = true;
    this.carrier = null;
    this.handler.onResponseError(this, err);
  }

  // The carrier drops the connection first: it cannot be reused mid-exchange.
  abort(reason: Error): void {
    if (this.done) return;
    this.carrier?.abortExchange(this);
    this.fail(reason);
  }

  pause(): void {
    this.carrier?.pause();
  }

  resume(): void {
    this.carrier?.resume();
  }
}
