// Upstream failures mapped to statuses in one table, by stable error code,
// never by message text. Mirrors kamal-proxy's handleProxyError.
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
export const SHUTDOWN = 'KN_SHUTDOWN';
export const UPSTREAM_CLOSED = 'KN_UPSTREAM_CLOSED';
export const UPSTREAM_TIMEOUT = 'KN_UPSTREAM_TIMEOUT';
export const UPSTREAM_CONNECT_TIMEOUT = 'KN_UPSTREAM_CONNECT_TIMEOUT';
export const REQUEST_LENGTH_MISMATCH = 'KN_REQUEST_LENGTH_MISMATCH';
export const BODY_ABORTED = 'KN_BODY_ABORTED';
export const POOL_CLOSED = 'KN_POOL_CLOSED';
export const UNEXPECTED_UPGRADE = 'KN_UNEXPECTED_UPGRADE';

export const clientGone = () => new ProxyError(CLIENT_GONE, 'client disconnected');
export const drained = () => new ProxyError(DRAINED, 'request cancelled due to draining');

const STATUS_BY_CODE: Record<string, number> = {
  [CLIENT_GONE]: 499, // logged only: nobody is left to read it
  [DRAINED]: 504,
  [SHUTDOWN]: 504,
  [UPSTREAM_TIMEOUT]: 504, // --target-timeout
  [UPSTREAM_CONNECT_TIMEOUT]: 502,
  [REQUEST_LENGTH_MISMATCH]: 400,
  // The same from undici, which carries upgrades.
  UND_ERR_HEADERS_TIMEOUT: 504,
  UND_ERR_CONNECT_TIMEOUT: 502,
  UND_ERR_REQ_CONTENT_LENGTH_MISMATCH: 400,
  HPE_INVALID_CHUNK_SIZE: 400,
  HPE_INVALID_TRANSFER_ENCODING: 400,
  HPE_UNEXPECTED_CONTENT_LENGTH: 400,
};

export function statusForError(err: unknown): number {
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code === 'string') {
    const status = STATUS_BY_CODE[code];
    if (status !== undefined) return status;
  }
  return 502; // refused, reset, DNS failure, bad response: the upstream failed us
}
