// The one place that writes responses the proxy itself produces. Request-path
// code never throws for an expected failure: it calls sendError with a status
// and the page is rendered here, from the service's custom pages when it has
// them, else the built-in ones.
import { CONTENT_TYPE_HTML, defaultErrorPages, statusText } from '../pages/pages.ts';
import type { RequestContext } from './context.ts';

export function sendError(ctx: RequestContext, status: number, message?: string): void {
  ctx.status = status;
  const pages = ctx.errorPages ?? defaultErrorPages;
  const body = pages.render(status, message);
  const res = ctx.res;
  if (res === null) {
    writeRawResponse(ctx, status, body);
    return;
  }
  if (res.headersSent) {
    // Too late for a page: the client already has a status line. Cutting the
    // connection is the only honest signal left.
    res.destroy();
    return;
  }
  const len = Buffer.byteLength(body);
  ctx.respBytes = ctx.req.method === 'HEAD' ? 0 : len;
  ctx.respContentType = CONTENT_TYPE_HTML;
  const headers = ['Content-Type', CONTENT_TYPE_HTML, 'Content-Length', String(len)];
  // After a 400 the request framing is in doubt, and after a 505 the client
  // speaks another protocol: never reuse the connection.
  if (status === 400 || status === 505) headers.push('Connection', 'close');
  res.writeHead(status, headers);
  res.end(ctx.req.method === 'HEAD' ? undefined : body);
}

// For requests that arrived as upgrades: there is no ServerResponse, only the
// socket, so the response is written by hand and the connection closed.
export function writeRawResponse(ctx: RequestContext, status: number, body: string): void {
  const socket = ctx.socket;
  const len = Buffer.byteLength(body);
  ctx.respBytes = len;
  ctx.respContentType = CONTENT_TYPE_HTML;
  if (!socket.writable) return;
  socket.end(
    `HTTP/1.1 ${status} ${statusText(status)}\r\nContent-Type: ${CONTENT_TYPE_HTML}\r\n` +
      `Content-Length: ${len}\r\nConnection: close\r\n\r\n${body}`,
  );
}

// A response written straight to a client socket, outside any request: for
// what node:http's parser refuses (server.ts, onClientError) and for a
// connection that sends no request in time (http1-fast-path.ts).
export function bareResponse(status: number): string {
  const text = `${status} ${statusText(status)}`;
  return `HTTP/1.1 ${text}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: ${text.length}\r\nConnection: close\r\n\r\n${text}`;
}
