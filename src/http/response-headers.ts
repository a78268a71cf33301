// Changes the proxy makes to an upstream response's headers, applied only
// when the service asked for one (ctx.adjustResponse), so the common path
// pays nothing: Set-Cookie path scoping and the writer-affinity cookie.
import type { RequestContext } from './context.ts';
import { scopeSetCookie } from './cookie-scope.ts';

export const WRITER_COOKIE = 'kamal-writer';

export function adjustResponseHeaders(ctx: RequestContext, headers: string[]): string[] {
  const out: string[] = [];
  let affinity = true;
  for (let i = 0; i < headers.length; i += 2) {
    const name = headers[i]!;
    let value = headers[i + 1]!;
    const lower = name.toLowerCase();
    if (lower === 'x-writer-affinity' && ctx.stripWriterAffinity) {
      if (value.trim().toLowerCase() === 'false') affinity = false;
      continue;
    }
    if (lower === 'set-cookie' && ctx.cookieScopePrefix !== '') {
      value = scopeSetCookie(value, ctx.cookieScopePrefix, ctx.req.headers.host ?? '');
    }
    out.push(name, value);
  }
  if (affinity && ctx.writerAffinityMs > 0) out.push('Set-Cookie', writerCookie(Date.now() + ctx.writerAffinityMs));
  return out;
}

// Value: the expiry in Unix ms; Expires one second later, as kamal-proxy.
export function writerCookie(expiresMs: number): string {
  return `${WRITER_COOKIE}=${expiresMs}; Path=/; Expires=${new Date(expiresMs + 1000).toUTCString()}; HttpOnly`;
}
