// Every failure a request can meet, mapped to the status it is answered
// with in one table, by stable error code, never by message text. Mirrors
// kamal-proxy's handleProxyError.
import { BODY_TOO_LARGE } from '../buffer/spill-buffer.ts';

// Our own reasons for cutting an exchange short (the proxy's and its
// upstream client's, src/upstream/).
export class ProxyError extends Error {
  readonly code: string;
  constructor(code: string, message: string) {
    super(message);
    this.code = code;
  }
}

export const CLIENT_GONE = 'KN_CLIENT_GONE';
export const DRAINED = 'KN_DRAINED';
export const UPSTREAM_CLOSED = 'KN_UPSTREAM_CLOSED';
export const UPSTREAM_TIMEOUT = 'KN_UPSTREAM_TIMEOUT';
export const UPSTREAM_CONNECT_TIMEOUT = 'KN_UPSTREAM_CONNECT_TIMEOUT';
export const UPSTREAM_CONNECT_WAIT = 'KN_UPSTREAM_CONNECT_WAIT';
export const UPSTREAM_BAD_RESPONSE = 'KN_UPSTREAM_BAD_RESPONSE';
export const REQUEST_LENGTH_MISMATCH = 'KN_REQUEST_LENGTH_MISMATCH';
export const BODY_ABORTED = 'KN_BODY_ABORTED';
export const POOL_CLOSED = 'KN_POOL_CLOSED';
export const UNEXPECTED_UPGRADE = 'KN_UNEXPECTED_UPGRADE';
export const RESPONSE_NOT_BUFFERED = 'KN_RESPONSE_NOT_BUFFERED'; // --buffer-responses: too large, or the spill failed
export const CLIENT_BAD_REQUEST = 'KN_BAD_REQUEST'; // the client's request broke mid-body
export const XSENDFILE_FAILED = 'KN_XSENDFILE_FAILED'; // --x-sendfile-root: a path outside the roots, or not a readable file
export const XSENDFILE_NOT_FOUND = 'KN_XSENDFILE_NOT_FOUND'; // --x-sendfile-root: the app named a file that is not there

export const clientGone = () => new ProxyError(CLIENT_GONE, 'client disconnected');
export const drained = () => new ProxyError(DRAINED, 'request cancelled due to draining');

// A response that breaks HTTP/1.1 framing (both Content-Length and
// Transfer-Encoding, two different lengths, a bad chunk): the app failed us,
// whatever the parser's HPE_* code says (the same codes in a client's body
// are the client's fault). The code stays in the message, for the log.
export function badResponse(err: Error): ProxyError {
  const code = (err as { code?: unknown }).code;
  return new ProxyError(UPSTREAM_BAD_RESPONSE, `malformed response from upstream: ${typeof code === 'string' ? `${code} ` : ''}${err.message}`);
}

const STATUS_BY_CODE: Record<string, number> = {
  [CLIENT_GONE]: 499, // logged only: nobody is left to read it
  [DRAINED]: 504,
  [UPSTREAM_TIMEOUT]: 504, // --target-timeout
  [UPSTREAM_CONNECT_WAIT]: 504, // no connection to the upstream within --target-timeout
  [UPSTREAM_CONNECT_TIMEOUT]: 502,
  [UPSTREAM_BAD_RESPONSE]: 502,
  [REQUEST_LENGTH_MISMATCH]: 400,
  [CLIENT_BAD_REQUEST]: 400,
  [BODY_TOO_LARGE]: 413, // --buffer-requests over --max-request-body
  [RESPONSE_NOT_BUFFERED]: 500,
  [XSENDFILE_FAILED]: 500,
  [XSENDFILE_NOT_FOUND]: 404,
  // The same from undici, which carries upgrades.
  UND_ERR_HEADERS_TIMEOUT: 504,
  UND_ERR_CONNECT_TIMEOUT: 502,
  UND_ERR_REQ_CONTENT_LENGTH_MISMATCH: 400,
  // A client's malformed body, read while buffering it (upstream responses
  // with these codes arrive as UPSTREAM_BAD_RESPONSE).
  HPE_INVALID_CHUNK_SIZE: 400,
  HPE_INVALID_TRANSFER_ENCODING: 400,
  HPE_UNEXPECTED_CONTENT_LENGTH: 400,
  // What node:http's parser refuses in a client's head (server.ts).
  HPE_HEADER_OVERFLOW: 431,
  ERR_HTTP_REQUEST_TIMEOUT: 408,
  HPE_PAUSED_H2_UPGRADE: 505, // the HTTP/2 preface (h2c with prior knowledge): no h2c here
};

// Anything else is `otherwise`: for an exchange, 502 (refused, reset, DNS
// failure: the upstream failed us); for a client's head, 400.
export function statusForError(err: unknown, otherwise = 502): number {
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code === 'string') {
    const status = STATUS_BY_CODE[code];
    if (status !== undefined) return status;
  }
  return otherwise;
}
