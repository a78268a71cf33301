// One proxied request, as an undici dispatch handler: the cheapest way through
// undici (no intermediate streams), with back-pressure both ways. The client's
// request stream is handed to undici as the body; the response is written
// straight into Node's ServerResponse as it arrives, so SSE and other streams
// are flushed chunk by chunk.
import type { Dispatcher } from 'undici';
import type { Socket } from 'node:net';
import type { RequestContext } from '../http/context.ts';
import { downstreamResponseHeaders, upstreamRequestHeaders } from '../http/headers.ts';
import { sendError } from '../http/respond.ts';
import { adjustResponseHeaders } from '../http/response-headers.ts';
import { log } from '../log/logger.ts';
import { CLIENT_GONE, DRAINED, statusForError } from './errors.ts';
import type { Inflight, Target } from './target.ts';

type Controller = Dispatcher.DispatchController;

export class ProxyHandler implements Dispatcher.DispatchHandler, Inflight {
  readonly upgraded = false;
  readonly #target: Target;
  readonly #ctx: RequestContext;
  readonly #path: string;
  #controller: Controller | null = null;
  #cancelled: Error | null = null;
  #done = false;
  #resume: (() => void) | null = null;

  constructor(target: Target, ctx: RequestContext, path: string) {
    this.#target = target;
    this.#ctx = ctx;
    this.#path = path;
  }

  start(): void {
    const ctx = this.#ctx;
    const req = ctx.req;
    const target = this.#target;
    ctx.target = target.address;
    ctx.upstream = this;
    target.track(this);
    const headers = upstreamRequestHeaders(req.rawHeaders, {
      forwardHeaders: target.options.forwardHeaders,
      clientIp: (ctx.socket as Socket).remoteAddress ?? '',
      scheme: ctx.scheme,
      requestId: ctx.requestId,
      requestStart: ctx.requestStart,
      target: target.address,
    });
    const h = req.headers;
    const cl = h['content-length'];
    const hasBody = cl !== undefined ? cl !== '0' : h['transfer-encoding'] !== undefined;
    try {
      target.pool.dispatch(
        {
          path: this.#path + ctx.search, // the raw query, byte for byte
          method: req.method!,
          headers,
          body: hasBody ? req : null,
          headersTimeout: target.options.responseTimeoutMs,
          bodyTimeout: 0,
        },
        this,
      );
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

  onResponseStart(controller: Controller, statusCode: number, headers: Record<string, string | string[] | undefined>): void {
    const res = this.#ctx.res!;
    if (statusCode < 200) return; // 1xx interim responses are not relayed
    const ct = headers['content-type'];
    this.#ctx.respContentType = ct === undefined ? '' : String(ct);
    this.#ctx.respHeaders = headers;
    const out = downstreamResponseHeaders(headers);
    res.writeHead(statusCode, this.#ctx.adjustResponse ? adjustResponseHeaders(this.#ctx, out) : out);
    if (res.destroyed) controller.abort(new Error('client gone'));
  }

  onResponseData(controller: Controller, chunk: Buffer): void {
    this.#ctx.respBytes += chunk.length;
    if (!this.#ctx.res!.write(chunk)) {
      controller.pause();
      this.#resume ??= () => controller.resume();
      this.#ctx.res!.once('drain', this.#resume);
    }
  }

  onResponseEnd(): void {
    this.#finish();
    this.#ctx.res!.end();
  }

  onResponseError(_controller: Controller | null, err: Error): void {
    this.#finish();
    const ctx = this.#ctx;
    const code = (err as { code?: string }).code;
    if (code === CLIENT_GONE || ctx.status === 499) {
      ctx.status = 499;
      return;
    }
    const status = statusForError(err);
    if (code === DRAINED) log.info('Request cancelled due to draining', { target: this.#target.address, path: ctx.path });
    else log.info('Error while proxying', { target: this.#target.address, path: ctx.path, error: err.message });
    sendError(ctx, status);
  }

  #finish(): void {
    if (this.#done) return;
    this.#done = true;
    this.#ctx.upstream = null;
    this.#target.untrack(this);
  }
}
