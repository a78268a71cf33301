// One proxied request, as a handler of our upstream client (its callbacks are
// undici's dispatch-handler ones), with back-pressure both ways. Without
// buffering, the client's request stream is the upstream body and the
// response is written into Node's ServerResponse chunk by chunk (SSE and other
// streams are flushed as they arrive).
//
// With --buffer-requests the whole body is read first (memory, then a temp
// file), so a slow client never ties up an app worker; over
// --max-request-body it is 413. With --buffer-responses a response with a
// known length is collected before the client sees it (over
// --max-response-body: 500). Event streams and chunked (unknown-length)
// responses always stream, as in kamal-proxy.
import type { Readable } from 'node:stream';
import { BODY_TOO_LARGE, bufferStream, SpillBuffer } from '../buffer/spill-buffer.ts';
import type { RequestContext } from '../http/context.ts';
import { downstreamResponseHeaders, upstreamRequestHeaders } from '../http/headers.ts';
import { sendError } from '../http/respond.ts';
import { adjustResponseHeaders } from '../http/response-headers.ts';
import { log } from '../log/logger.ts';
import type { ResponseHeaders, UpstreamController, UpstreamHandler } from '../upstream/exchange.ts';
import { CLIENT_GONE, DRAINED, statusForError } from '../upstream/errors.ts';
import type { Inflight, InflightTarget } from './inflight.ts';
import { denseSlot } from '../util/dense-set.ts';

type Controller = UpstreamController;
type H2CompatRequest = { stream?: { endAfterHeaders: boolean } };
type FastRequest = { body?: Buffer | null };

export class ProxyHandler implements UpstreamHandler, Inflight {
  readonly upgraded = false;
  [denseSlot]?: number; // its place in the target's in-flight set
  readonly #target: InflightTarget;
  readonly #ctx: RequestContext;
  readonly #path: string;
  #controller: Controller | null = null;
  #cancelled: Error | null = null;
  #done = false;
  #resume: (() => void) | null = null;
  #requestBuffer: SpillBuffer | null = null;
  #responseBuffer: SpillBuffer | null = null;
  #smallResponse: Buffer[] | null = null; // a buffered response that fits in --buffer-memory
  #status = 0;
  #headers: string[] | null = null;
  #headPending = false; // the head waits for the first body byte (or the end)

  constructor(target: InflightTarget, ctx: RequestContext, path: string) {
    this.#target = target;
    this.#ctx = ctx;
    this.#path = path;
  }

  start(): void {
    const ctx = this.#ctx;
    const h = ctx.req.headers;
    ctx.target = this.#target.address;
    ctx.upstream = this;
    this.#target.track(this);
    const whole = (ctx.req as FastRequest).body;
    if (whole != null) return this.#dispatchWhole(whole);
    const cl = h['content-length'];
    // HTTP/2 has no Transfer-Encoding: there a body of unknown length is one
    // whose HEADERS frame did not end the stream (only Node's compat request
    // has a stream; the fast paths take bodyless requests only).
    const hasBody = cl !== undefined ? cl !== '0' : h['transfer-encoding'] !== undefined || (ctx.req as H2CompatRequest).stream?.endAfterHeaders === false;
    if (hasBody && this.#target.options.bufferRequests) void this.#bufferThenDispatch();
    else this.#dispatch(hasBody ? ctx.req : null, -1);
  }

  async #bufferThenDispatch(): Promise<void> {
    const o = this.#target.options;
    try {
      this.#requestBuffer = await bufferStream(this.#ctx.req, { maxMemoryBytes: o.maxMemoryBufferBytes, maxBytes: o.maxRequestBodyBytes });
    } catch (err) {
      const code = (err as { code?: string }).code;
      // The rest of the body was never read: the connection cannot be reused.
      this.#ctx.res!.shouldKeepAlive = false;
      this.onResponseError(null, code === BODY_TOO_LARGE ? withStatus(err as Error, 413) : (err as Error));
      return;
    }
    if (this.#cancelled !== null) return this.onResponseError(null, this.#cancelled);
    this.#dispatch(this.#requestBuffer.reader(), this.#requestBuffer.size);
  }

  // A small body that came whole with its head (the HTTP/1.1 fast path): it
  // is in memory already, as a buffered one would be, with its length in the
  // client's Content-Length.
  #dispatchWhole(body: Buffer): void {
    const o = this.#target.options;
    if (o.bufferRequests && o.maxRequestBodyBytes > 0 && body.length > o.maxRequestBodyBytes) {
      this.onResponseError(null, withStatus(new Error('request body too large'), 413));
      return;
    }
    this.#dispatch(body, -1);
  }

  // contentLength >= 0 replaces the client's framing (a buffered body's size is known).
  #dispatch(body: Readable | Buffer | null, contentLength: number): void {
    const ctx = this.#ctx;
    const req = ctx.req;
    const target = this.#target;
    const headers = upstreamRequestHeaders(req.rawHeaders, {
      forwardHeaders: target.options.forwardHeaders,
      clientIp: ctx.clientAddr,
      scheme: ctx.scheme,
      requestId: ctx.requestId,
      requestStart: ctx.requestStart,
      target: target.address,
    });
    if (contentLength >= 0) setContentLength(headers, contentLength);
    // The raw query, byte for byte. kamal-proxy limits only the wait for the
    // response head; a body may stream for as long as it likes (SSE, downloads).
    const request = { path: this.#path + ctx.search, method: req.method!, headers, body };
    try {
      target.pool.dispatch(request, this, target.options.responseTimeoutMs);
    } catch (err) {
      this.onResponseError(null, err as Error);
    }
  }

  cancel(reason: Error): void {
    if (this.#done) return;
    if (this.#controller !== null) this.#controller.abort(reason);
    else this.#cancelled = reason;
  }

  onRequestStart(controller: Controller): void {
    this.#controller = controller;
    if (this.#cancelled !== null) controller.abort(this.#cancelled);
  }

  onResponseStart(controller: Controller, statusCode: number, headers: ResponseHeaders): void {
    const ctx = this.#ctx;
    const ct = headers['content-type'];
    ctx.respContentType = ct === undefined ? '' : String(ct);
    ctx.respHeaders = headers;
    let out = downstreamResponseHeaders(headers);
    if (ctx.adjustResponse) out = adjustResponseHeaders(ctx, out);
    const o = this.#target.options;
    if (o.bufferResponses && headers['content-length'] !== undefined && !ctx.respContentType.startsWith('text/event-stream')) {
      if (o.maxResponseBodyBytes > 0 && Number(headers['content-length']) > o.maxResponseBodyBytes) {
        controller.abort(withStatus(new Error('response body too large'), 500));
        return;
      }
      this.#status = statusCode;
      this.#headers = out;
      // Most responses are small: keep them in an array and write them in one
      // go, without a spill buffer and its stream (the length is known, and
      // undici never delivers more than Content-Length).
      if (Number(headers['content-length']) <= o.maxMemoryBufferBytes) this.#smallResponse = [];
      else this.#responseBuffer = new SpillBuffer({ maxMemoryBytes: o.maxMemoryBufferBytes, maxBytes: o.maxResponseBodyBytes });
      return;
    }
    const res = ctx.res!;
    if (res.destroyed) return controller.abort(new Error('client gone'));
    // Written with the first body byte: nothing goes out before it anyway
    // (the head is sent with it), and until then a response that turns out
    // malformed can still be a 502 rather than a cut connection.
    this.#status = statusCode;
    this.#headers = out;
    this.#headPending = true;
  }

  #writeHead(): void {
    this.#headPending = false;
    this.#ctx.res!.writeHead(this.#status, this.#headers!);
    this.#headers = null;
  }

  onResponseData(controller: Controller, chunk: Buffer): void {
    if (this.#smallResponse !== null) {
      this.#smallResponse.push(chunk);
      return;
    }
    if (this.#responseBuffer !== null) {
      controller.pause();
      this.#responseBuffer.write(chunk).then(
        () => controller.resume(),
        (err: Error) => controller.abort(withStatus(err, 500)),
      );
      return;
    }
    this.#ctx.respBytes += chunk.length;
    if (this.#headPending) this.#writeHead();
    if (!this.#ctx.res!.write(chunk)) {
      controller.pause();
      this.#resume ??= () => controller.resume();
      this.#ctx.res!.once('drain', this.#resume);
    }
  }

  onResponseEnd(): void {
    const res = this.#ctx.res!;
    const small = this.#smallResponse;
    if (small !== null) {
      this.#finish();
      const body = small.length === 1 ? small[0]! : Buffer.concat(small);
      this.#ctx.respBytes = body.length;
      res.writeHead(this.#status, this.#headers!);
      res.end(body);
      return;
    }
    const buffer = this.#responseBuffer;
    if (buffer === null) {
      this.#finish();
      if (this.#headPending) this.#writeHead();
      res.end();
      return;
    }
    // The upstream is done and its connection free; now feed the client at its own pace.
    this.#ctx.respBytes = buffer.size;
    res.writeHead(this.#status, this.#headers!);
    const reader = buffer.reader();
    reader.pipe(res);
    reader.once('error', () => res.destroy());
    res.once('close', () => {
      this.#finish();
      void buffer.dispose();
    });
  }

  onResponseError(_controller: Controller | null, err: Error): void {
    this.#finish();
    if (this.#responseBuffer !== null) void this.#responseBuffer.dispose();
    const ctx = this.#ctx;
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
    if (this.#headPending) {
      // Nothing of the upstream's response went out: ours replaces it.
      this.#headPending = false;
      ctx.respHeaders = null;
    }
    const status = (err as { status?: number }).status ?? statusForError(err);
    if (code === DRAINED) log.info('Request cancelled due to draining', { target: this.#target.address, path: ctx.path });
    else if (status >= 500) log.info('Error while proxying', { target: this.#target.address, path: ctx.path, error: err.message });
    sendError(ctx, status);
  }

  #finish(): void {
    if (this.#done) return;
    this.#done = true;
    this.#ctx.upstream = null;
    this.#target.untrack(this);
    if (this.#requestBuffer !== null) void this.#requestBuffer.dispose();
  }
}

function withStatus(err: Error, status: number): Error {
  return Object.assign(err, { status });
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
