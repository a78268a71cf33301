// The response of an HTTP/2 request taken by the fast path, written straight
// to the stream. Node's compat response ends every stream with an empty
// trailers frame; this ends it on the last DATA frame (or on the HEADERS
// frame when there is no body).
import { EventEmitter } from 'node:events';
import { bodylessStatus, impliedHeaders } from './response-head.ts';
import type { ServerHttp2Stream } from 'node:http2';
import type { ProxyResponse } from '../http/proxy-response.ts';

// RFC 9113 §8.2.2: a message with these (HTTP/1.1 connection-specific
// fields) is malformed in HTTP/2, and Node refuses to send it. The proxy's
// own 400 page says Connection: close (meant for HTTP/1.1); on HTTP/2 that
// header is dropped, as Node's compat response drops it.
const CONNECTION_SPECIFIC = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade']);

export class Http2Response extends EventEmitter implements ProxyResponse {
  statusCode = 200;
  headersSent = false;
  writableEnded = false;
  writableFinished = false;
  destroyed = false;
  // Read and set by the pipeline for HTTP/1.1; an HTTP/2 stream never
  // closes its connection.
  shouldKeepAlive = true;
  readonly #stream: ServerHttp2Stream;
  readonly #noBodyRequest: boolean; // HEAD
  #head: string[] | null = null; // [':status', ..., name, value, ...] until sent
  #noBody = false;
  #drainHooked = false;
  #done = false;

  constructor(stream: ServerHttp2Stream, isHead: boolean) {
    super();
    this.#stream = stream;
    this.#noBodyRequest = isHead;
    stream.on('close', this.#onClose);
  }

  // Node's pipe() waits for 'drain' when this says so.
  get writableNeedDrain(): boolean {
    return this.#stream.writableNeedDrain;
  }

  writeHead(status: number, headers?: string[]): this {
    if (this.headersSent) throw new Error('headers already sent');
    this.statusCode = status;
    this.headersSent = true;
    this.#noBody = this.#noBodyRequest || bodylessStatus(status);
    const head = [':status', String(status)];
    const all = headers ?? [];
    for (let i = 0; i < all.length; i += 2) {
      const name = all[i]!;
      // Only names of these lengths can be connection-specific.
      const n = name.length;
      if ((n === 10 || n === 7 || n === 16 || n === 17) && CONNECTION_SPECIFIC.has(name.toLowerCase())) continue;
      head.push(name, all[i + 1]!);
    }
    this.#head = head;
    return this;
  }

  write(chunk: Buffer | string): boolean {
    if (this.destroyed || this.writableEnded) return false;
    if (!this.headersSent) this.writeHead(this.statusCode);
    if (!this.#respond(false)) return false;
    if (this.#noBody || chunk.length === 0) return true;
    const ok = this.#stream.write(chunk);
    if (!ok && !this.#drainHooked) {
      this.#drainHooked = true;
      this.#stream.on('drain', this.#onDrain);
    }
    return ok;
  }

  end(chunk?: Buffer | string): this {
    if (this.writableEnded || this.destroyed) return this;
    if (!this.headersSent) this.writeHead(this.statusCode, impliedHeaders(this.statusCode, chunk));
    this.writableEnded = true;
    const body = this.#noBody || chunk === undefined || chunk.length === 0 ? undefined : chunk;
    if (this.#head !== null) {
      // Not sent yet: with no body the HEADERS frame ends the stream.
      if (!this.#respond(body === undefined)) return this;
      if (body !== undefined) this.#stream.end(body);
    } else this.#stream.end(body);
    return this;
  }

  // Mid-response there is no status left to send: reset the stream (the
  // client sees an error, not a short body), and only this stream. Not
  // stream.close(code): that ends the stream first, and a client of a
  // response without Content-Length would take the short body as whole.
  // destroy() with an error resets it with INTERNAL_ERROR; the error goes to
  // the stream's 'error' listener (the fast path's, which ignores it).
  destroy(): this {
    if (this.destroyed) return this;
    this.destroyed = true;
    if (!this.#stream.destroyed) this.#stream.destroy(new Error('response cut short'));
    return this;
  }

  // Sends the head if it is still held. False when the stream refused it
  // (it was reset meanwhile, or a header value is not allowed): the stream is
  // closed then, and 'close' follows.
  #respond(endStream: boolean): boolean {
    const head = this.#head;
    if (head === null) return true;
    this.#head = null;
    const stream = this.#stream;
    if (stream.destroyed || stream.closed) return false;
    try {
      stream.respond(head, { endStream });
      return true;
    } catch {
      this.destroy();
      return false;
    }
  }

  readonly #onDrain = (): void => {
    this.emit('drain');
  };

  // The stream is over: complete when this side ended it and the client did
  // not reset it first (a reset, or the whole connection gone, is not).
  readonly #onClose = (): void => {
    if (this.#done) return;
    this.#done = true;
    const stream = this.#stream;
    if (this.writableEnded && !this.destroyed && stream.rstCode === 0) this.writableFinished = true;
    else this.destroyed = true;
    if (this.#drainHooked) stream.off('drain', this.#onDrain);
    if (this.writableFinished) this.emit('finish');
    this.emit('close');
  };
}
