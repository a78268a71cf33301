// HTTP -> HTTPS and canonical-host redirects, combined into one 301 hop as
// kamal-proxy does. The port is dropped from the Location.
import type { RequestContext } from '../http/context.ts';
import { hostWithoutPort } from '../http/cookie-scope.ts';
import type { ServiceOptions } from '../config/service-options.ts';

export function redirectLocation(ctx: RequestContext, o: ServiceOptions): string | null {
  const wantHttps = o.tlsEnabled && o.tlsRedirect && ctx.scheme === 'http';
  const host = hostWithoutPort(ctx.req.headers.host ?? '');
  const wantHost = o.canonicalHost !== '' && host.toLowerCase() !== o.canonicalHost.toLowerCase() ? o.canonicalHost : null;
  if (!wantHttps && wantHost === null) return null;
  return `${wantHttps ? 'https' : ctx.scheme}://${wantHost ?? host}${ctx.req.url ?? '/'}`;
}

export function sendRedirect(ctx: RequestContext, location: string): void {
  ctx.status = 301;
  const res = ctx.res;
  const method = ctx.req.method;
  // Go's http.Redirect body, for GET and HEAD only.
  const body = method === 'GET' ? `<a href="${escapeAttr(location)}">Moved Permanently</a>.\n\n` : '';
  if (res === null) {
    ctx.socket.end(`HTTP/1.1 301 Moved Permanently\r\nLocation: ${location}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n`);
    return;
  }
  const headers = ['Location', location, 'Connection', 'close'];
  if (method === 'GET' || method === 'HEAD') headers.push('Content-Type', 'text/html; charset=utf-8');
  headers.push('Content-Length', String(Buffer.byteLength(body)));
  ctx.respBytes = Buffer.byteLength(body);
  res.writeHead(301, headers);
  res.end(body);
}

function escapeAttr(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}
