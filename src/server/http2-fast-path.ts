// The HTTPS listener's HTTP/2 fast path: a request without a body gets an
// Http2Request and an Http2Response on the stream itself, instead of Node's
// compatibility request and response (two streams in front of the HTTP/2
// stream, and a trailers frame after each response).
//
// Everything else goes to Node's compat layer, unchanged: requests with a
// body, Expect, CONNECT.
import type { Http2SecureServer, Http2Session, IncomingHttpHeaders, ServerHttp2Stream } from 'node:http2';
import type { ClientPeer, FastRequestListener, ProxyRequest } from '../http/proxy-request.ts';
import { Http2Response } from './http2-response.ts';
type StreamListener = (stream: ServerHttp2Stream, headers: IncomingHttpHeaders, flags: number, rawHeaders: string[]) => void;

const END_STREAM = 0x1; // HEADERS frame flag: the request has no body

// A request taken by the fast path: what the pipeline reads of an
// IncomingMessage (as Node's compat request: the headers include the
// pseudo-headers, and so do the raw ones). It has no body, so it is no stream.
export class Http2Request implements ProxyRequest {
  readonly method: string;
  readonly url: string;
  readonly httpVersion = '2.0';
  readonly httpVersionMajor = 2;
  readonly httpVersionMinor = 0;
  readonly headers: IncomingHttpHeaders;
  readonly rawHeaders: string[];

  constructor(method: string, url: string, rawHeaders: string[], headers: IncomingHttpHeaders) {
    this.method = method;
    this.url = url;
    this.rawHeaders = rawHeaders;
    this.headers = headers;
  }
}

// Takes over the server's 'stream' event. It must be called after the
// server's 'request' listener is added: that is when Node adds its compat
// handler, which this keeps for the requests it does not take.
export function takeHttp2Streams(server: Http2SecureServer, onRequest: FastRequestListener): void {
  const handlers = server.listeners('stream') as StreamListener[];
  if (handlers.length !== 1) throw new Error(`expected Node's one HTTP/2 compat stream handler, found ${handlers.length}`);
  const compat = handlers[0]!;
  server.removeListener('stream', compat);
  server.on('stream', (stream: ServerHttp2Stream, headers: IncomingHttpHeaders, flags: number, rawHeaders: string[]) => {
    const method = headers[':method'];
    if ((flags & END_STREAM) === 0 || method === 'CONNECT' || headers['content-length'] !== undefined || headers.expect !== undefined) {
      return compat.call(server, stream, headers, flags, rawHeaders);
    }
    // 'close' answers for every outcome; an error without a listener would throw.
    stream.on('error', ignore);
    const req = new Http2Request(method!, headers[':path'] ?? '', rawHeaders, headers);
    const res = new Http2Response(stream, method === 'HEAD');
    onRequest(req, res, null, peerOf(stream.session!));
  });
}

function ignore(): void {}

// What the pipeline reads of a request's socket is the client's address. A
// session's own socket is a guard that throws once the session is gone (and
// a stream's response may close after that), so each session gets a plain
// object with the address, read once, shared by all its streams.
const kPeer = Symbol('kamal-napper.peer');
function peerOf(session: Http2Session & { [kPeer]?: ClientPeer }): ClientPeer {
  let peer = session[kPeer];
  if (peer === undefined) {
    const socket = session.socket;
    peer = session[kPeer] = { remoteAddress: socket.remoteAddress, remotePort: socket.remotePort };
  }
  return peer;
}
