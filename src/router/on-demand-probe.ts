// The on-demand TLS check of a service whose --tls-on-demand-url is a path,
// as kamal-proxy runs it: a GET made up by the proxy, sent through the
// service to its app with Host set to the name being checked, answered into
// memory (status and the first bytes of the body). It is no client's
// request: not logged, never redirected (Service.serveInternal).
import { EventEmitter } from 'node:events';
import { RequestContext } from '../http/context.ts';
import type { ProxyRequest } from '../http/proxy-request.ts';
import type { ProxyResponse } from '../http/proxy-response.ts';
import { newRequestId } from '../http/request-id.ts';
import type { Service } from '../service/service.ts';
import type { OnDemandAnswer } from '../tls/on-demand-policy.ts';
import { clientGone } from '../upstream/errors.ts';

// Rejects with the signal's reason when it aborts first (the check's
// deadline); the exchange is then cut as if its client had left.
export function probeService(service: Service, pathAndQuery: string, host: string, signal: AbortSignal, maxBodyBytes: number): Promise<OnDemandAnswer> {
  return new Promise((resolve, reject) => {
    const req: ProxyRequest = {
      method: 'GET',
      url: pathAndQuery,
      httpVersion: '1.1',
      httpVersionMajor: 1,
      httpVersionMinor: 1,
      headers: { host },
      rawHeaders: ['Host', host],
    };
    const res = new ProbeResponse(maxBodyBytes);
    // No client address: the app gets no X-Forwarded-For, as from Go.
    const ctx = new RequestContext(req, res, null, null, {}, 'http', 0);
    ctx.requestStart = `t=${Date.now()}`;
    ctx.requestId = newRequestId();
    const abort = () => {
      ctx.upstream?.cancel(clientGone());
      res.destroy();
    };
    res.once('close', () => {
      signal.removeEventListener('abort', abort);
      ctx.activity?.requestEnded();
      if (res.writableFinished) resolve({ status: res.statusCode, body: res.body() });
      else reject((signal.reason as Error | undefined) ?? new Error('the check was cut short'));
    });
    if (signal.aborted) return abort();
    signal.addEventListener('abort', abort, { once: true });
    service.serveInternal(ctx);
  });
}

// What a response to the probe writes, kept in memory up to a limit (the
// rest is dropped; writing never waits).
class ProbeResponse extends EventEmitter implements ProxyResponse {
  statusCode = 200;
  headersSent = false;
  writableEnded = false;
  writableFinished = false;
  destroyed = false;
  shouldKeepAlive = true;
  readonly #limit: number;
  readonly #chunks: Buffer[] = [];
  #size = 0;
  #closed = false;

  constructor(limit: number) {
    super();
    this.#limit = limit;
  }

  body(): Buffer {
    return Buffer.concat(this.#chunks, this.#size);
  }

  writeHead(status: number): this {
    this.statusCode = status;
    this.headersSent = true;
    return this;
  }

  write(chunk: Buffer | string): boolean {
    this.#keep(chunk);
    return true;
  }

  end(chunk?: Buffer | string): this {
    if (this.writableEnded || this.destroyed) return this;
    if (chunk !== undefined) this.#keep(chunk);
    this.headersSent = true;
    this.writableEnded = true;
    this.writableFinished = true;
    this.#close();
    return this;
  }

  destroy(): this {
    if (this.destroyed) return this;
    this.destroyed = true;
    this.#close();
    return this;
  }

  #keep(chunk: Buffer | string): void {
    const room = this.#limit - this.#size;
    if (room <= 0) return;
    const bytes = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    // Copied: the upstream client may reuse its read buffers.
    const part = Buffer.from(bytes.subarray(0, room));
    this.#chunks.push(part);
    this.#size += part.length;
  }

  // Later, as node:http emits it: whoever ends the response may still be
  // adding its listeners.
  #close(): void {
    if (this.#closed) return;
    this.#closed = true;
    process.nextTick(() => this.emit('close'));
  }
}
