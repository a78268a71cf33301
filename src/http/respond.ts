// The one place that writes the responses the proxy itself produces: error
// pages, redirects, the waiting page, health answers while paused, ACME
// challenge answers. Request-path code never throws for an expected failure:
// it calls sendError with a status (upstream/errors.ts maps error codes to
// statuses) and the page is rendered here, from the service's custom pages
// when it has them, else the built-in ones.
import { CONTENT_TYPE_HTML, defaultErrorPages, statusText } from '../pages/pages.ts';
import type { RequestContext } from './context.ts';

// `headers` are extra to Content-Type and Content-Length, which are set here.
export function sendResponse(ctx: RequestContext, status: number, contentType: string, body: string, headers: string[] = []): void {
  ctx.status = status;
  const len = Buffer.byteLength(body);
  const head = ctx.req.method === 'HEAD';
  ctx.respBytes = head ? 0 : len;
  ctx.respContentType = contentType;
  const res = ctx.res;
  if (res === null) {
    // An upgrade request: no response object, only the raw socket, and the
    // connection closes after the answer.
    const socket = ctx.upgrade!.socket;
    if (!socket.writable) return;
    let text = statusLine(status);
    if (contentType !== '') text += `Content-Type: ${contentType}\r\n`;
    for (let i = 0; i < headers.length; i += 2) if (headers[i] !== 'Connection') text += `${headers[i]}: ${headers[i + 1]}\r\n`;
    socket.end(`${text}Content-Length: ${len}\r\nConnection: close\r\n\r\n${head ? '' : body}`);
    return;
  }
  if (res.headersSent) {
    // Too late for a page: the client already has a status line. Cutting the
    // connection is the only honest signal left.
    res.destroy();
    return;
  }
  if (contentType !== '') headers.push('Content-Type', contentType);
  // A 204 has no body, and so no length (RFC 9110 §8.6).
  if (status !== 204) headers.push('Content-Length', String(len));
  res.writeHead(status, headers);
  if (head) res.end();
  else res.end(body);
}

// A whole response the proxy holds (an HTTP cache hit): `headers` are all of
// them, Content-Length included; a HEAD gets them without the body.
export function sendStored(ctx: RequestContext, status: number, headers: string[], body: Buffer | null, contentType: string): void {
  ctx.status = status;
  ctx.respContentType = contentType;
  const res = ctx.res!;
  const send = body !== null && body.length > 0 && ctx.req.method !== 'HEAD';
  ctx.respBytes = send ? body.length : 0;
  res.writeHead(status, headers);
  if (send) res.end(body);
  else res.end();
}

export function sendError(ctx: RequestContext, status: number, message?: string, headers: string[] = []): void {
  const body = (ctx.errorPages ?? defaultErrorPages).render(status, message);
  // After a 400 the request framing is in doubt, and after a 505 the client
  // speaks another protocol: never reuse the connection.
  if (status === 400 || status === 505) headers.push('Connection', 'close');
  sendResponse(ctx, status, CONTENT_TYPE_HTML, body, headers);
}

export function statusLine(status: number): string {
  return `HTTP/1.1 ${status} ${statusText(status)}\r\n`;
}

// A response written straight to a client socket, outside any request: for
// what node:http's parser refuses (server.ts, onClientError) and for a
// connection that sends no request in time (http1-fast-path.ts).
export function bareResponse(status: number): string {
  const text = `${status} ${statusText(status)}`;
  return `${statusLine(status)}Content-Type: text/plain; charset=utf-8\r\nContent-Length: ${text.length}\r\nConnection: close\r\n\r\n${text}`;
}
