// What the two fast-path responses (http1-response.ts, http2-response.ts)
// decide alike about a response head.

// Statuses whose responses never carry a body (RFC 9110, 6.4.1).
export function bodylessStatus(status: number): boolean {
  return status === 204 || status === 304 || status < 200;
}

// The head end(chunk) sends when writeHead() was never called. As in Node,
// the body's Content-Length (for HEAD too: the length a GET would have).
export function impliedHeaders(status: number, chunk: Buffer | string | undefined): string[] {
  return bodylessStatus(status) ? [] : ['Content-Length', String(chunk === undefined ? 0 : Buffer.byteLength(chunk))];
}
