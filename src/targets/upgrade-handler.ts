// An upgraded connection (WebSocket and other `Upgrade:` protocols). undici
// performs the upstream handshake; on 101 we relay the upstream's status line
// and headers to the client's raw socket and then splice the two sockets.
// A refusal (any non-101 answer) is relayed as an ordinary response; its head
// goes out with the first byte of its body (or its end), so that an answer
// that turns out malformed before then is a 502 rather than two responses.
import type { Dispatcher } from 'undici';
import type { Client } from '../http/undici.ts';
import type { Duplex } from 'node:stream';
import type { RequestContext, Upgrade } from '../http/context.ts';
import { upstreamRequestHeaders } from '../http/headers.ts';
import { sendError, statusLine } from '../http/respond.ts';
import { log } from '../log/logger.ts';
import { DRAINED, statusForError } from '../upstream/errors.ts';
import type { Inflight, InflightTarget } from './inflight.ts';
import { denseSlot } from '../util/dense-set.ts';

type Controller = Dispatcher.DispatchController;

export class UpgradeHandler implements Dispatcher.DispatchHandler, Inflight {
  readonly upgraded = true;
  [denseSlot]?: number; // its place in the target's in-flight set
  readonly #target: InflightTarget;
  readonly #ctx: RequestContext;
  readonly #head: Buffer;
  readonly #client: Duplex;
  #controller: Controller | null = null;
  #dispatcher: Client | null = null;
  #upstream: Duplex | null = null;
  #refusalHead: string | null = null; // a refusal's head, not written yet
  #refusalHeadSent = false;
  #cancelled: Error | null = null;
  #done = false;

  constructor(target: InflightTarget, ctx: RequestContext, upgrade: Upgrade) {
    this.#target = target;
    this.#ctx = ctx;
    this.#head = upgrade.head;
    this.#client = upgrade.socket;
  }

  start(): void {
    const ctx = this.#ctx;
    const req = ctx.req;
    ctx.target = this.#target.address;
    ctx.upstream = this;
    this.#target.track(this);
    const headers = upstreamRequestHeaders(req.rawHeaders, {
      forwardHeaders: this.#target.options.forwardHeaders,
      forwardedFor: ctx.forwardedFor,
      clientIp: ctx.clientAddr,
      scheme: ctx.scheme,
      requestId: ctx.requestId,
      requestStart: ctx.requestStart,
      target: this.#target.address,
    });
    try {
      this.#dispatcher = this.#target.upgradeClient();
      this.#dispatcher.dispatch(
        {
          path: ctx.upstreamPath + ctx.search,
          method: req.method!,
          headers,
          upgrade: req.headers.upgrade ?? 'websocket',
          headersTimeout: this.#target.options.responseTimeoutMs,
          bodyTimeout: 0,
        },
        this,
      );
    } catch (err) {
      this.onResponseError(null, err as Error);
    }
  }

  cancel(reason: Error): void {
    if (this.#upstream !== null) {
      // Already spliced: cutting both sockets is all there is to do.
      this.#upstream.destroy();
      this.#client.destroy();
      this.#finish();
    } else if (this.#controller !== null) this.#controller.abort(reason);
    else this.#cancelled = reason;
  }

  onRequestStart(controller: Controller): void {
    this.#controller = controller;
    if (this.#cancelled !== null) controller.abort(this.#cancelled);
  }

  onRequestUpgrade(controller: Controller, statusCode: number, _headers: unknown, upstream: Duplex): void {
    const client = this.#client;
    this.#upstream = upstream;
    this.#ctx.status = statusCode;
    if (client.destroyed) {
      upstream.destroy();
      this.#finish();
      return;
    }
    client.write(statusLine(statusCode) + rawHeaderLines(controller.rawHeaders) + '\r\n');
    if (this.#head.length > 0) upstream.write(this.#head);
    const close = () => {
      upstream.destroy();
      client.destroy();
      this.#finish();
    };
    upstream.on('error', close).on('close', close);
    client.on('error', close).on('close', close);
    upstream.pipe(client);
    client.pipe(upstream);
  }

  // The upstream refused the upgrade: relay its answer and close.
  onResponseStart(controller: Controller, statusCode: number, headers: Record<string, string | string[] | undefined>): void {
    this.#ctx.status = statusCode;
    const ct = headers['content-type'];
    this.#ctx.respContentType = ct === undefined ? '' : String(ct);
    this.#refusalHead = statusLine(statusCode) + rawHeaderLines(controller.rawHeaders, true) + 'Connection: close\r\n\r\n';
  }

  onResponseData(_controller: Controller, chunk: Buffer): void {
    this.#ctx.respBytes += chunk.length;
    this.#writeRefusalHead();
    this.#client.write(chunk);
  }

  onResponseEnd(): void {
    this.#finish();
    this.#writeRefusalHead();
    this.#client.end();
  }

  onResponseError(_controller: Controller | null, err: Error): void {
    this.#finish();
    const code = (err as { code?: string }).code;
    const status = statusForError(err);
    if (code !== DRAINED) log.info('Error while proxying', { target: this.#target.address, path: this.#ctx.path, error: err.message });
    // Mid-answer, cutting the connection is the only honest signal left.
    if (this.#refusalHeadSent) return void this.#client.destroy();
    this.#refusalHead = null;
    sendError(this.#ctx, status);
  }

  #writeRefusalHead(): void {
    if (this.#refusalHead === null) return;
    this.#client.write(this.#refusalHead);
    this.#refusalHead = null;
    this.#refusalHeadSent = true;
  }

  #finish(): void {
    if (this.#done) return;
    this.#done = true;
    this.#ctx.upstream = null;
    this.#target.untrack(this);
    // After a 101 undici has let go of the socket (it is spliced, and ours):
    // destroying its client closes nothing but a refused handshake's.
    this.#dispatcher?.destroy().catch(() => {});
  }
}

// Header lines from undici's raw list. For a refused upgrade the framing
// headers are dropped since we close the connection after the body.
function rawHeaderLines(raw: unknown, dropFraming = false): string {
  if (!Array.isArray(raw)) return '';
  let out = '';
  for (let i = 0; i < raw.length; i += 2) {
    const name = String(raw[i]);
    if (dropFraming) {
      const lower = name.toLowerCase();
      if (lower === 'connection' || lower === 'keep-alive' || lower === 'transfer-encoding') continue;
    }
    out += `${name}: ${String(raw[i + 1])}\r\n`;
  }
  return out;
}
