// One keep-alive HTTP/1.1 connection to a target, carrying one exchange at a
// time (no pipelining, as in Go's Transport and undici's default). It is given
// its first exchange once connected (the pool may have served that one
// elsewhere meanwhile). The request goes out as one write of its head (plus
// the body, streamed with back-pressure); the response is parsed by Node's
// native parser straight from the socket's reads.
import { connect, type Socket } from 'node:net';
import type { Readable } from 'node:stream';
import { UPSTREAM_CONNECT_TIMEOUT_MS } from '../config/defaults.ts';
import {
  badResponse,
  BODY_ABORTED,
  ProxyError,
  REQUEST_LENGTH_MISMATCH,
  UNEXPECTED_UPGRADE,
  UPSTREAM_CLOSED,
  UPSTREAM_CONNECT_TIMEOUT,
  UPSTREAM_TIMEOUT,
} from './errors.ts';
import type { Carrier, Exchange, ResponseHeaders } from './exchange.ts';
import { type NativeParser, Parser, RESPONSE_LENIENT_FLAGS, SKIP_BODY } from './http-parser.ts';

export interface ConnectionOwner {
  // Connected, and ready for its first exchange.
  connectionReady(conn: Http1Connection): void;
  // Its first response head came: the app has accepted it.
  connectionProven(conn: Http1Connection): void;
  // The exchange is over and the connection can carry another.
  connectionFree(conn: Http1Connection): void;
  // The connection is closed (or never connected: see `connected` and
  // `connectError`); an exchange that failed on it may be resent.
  connectionGone(conn: Http1Connection, resend: Exchange | null): void;
}

// Methods whose requests have a body by definition: without one, undici and
// Go send `Content-Length: 0`, and some servers insist on it.
const PAYLOAD_METHODS = new Set(['POST', 'PUT', 'PATCH']);
// setTimeout cannot wait longer; beyond it Node fires after 1 ms instead.
const MAX_TIMER_MS = 2 ** 31 - 1;

export class Http1Connection implements Carrier {
  readonly #owner: ConnectionOwner;
  readonly #socket: Socket;
  readonly #parser: NativeParser;
  #exchange: Exchange | null = null;
  #served = 0; // exchanges completed on this connection
  #answered = false; // a response head came on it
  #interim = false; // the message being parsed is a 1xx
  #keepAlive = false; // as the response being parsed allows
  #requestSent = false; // the whole request, body included, is written
  #headerParts: string[] | null = null; // header lines flushed before the head completed
  #timer: NodeJS.Timeout | null = null;
  #timerMs = 0;
  #detachBody: (() => void) | null = null;
  readonly #hostHeader: string;
  idleSinceMs = 0;
  connected = false;
  connectError: Error | null = null; // why it never connected
  // The pool's bookkeeping (http1-pool.ts): answered on, or taken as
  // answered (aged) after the pool's patience; carrying a long request; what
  // it was at when the pool's patience check began (-1: nothing to check).
  proven = false;
  aged = false;
  long = false;
  mark = -1;
  markedBusy = false;

  constructor(owner: ConnectionOwner, host: string, port: number, maxHeaderSize: number) {
    this.#owner = owner;
    this.#hostHeader = `${host}:${port}`;
    const parser = new Parser();
    parser.initialize(Parser.RESPONSE, {}, maxHeaderSize, RESPONSE_LENIENT_FLAGS);
    parser[Parser.kOnHeaders] = this.#onHeaders;
    parser[Parser.kOnHeadersComplete] = this.#onHeadersComplete;
    parser[Parser.kOnBody] = this.#onBody;
    parser[Parser.kOnMessageComplete] = this.#onMessageComplete;
    this.#parser = parser;
    const socket = connect({ host, port, noDelay: true, keepAlive: true, keepAliveInitialDelay: 60_000 });
    socket.setTimeout(UPSTREAM_CONNECT_TIMEOUT_MS, this.#onConnectTimeout);
    socket.once('connect', this.#onConnect);
    socket.on('data', this.#onData);
    socket.on('end', this.#onEnd);
    socket.on('error', (err) => this.#fail(err));
    socket.on('close', this.#onClose);
    this.#socket = socket;
  }

  get reused(): boolean {
    return this.#served > 0;
  }

  // Exchanges completed on it: one that is busy with the same count as
  // before has been on the same exchange all along.
  get served(): number {
    return this.#served;
  }

  get busy(): boolean {
    return this.#exchange !== null;
  }

  // False from the moment the socket is gone, a tick before 'close' tells the pool.
  get usable(): boolean {
    return !this.#socket.destroyed;
  }

  send(ex: Exchange): void {
    this.#exchange = ex;
    ex.carrier = this;
    this.#interim = false;
    this.#requestSent = false;
    const { method, path, headers, body } = ex.request;
    let head = `${method} ${path} HTTP/1.1\r\n`;
    let length = -1;
    let hasHost = false;
    // Names and values come from Node's HTTP/1.1 parser or nghttp2, both of
    // which refuse CR, LF and NUL in them, or are our own: no line injection.
    for (let i = 0; i < headers.length; i += 2) {
      const name = headers[i]!;
      const value = headers[i + 1]!;
      head += `${name}: ${value}\r\n`;
      if (name.length === 14 && name.toLowerCase() === 'content-length') length = Number(value);
      else if (name.length === 4 && name.toLowerCase() === 'host') hasHost = true;
    }
    // As undici and Go do for a request without one (an HTTP/1.0 client's).
    if (!hasHost) head += `Host: ${this.#hostHeader}\r\n`;
    if (body === null) {
      if (length === -1 && PAYLOAD_METHODS.has(method)) head += 'Content-Length: 0\r\n';
      this.#socket.write(`${head}\r\n`, 'latin1');
      this.#requestSent = true;
      this.#armTimer(ex.headersTimeoutMs);
      return;
    }
    if (Buffer.isBuffer(body)) {
      // A small body that came whole with its head (http1-fast-path.ts):
      // head and body in one write.
      const socket = this.#socket;
      socket.cork();
      socket.write(`${head}\r\n`, 'latin1');
      socket.write(body);
      socket.uncork();
      this.#requestSent = true;
      this.#armTimer(ex.headersTimeoutMs);
      return;
    }
    // A body of unknown length (the client sent it chunked) goes on chunked.
    if (length === -1) head += 'Transfer-Encoding: chunked\r\n';
    this.#socket.write(`${head}\r\n`, 'latin1');
    this.#streamBody(ex, body, length);
  }

  // Carrier

  abortExchange(ex: Exchange): void {
    if (this.#exchange !== ex) return;
    this.#exchange = null;
    this.#socket.destroy();
  }

  pause(): void {
    this.#socket.pause();
  }

  resume(): void {
    this.#socket.resume();
  }

  destroy(): void {
    this.#socket.destroy();
  }

  // Request body

  #streamBody(ex: Exchange, body: Readable, length: number): void {
    const socket = this.#socket;
    const chunked = length === -1;
    let sent = 0;
    const onDrain = () => body.resume();
    const detach = () => {
      body.off('data', onData).off('end', onEnd).off('error', onError).off('close', onClose);
      socket.off('drain', onDrain);
      this.#detachBody = null;
    };
    const onData = (chunk: Buffer) => {
      if (ex.done) return detach();
      sent += chunk.length;
      // Never more than the head announced: the rest would read as a second request.
      if (!chunked && sent > length) return ex.abort(new ProxyError(REQUEST_LENGTH_MISMATCH, 'request body longer than its Content-Length'));
      let flowing: boolean;
      if (chunked) {
        socket.write(`${chunk.length.toString(16)}\r\n`, 'latin1');
        socket.write(chunk);
        flowing = socket.write('\r\n', 'latin1');
      } else flowing = socket.write(chunk);
      if (!flowing) {
        body.pause();
        socket.once('drain', onDrain);
      }
    };
    const onEnd = () => {
      detach();
      if (ex.done) return;
      if (!chunked && sent !== length) return ex.abort(new ProxyError(REQUEST_LENGTH_MISMATCH, 'request body shorter than its Content-Length'));
      if (chunked) socket.write('0\r\n\r\n', 'latin1');
      this.#requestSent = true;
      // --target-timeout is the wait for the answer once the app has the
      // whole request, as Go's ResponseHeaderTimeout: a slow upload is not
      // a slow app. An app that answered before reading it all is not waited for.
      if (!ex.responseStarted) this.#armTimer(ex.headersTimeoutMs);
    };
    const onError = (err: Error) => {
      detach();
      ex.abort(err);
    };
    const onClose = () => {
      detach();
      ex.abort(new ProxyError(BODY_ABORTED, 'request body ended early'));
    };
    body.on('data', onData).on('end', onEnd).on('error', onError).on('close', onClose);
    this.#detachBody = detach;
  }

  // Response parsing (the parser's callbacks)

  readonly #onData = (data: Buffer): void => {
    let r: number | Error;
    let thrown: Error | null = null;
    try {
      r = this.#parser.execute(data);
    } catch (err) {
      // A handler threw inside a parser callback: that exchange is over, and
      // the exception must not escape from a socket event.
      r = thrown = err as Error;
    }
    // An Error returned (not thrown) is the parser's: the response is malformed.
    if (r instanceof Error) this.#fail(r === thrown ? r : badResponse(r));
  };

  readonly #onHeaders = (headers: string[]): void => {
    (this.#headerParts ??= []).push(...headers);
  };

  readonly #onHeadersComplete = (
    _major: number,
    _minor: number,
    rawHeaders: string[] | undefined,
    _method: unknown,
    _url: unknown,
    status: number,
    _message: string,
    _upgrade: boolean,
    keepAlive: boolean,
  ): number => {
    let raw = rawHeaders;
    if (this.#headerParts !== null) {
      raw = rawHeaders === undefined ? this.#headerParts : [...this.#headerParts, ...rawHeaders];
      this.#headerParts = null;
    }
    const ex = this.#exchange;
    if (ex === null) return SKIP_BODY;
    if (status === 101) {
      // Switching protocols on a request that asked for no upgrade.
      this.#fail(new ProxyError(UNEXPECTED_UPGRADE, 'upstream switched protocols unasked'), false);
      return SKIP_BODY;
    }
    if (status < 200) {
      this.#interim = true;
      return SKIP_BODY;
    }
    this.#keepAlive = keepAlive;
    ex.responseStarted = true;
    if (!this.#answered) {
      this.#answered = true;
      this.#owner.connectionProven(this);
    }
    ex.handler.onResponseStart(ex, status, headerObject(raw ?? []));
    return ex.request.method === 'HEAD' ? SKIP_BODY : 0;
  };

  readonly #onBody = (chunk: Buffer): void => {
    const ex = this.#exchange;
    if (ex !== null) ex.handler.onResponseData(ex, chunk);
  };

  readonly #onMessageComplete = (): void => {
    if (this.#interim) {
      this.#interim = false;
      return;
    }
    const ex = this.#exchange;
    if (ex === null) return;
    this.#exchange = null;
    ex.carrier = null;
    ex.done = true;
    this.#served++;
    // A response that came before its request was fully sent (an early 413)
    // leaves the rest of that body unsent: the connection cannot go on.
    if (this.#keepAlive && this.#requestSent && !this.#socket.destroyed) {
      // The handler may have paused us for its last piece and will resume
      // an exchange that is over: reading is the connection's own again.
      this.#socket.resume();
      this.#owner.connectionFree(this);
    } else this.#socket.destroy();
    ex.handler.onResponseEnd(ex);
  };

  // Connection events

  readonly #onEnd = (): void => {
    // A body that runs until close ends here; anything else in flight failed.
    const r = this.#parser.finish();
    if (r instanceof Error) this.#fail(badResponse(r));
    else if (this.#exchange !== null) this.#fail(new ProxyError(UPSTREAM_CLOSED, 'upstream closed the connection'));
    this.#socket.destroy();
  };

  readonly #onConnect = (): void => {
    this.#socket.setTimeout(0);
    this.connected = true;
    this.#owner.connectionReady(this);
  };

  readonly #onConnectTimeout = (): void => {
    this.#fail(new ProxyError(UPSTREAM_CONNECT_TIMEOUT, `connect to upstream timed out after ${UPSTREAM_CONNECT_TIMEOUT_MS} ms`));
  };

  readonly #onClose = (): void => {
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#detachBody?.();
    const ex = this.#exchange;
    this.#exchange = null;
    // Resent elsewhere only if nothing of it can have reached the app.
    const resend = ex !== null && !ex.done && this.#mayResend(ex) ? ex : null;
    if (ex !== null && resend === null) ex.fail(new ProxyError(UPSTREAM_CLOSED, 'upstream closed the connection'));
    this.#parser.close();
    this.#owner.connectionGone(this, resend);
  };

  // Fails the exchange in flight (if any), unless it may be resent once the
  // connection is gone (#onClose does that), and closes.
  #fail(err: Error, resendable = true): void {
    if (!this.connected) this.connectError ??= err;
    const ex = this.#exchange;
    if (ex !== null && !(resendable && this.#mayResend(ex))) {
      this.#exchange = null;
      ex.fail(err);
    }
    this.#socket.destroy();
  }

  // A reused connection that failed before any answer was most likely closed
  // by the app as we reused it.
  #mayResend(ex: Exchange): boolean {
    return this.reused && ex.retriable;
  }

  // One timer per connection, re-armed per request once it is sent
  // (refresh() relinks it rather than allocating); it fires harmlessly if
  // the head already came, or for an earlier exchange during an upload.
  #armTimer(ms: number): void {
    if (!(ms > 0 && ms <= MAX_TIMER_MS)) return; // 0 or Infinity: no limit
    if (this.#timer !== null && this.#timerMs === ms) {
      this.#timer.refresh();
      return;
    }
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timerMs = ms;
    this.#timer = setTimeout(this.#onTimer, ms).unref();
  }

  readonly #onTimer = (): void => {
    const ex = this.#exchange;
    if (ex === null || ex.responseStarted || !this.#requestSent) return;
    this.#fail(new ProxyError(UPSTREAM_TIMEOUT, `no response headers from upstream within ${this.#timerMs} ms`), false);
  };
}

// Lower-case names, repeated headers as arrays: the shape undici gives
// handlers, which the response path and the request log read.
function headerObject(raw: string[]): ResponseHeaders {
  const out: ResponseHeaders = {};
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!.toLowerCase();
    const value = raw[i + 1]!;
    const seen = out[name];
    if (seen === undefined) out[name] = value;
    else if (typeof seen === 'string') out[name] = [seen, value];
    else seen.push(value);
  }
  return out;
}
