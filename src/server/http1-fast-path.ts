// The plain-HTTP listener's fast path: a request whose whole head (and small
// Content-Length body, if any) arrived in one read is parsed with Node's
// native parser into an Http1Request and answered through an Http1Response,
// without node:http's per-request streams.
//
// Everything else goes to node:http, unchanged: the connection is handed over
// at a request boundary, with the bytes it has read put back — chunked and
// larger or split bodies, Expect, upgrades, HTTP/1.0, heads split over reads
// or over 64 KiB, and every malformed request, so the 400/408/431 answers and
// the framing rules stay Node's own, or the chain's (request-target.ts).
import type { Server as HttpServer } from 'node:http';
import type { FastRequestListener, ProxyRequest } from '../http/proxy-request.ts';
import { rawHeader } from '../http/headers.ts';
import { isHostName } from '../http/host.ts';
import { bareResponse } from '../http/respond.ts';
import type { Socket } from 'node:net';
import { CLIENT_KEEP_ALIVE_TIMEOUT_MS, MAX_HEADER_SIZE_BYTES } from '../config/defaults.ts';
import { METHODS, Parser } from '../upstream/http-parser.ts';
import { internals } from '../upstream/node-internals.ts';
import { Http1Response, type ResponseOwner } from './http1-response.ts';
import { denseSlot } from '../util/dense-set.ts';


// A request taken by the fast path: what the pipeline reads of an
// IncomingMessage. Its body, if it has one, came whole with the head: a
// Buffer, not a stream.
export class Http1Request implements ProxyRequest {
  readonly method: string;
  url: string; // origin-form once the chain has read an absolute-form one
  readonly httpVersion = '1.1';
  readonly httpVersionMajor = 1;
  readonly httpVersionMinor = 1;
  readonly headers: Record<string, string | string[]>;
  readonly rawHeaders: string[];
  readonly body: Buffer | null; // null: no body, or an empty one (Content-Length: 0)

  constructor(method: string, url: string, rawHeaders: string[], headers: Record<string, string | string[]>, body: Buffer | null) {
    this.method = method;
    this.url = url;
    this.rawHeaders = rawHeaders;
    this.headers = headers;
    this.body = body;
  }
}

const HEAD_END = Buffer.from('\r\n\r\n');
// A head that is not complete within this many bytes read goes to node:http,
// which applies the real limit (MAX_HEADER_SIZE_BYTES) and the headers timeout.
const FAST_HEAD_MAX_BYTES = 64 * 1024;
// A larger body, or one not yet all read with its head, goes to node:http,
// which streams it.
const FAST_BODY_MAX_BYTES = 64 * 1024;

// One parser for every fast-path connection: each execute() is handed a
// whole head, so no parse is ever left half done between two reads, and an
// idle connection holds no parser (node:http keeps one per connection).
const parser = new Parser();
let parserClean = false;
let parsed = false; // the message completed within its head: no body
let pMajor = 0;
let pMinor = 0;
let pMethod = 0;
let pUrl = '';
let pHeaders: string[] = [];
let pUpgrade = false;
let pKeepAlive = false;

function resetParser(): void {
  parser.initialize(Parser.REQUEST, {}, MAX_HEADER_SIZE_BYTES, Parser.kLenientNone);
  parserClean = true;
}
// More than 32 header lines arrive in pieces before the head completes.
function addHeadPiece(headers: string[] | undefined, url: string | undefined): void {
  if (headers !== undefined) pHeaders = pHeaders.length === 0 ? headers : pHeaders.concat(headers);
  if (url !== undefined) pUrl += url;
}
parser[Parser.kOnHeaders] = addHeadPiece;
parser[Parser.kOnHeadersComplete] = (
  major: number,
  minor: number,
  headers: string[] | undefined,
  method: number,
  url: string | undefined,
  _status: number,
  _message: string,
  upgrade: boolean,
  keepAlive: boolean,
): number => {
  pMajor = major;
  pMinor = minor;
  pMethod = method;
  addHeadPiece(headers, url);
  pUpgrade = upgrade;
  pKeepAlive = keepAlive;
  return 0;
};
parser[Parser.kOnBody] = (): void => {};
parser[Parser.kOnMessageComplete] = (): void => {
  parsed = true;
};
resetParser();

// Node's own rules for folding a header list into an object (duplicates
// joined, dropped or kept as an array, names lower-cased), so a request reads
// the same whichever path took it.
const addHeaderLine = internals.addHeaderLine;
const headerRules = { joinDuplicateHeaders: false };

// null unless there is exactly one Host line: Node would keep the first of
// two, and the request is malformed either way (node:http's requests are
// checked by the chain, http1Status).
function headersObject(raw: string[]): Record<string, string | string[]> | null {
  const dest: Record<string, string | string[]> = {};
  let hosts = 0;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!;
    if (isHostName(name)) hosts++;
    addHeaderLine.call(headerRules, name, raw[i + 1]!, dest);
  }
  return hosts === 1 ? dest : null;
}

// Parses the one request at the start of `data` (its head ending at
// `headEnd`) and returns it with the bytes it took, or null when the fast
// path does not take it.
function parseRequest(data: Buffer, headEnd: number, socket: Socket): { req: Http1Request; keepAlive: boolean; end: number } | null {
  if (!parserClean) resetParser();
  parsed = false;
  pUrl = '';
  pHeaders = [];
  let r = parser.execute(data.subarray(0, headEnd));
  let end = headEnd;
  let body: Buffer | null = null;
  // After a head with a Content-Length the parser waits for the body; llhttp
  // has checked the header's syntax (and refused a second, different one,
  // or one beside Transfer-Encoding).
  if (typeof r === 'number' && r === headEnd && !parsed && !pUpgrade) {
    const declared = rawHeader(pHeaders, 'content-length');
    const length = declared === undefined ? -1 : Number(declared);
    if (length > 0 && length <= FAST_BODY_MAX_BYTES && headEnd + length <= data.length) {
      end = headEnd + length;
      body = data.subarray(headEnd, end);
      const rb = parser.execute(body);
      if (typeof rb !== 'number' || rb !== length) r = rb;
    }
  }
  // Anything but a complete HTTP/1.1 message leaves the parser mid-message
  // (and after Connection: close it refuses more): start it afresh next time.
  if (!pKeepAlive) parserClean = false;
  if (typeof r !== 'number' || !parsed || r !== headEnd || pUpgrade || pMajor !== 1 || pMinor !== 1) {
    parserClean = false;
    return null;
  }
  const headers = headersObject(pHeaders);
  // Expect: node:http answers it (100 Continue) by its rules.
  if (headers === null || headers.expect !== undefined) return null;
  return { req: new Http1Request(METHODS[pMethod]!, pUrl, pHeaders, headers, body), keepAlive: pKeepAlive, end };
}

export class Http1FastConnection implements ResponseOwner {
  [denseSlot]?: number; // its place in the server's set of connections
  readonly #socket: Socket;
  readonly #fallback: HttpServer;
  readonly #onRequest: FastRequestListener;
  readonly #onDetach: (conn: Http1FastConnection) => void;
  #pending: Buffer | null = null; // read, not yet parsed (pipelined requests)
  #busy: Http1Response | null = null;
  #clientEnded = false; // the client shut down its side
  #closing = false; // the server is stopping: close after the response in flight
  #gone = false;
  #served = false; // a first request has come

  constructor(socket: Socket, fallback: HttpServer, onRequest: FastRequestListener, onDetach: (conn: Http1FastConnection) => void) {
    this.#socket = socket;
    this.#fallback = fallback;
    this.#onRequest = onRequest;
    this.#onDetach = onDetach;
    // Until its first request, node:http's headers timeout (a head that has
    // begun is node:http's already); then the idle keep-alive limit. That
    // stays set during a request too (one timer per connection, not two
    // changes per request); a timeout then is ignored.
    socket.setTimeout(fallback.headersTimeout);
    socket.on('data', this.#onData);
    socket.on('end', this.#onEnd);
    socket.on('close', this.#onClose);
    socket.on('timeout', this.#onTimeout);
    socket.on('error', this.#onError);
  }

  get idle(): boolean {
    return this.#busy === null;
  }

  // Server shutdown: idle connections close now, busy ones after their response.
  close(): void {
    this.#closing = true;
    if (this.#busy === null) this.#socket.destroy();
    else this.#busy.shouldKeepAlive = false;
  }

  destroy(): void {
    this.#socket.destroy();
  }

  responseDone(res: Http1Response): void {
    if (this.#busy !== res) return;
    this.#busy = null;
    if (this.#gone) return;
    if (!res.writableFinished || !res.shouldKeepAlive || this.#closing || this.#clientEnded) {
      // Let what was written reach the client, then close.
      if (res.writableFinished) this.#socket.end();
      else this.#socket.destroy();
      return;
    }
    if (this.#pending !== null) this.#next();
    if (this.#busy === null && !this.#gone) this.#socket.resume();
  }

  readonly #onData = (chunk: Buffer): void => {
    this.#pending = this.#pending === null ? chunk : Buffer.concat([this.#pending, chunk]);
    if (this.#busy !== null) {
      // Pipelined: hold the bytes, read no more until the response is done.
      this.#socket.pause();
      return;
    }
    this.#next();
  };

  #next(): void {
    const data = this.#pending!;
    const end = data.indexOf(HEAD_END);
    if (end === -1 || end + 4 > FAST_HEAD_MAX_BYTES) return this.#handOver();
    const parsed = parseRequest(data, end + 4, this.#socket);
    if (parsed === null) return this.#handOver();
    this.#pending = parsed.end === data.length ? null : data.subarray(parsed.end);
    const req = parsed.req;
    if (!this.#served) {
      this.#served = true;
      this.#socket.setTimeout(CLIENT_KEEP_ALIVE_TIMEOUT_MS);
    }
    const res = new Http1Response(this.#socket, this, req.method === 'HEAD', parsed.keepAlive && !this.#closing);
    this.#busy = res;
    this.#onRequest(req, res, req.body, this.#socket);
  }

  // From here on node:http serves this connection, starting with the bytes
  // read but not yet answered.
  #handOver(): void {
    const socket = this.#socket;
    socket.off('data', this.#onData);
    socket.off('end', this.#onEnd);
    socket.off('close', this.#onClose);
    socket.off('timeout', this.#onTimeout);
    socket.off('error', this.#onError);
    socket.setTimeout(0);
    socket.pause();
    if (this.#pending !== null) socket.unshift(this.#pending);
    this.#pending = null;
    this.#onDetach(this);
    this.#fallback.emit('connection', socket);
    socket.resume();
  }

  readonly #onEnd = (): void => {
    // A client that shuts down its side is gone, as node:http (without
    // httpAllowHalfOpen) and Go's server treat it: a response still being
    // produced is abandoned (logged 499, the upstream cancelled); one already
    // written completes, then the connection closes.
    this.#clientEnded = true;
    const res = this.#busy;
    if (res === null) this.#socket.end();
    else if (!res.writableEnded) res.abort();
  };

  readonly #onClose = (): void => {
    this.#gone = true;
    this.#onDetach(this);
    const res = this.#busy;
    if (res !== null && !res.writableFinished) res.abort();
  };

  readonly #onTimeout = (): void => {
    // kamal-proxy sets no limit on a request in flight; only idle ones end.
    if (this.#busy !== null) return;
    if (this.#served) return void this.#socket.destroy();
    // No request within the headers timeout: answered as node:http does.
    this.#socket.write(bareResponse(408));
    this.#socket.destroySoon();
  };

  readonly #onError = (): void => {
    // A reset client: 'close' follows, and answers for the response in flight.
  };
}
