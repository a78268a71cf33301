// One proxied request, as a handler of the upstream client (its callbacks are
// undici's dispatch-handler ones), with back-pressure both ways. The
// response goes through the service's response filters (http/response-sink.ts)
// to the client; without filters it streams straight through, SSE and other
// streams flushed as they arrive.
//
// With --buffer-requests the whole body is read first (memory, then a temp
// file), so a slow client never ties up an app worker; over
// --max-request-body it is 413.
import type { Readable } from 'node:stream';
import { advertiseXSendfile } from '../accel/x-sendfile-request.ts';
import { BODY_TOO_LARGE, bufferStream, type SpillBuffer } from '../buffer/spill-buffer.ts';
import type { RequestContext } from '../http/context.ts';
import { downstreamResponseHeaders, upstreamRequestHeaders } from '../http/headers.ts';
import type { RequestBody } from '../http/proxy-request.ts';
import { sendError } from '../http/respond.ts';
import { adjustResponseHeaders } from '../http/response-headers.ts';
import { log } from '../log/logger.ts';
import type { ResponseHeaders, UpstreamController, UpstreamHandler } from '../upstream/exchange.ts';
import { CLIENT_GONE, clientGone, DRAINED, ProxyError, statusForError } from '../upstream/errors.ts';
import { denseSlot } from '../util/dense-set.ts';
import { ClientWriter } from './client-writer.ts';
import type { Inflight, InflightTarget } from './inflight.ts';
import type { ResponseSink, SinkOwner } from '../http/response-sink.ts';

type Controller = UpstreamController;

export class ProxyHandler implements UpstreamHandler, Inflight, SinkOwner {
  readonly upgraded = false;
  [denseSlot]?: number; // its place in the target's in-flight set
  readonly ctx: RequestContext;
  readonly #target: InflightTarget;
  #controller: Controller | null = null;
  #cancelled: Error | null = null;
  #done = false; // the upstream exchange is over
  #failed = false;
  #resume: (() => void) | null = null;
  #requestBuffer: SpillBuffer | null = null;
  #sink: ResponseSink | null = null;

  constructor(target: InflightTarget, ctx: RequestContext) {
    this.#target = target;
    this.ctx = ctx;
  }

  start(): void {
    const ctx = this.ctx;
    ctx.target = this.#target.address;
    ctx.upstream = this;
    this.#target.track(this);
    const body = ctx.body;
    const o = this.#target.options;
    if (body === null || !o.bufferRequests) return this.#dispatch(body, -1);
    if (!Buffer.isBuffer(body)) return void this.#bufferThenDispatch(body);
    // A small body that came whole with its head is in memory already, as a
    // buffered one would be, with its length in the client's Content-Length.
    if (o.maxRequestBodyBytes > 0 && body.length > o.maxRequestBodyBytes) return this.fail(new ProxyError(BODY_TOO_LARGE, 'request body too large'));
    this.#dispatch(body, -1);
  }

  async #bufferThenDispatch(body: Readable): Promise<void> {
    const o = this.#target.options;
    try {
      this.#requestBuffer = await bufferStream(body, { maxMemoryBytes: o.maxMemoryBufferBytes, maxBytes: o.maxRequestBodyBytes });
    } catch (err) {
      // The rest of the body was never read: the connection cannot be reused.
      this.ctx.res!.shouldKeepAlive = false;
      return this.fail(err as Error);
    }
    if (this.#cancelled !== null) return this.fail(this.#cancelled);
    this.#dispatch(this.#requestBuffer.reader(), this.#requestBuffer.size);
  }

  // contentLength >= 0 replaces the client's framing (a buffered body's size is known).
  #dispatch(body: RequestBody, contentLength: number): void {
    const ctx = this.ctx;
    const target = this.#target;
    const headers = upstreamRequestHeaders(ctx.req.rawHeaders, {
      forwardHeaders: target.options.forwardHeaders,
      forwardedFor: ctx.forwardedFor,
      clientIp: ctx.clientAddr,
      scheme: ctx.scheme,
      requestId: ctx.requestId,
      requestStart: ctx.requestStart,
      target: target.address,
    });
    if (contentLength >= 0) setContentLength(headers, contentLength);
    if (target.options.xSendfileRoots.length > 0) advertiseXSendfile(headers);
    // The raw query, byte for byte. kamal-proxy limits only the wait for the
    // response head; a body may stream for as long as it likes (SSE, downloads).
    const request = { path: ctx.upstreamPath + ctx.search, method: ctx.req.method!, headers, body };
    try {
      target.pool.dispatch(request, this, target.options.responseTimeoutMs);
    } catch (err) {
      this.fail(err as Error);
    }
  }

  cancel(reason: Error): void {
    if (this.#done) return;
    if (this.#controller !== null) this.#controller.abort(reason);
    else this.#cancelled = reason;
  }

  // Ends the exchange with an error: the upstream's, a filter's, or ours.
  fail(err: Error): void {
    if (!this.#done && this.#controller !== null) this.#controller.abort(err);
    else this.onResponseError(null, err);
  }

  onRequestStart(controller: Controller): void {
    this.#controller = controller;
    if (this.#cancelled !== null) controller.abort(this.#cancelled);
  }

  onResponseStart(controller: Controller, status: number, headers: ResponseHeaders): void {
    const ctx = this.ctx;
    if (ctx.res!.destroyed) return controller.abort(clientGone());
    const ct = headers['content-type'];
    const cl = headers['content-length'];
    ctx.respContentType = ct === undefined ? '' : String(ct);
    ctx.respHeaders = headers;
    let out = downstreamResponseHeaders(headers);
    if (ctx.adjustResponse) out = adjustResponseHeaders(ctx, out);
    const writer = new ClientWriter(ctx, ctx.res!);
    const filters = this.#target.responseFilters;
    this.#sink = filters === null ? writer : filters(writer, this);
    this.#sink.head({ status, headers: out, contentLength: cl === undefined ? -1 : Number(cl), contentType: ctx.respContentType });
  }

  onResponseData(controller: Controller, chunk: Buffer): void {
    if (this.#sink!.body(chunk)) return;
    controller.pause();
    this.#resume ??= () => controller.resume();
    this.#sink!.onDrain(this.#resume);
  }

  onResponseEnd(): void {
    this.#finish();
    this.#sink!.end();
  }

  onResponseError(_controller: Controller | null, err: Error): void {
    this.#finish();
    if (this.#failed) return;
    this.#failed = true;
    this.#sink?.discard();
    const ctx = this.ctx;
    const res = ctx.res!;
    const code = (err as { code?: string }).code;
    if (code === CLIENT_GONE || ctx.status === 499) {
      ctx.status = 499;
      return;
    }
    if (res.headersSent) {
      // Mid-response the only honest signal left is to cut the connection; a
      // response already complete (the parser's 400) is left alone.
      if (!res.writableEnded) res.destroy();
      return;
    }
    const status = statusForError(err);
    if (code === DRAINED) log.info('Request cancelled due to draining', { target: this.#target.address, path: ctx.path });
    else if (status >= 500) log.info('Error while proxying', { target: this.#target.address, path: ctx.path, error: err.message });
    sendError(ctx, status);
  }

  #finish(): void {
    if (this.#done) return;
    this.#done = true;
    this.ctx.upstream = null;
    this.#target.untrack(this);
    if (this.#requestBuffer !== null) void this.#requestBuffer.dispose();
  }
}

function setContentLength(headers: string[], length: number): void {
  for (let i = 0; i < headers.length; i += 2) {
    if (headers[i]!.toLowerCase() === 'content-length') {
      headers.splice(i, 2);
      i -= 2;
    }
  }
  headers.push('Content-Length', String(length));
}
