// The response of a request taken by the HTTP/1.1 fast path, written
// straight to the socket: no Writable stream state, no header validation
// (every value comes from llhttp, which refuses CR and LF, or from the proxy
// itself), no Keep-Alive header (Go's server sends none), and a small
// response goes out as one string in one write.
import { EventEmitter } from 'node:events';
import { bodylessStatus, impliedHeaders } from './response-head.ts';
import { STATUS_CODES } from '../http/node-http.ts';
import type { Socket } from 'node:net';
import type { ProxyResponse } from '../http/proxy-response.ts';

// What the response tells its connection.
export interface ResponseOwner {
  // The response is complete (finished) or abandoned (destroyed).
  responseDone(res: Http1Response): void;
}

const SMALL_BODY_BYTES = 16 * 1024; // copied into the head's string and written once

export class Http1Response extends EventEmitter implements ProxyResponse {
  statusCode = 200;
  headersSent = false;
  writableEnded = false;
  writableFinished = false;
  destroyed = false;
  // false: the connection closes after this response (Connection: close).
  shouldKeepAlive: boolean;
  readonly socket: Socket;
  readonly #owner: ResponseOwner;
  readonly #noBodyRequest: boolean; // HEAD
  #head = ''; // status line and headers, until the first write
  #noBody = false;
  #chunked = false;
  #drainHooked = false;
  #done = false;

  constructor(socket: Socket, owner: ResponseOwner, isHead: boolean, keepAlive: boolean) {
    super();
    this.socket = socket;
    this.#owner = owner;
    this.#noBodyRequest = isHead;
    this.shouldKeepAlive = keepAlive;
  }

  // Node's pipe() waits for 'drain' when this says so.
  get writableNeedDrain(): boolean {
    return this.socket.writableNeedDrain;
  }

  writeHead(status: number, headers?: string[]): this {
    if (this.headersSent) throw new Error('headers already sent');
    this.statusCode = status;
    this.headersSent = true;
    let head = `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'unknown'}\r\n`;
    let length = false;
    let date = false;
    let closeHeader = false;
    const all = headers ?? [];
    for (let i = 0; i < all.length; i += 2) {
      const name = all[i]!;
      const value = all[i + 1]!;
      head += `${name}: ${value}\r\n`;
      // Only names of these lengths can matter; most headers skip the compare.
      const n = name.length;
      if (n === 14) length ||= name.toLowerCase() === 'content-length';
      else if (n === 4) date ||= name.toLowerCase() === 'date';
      else if (n === 10) closeHeader ||= name.toLowerCase() === 'connection' && value.toLowerCase() === 'close';
    }
    if (!date) head += `Date: ${utcDate()}\r\n`;
    this.#noBody = this.#noBodyRequest || bodylessStatus(status);
    if (!this.#noBody && !length) {
      this.#chunked = true;
      head += 'Transfer-Encoding: chunked\r\n';
    }
    if (closeHeader) this.shouldKeepAlive = false;
    else if (!this.shouldKeepAlive) head += 'Connection: close\r\n';
    this.#head = head + '\r\n';
    return this;
  }

  write(chunk: Buffer | string): boolean {
    if (this.destroyed || this.writableEnded) return false;
    if (!this.headersSent) this.writeHead(this.statusCode);
    const socket = this.socket;
    socket.cork();
    this.#flushHead();
    if (!this.#noBody && chunk.length > 0) {
      if (this.#chunked) socket.write(`${Buffer.byteLength(chunk).toString(16)}\r\n`, 'latin1');
      socket.write(chunk);
      if (this.#chunked) socket.write('\r\n', 'latin1');
    }
    socket.uncork();
    const ok = !socket.writableNeedDrain;
    if (!ok && !this.#drainHooked) {
      this.#drainHooked = true;
      socket.on('drain', this.#onDrain);
    }
    return ok;
  }

  end(chunk?: Buffer | string): this {
    if (this.writableEnded || this.destroyed) return this;
    if (!this.headersSent) this.writeHead(this.statusCode, impliedHeaders(this.statusCode, chunk));
    this.writableEnded = true;
    const socket = this.socket;
    const head = this.#head;
    this.#head = '';
    // The write callback runs once the bytes are with the kernel (or the
    // socket failed): the response is finished and the connection goes on.
    if (chunk === undefined || chunk.length === 0 || this.#noBody) {
      const last = this.#chunked ? head + '0\r\n\r\n' : head;
      if (last === '') process.nextTick(this.#onFlushed);
      else socket.write(last, 'latin1', this.#onFlushed);
    } else if (this.#chunked) {
      socket.cork();
      socket.write(`${head}${Buffer.byteLength(chunk).toString(16)}\r\n`, 'latin1');
      socket.write(chunk);
      socket.write('\r\n0\r\n\r\n', 'latin1', this.#onFlushed);
      socket.uncork();
    } else if (typeof chunk !== 'string' && chunk.length <= SMALL_BODY_BYTES) {
      // The common proxied response: head and body in one string, one write.
      socket.write(head + chunk.toString('latin1'), 'latin1', this.#onFlushed);
    } else {
      socket.cork();
      if (head !== '') socket.write(head, 'latin1');
      socket.write(chunk, this.#onFlushed);
      socket.uncork();
    }
    return this;
  }

  destroy(): this {
    if (this.destroyed) return this;
    this.destroyed = true;
    this.socket.destroy();
    return this;
  }

  // The socket closed under a response that was not finished.
  abort(): void {
    this.destroyed = true;
    this.#complete();
  }

  #flushHead(): void {
    if (this.#head === '') return;
    this.socket.write(this.#head, 'latin1');
    this.#head = '';
  }

  readonly #onDrain = (): void => {
    this.emit('drain');
  };

  readonly #onFlushed = (err?: Error | null): void => {
    if (err) this.destroyed = true;
    else this.writableFinished = true;
    this.#complete();
  };

  #complete(): void {
    if (this.#done) return;
    this.#done = true;
    if (this.#drainHooked) this.socket.off('drain', this.#onDrain);
    if (this.writableFinished) this.emit('finish');
    // 'close' first: the request is logged before the connection reads the
    // next one.
    this.emit('close');
    this.#owner.responseDone(this);
  }
}

// The Date header, formatted once a second (as Node and Go do).
let dateCache = '';
let dateSecond = -1;
function utcDate(): string {
  const now = Date.now();
  const second = Math.floor(now / 1000);
  if (second !== dateSecond) {
    dateSecond = second;
    dateCache = new Date(now).toUTCString();
  }
  return dateCache;
}
