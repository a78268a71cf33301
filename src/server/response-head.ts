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

// writeHead()'s flat list with the headers set by setHeader() before it
// (`extra`). As in Node's writeHead, the list wins over setHeader() for the
// same name.
export function mergeHeaders(headers: readonly string[] | undefined, extra: readonly string[] | null): readonly string[] {
  if (extra === null) return headers ?? [];
  if (headers === undefined || headers.length === 0) return extra;
  const names = new Set<string>();
  for (let i = 0; i < headers.length; i += 2) names.add(headers[i]!.toLowerCase());
  const out = [...headers];
  for (let i = 0; i < extra.length; i += 2) if (!names.has(extra[i]!.toLowerCase())) out.push(extra[i]!, extra[i + 1]!);
  return out;
}
