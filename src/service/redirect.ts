// HTTP -> HTTPS and canonical-host redirects, combined into one 301 hop as
// kamal-proxy does. The port is dropped from the Location.
import type { RequestContext } from '../http/context.ts';
import { sendResponse } from '../http/respond.ts';
import { escapeHtmlBasic } from '../pages/escape-html.ts';
import { CONTENT_TYPE_HTML } from '../pages/pages.ts';
import { hostWithoutPort } from '../http/host.ts';
import type { ServiceOptions } from '../config/service-options.ts';

export function redirectLocation(ctx: RequestContext, o: ServiceOptions): string | null {
  const wantHttps = o.tlsEnabled && o.tlsRedirect && ctx.scheme === 'http';
  const host = hostWithoutPort(ctx.req.headers.host ?? '');
  const wantHost = o.canonicalHost !== '' && host.toLowerCase() !== o.canonicalHost.toLowerCase() ? o.canonicalHost : null;
  if (!wantHttps && wantHost === null) return null;
  return `${wantHttps ? 'https' : ctx.scheme}://${wantHost ?? host}${ctx.req.url ?? '/'}`;
}

export function sendRedirect(ctx: RequestContext, location: string): void {
  const method = ctx.req.method;
  // Go's http.Redirect: a body for GET (and its length for HEAD) only.
  const html = method === 'GET' || method === 'HEAD';
  const body = method === 'GET' ? `<a href="${escapeHtmlBasic(location)}">Moved Permanently</a>.\n\n` : '';
  sendResponse(ctx, 301, html ? CONTENT_TYPE_HTML : '', body, ['Location', location, 'Connection', 'close']);
}
