// --scope-cookie-paths: an app mounted under a path prefix (with the prefix
// stripped) sets cookies for paths it believes start at "/". Each Set-Cookie
// for this host (no Domain, or Domain equal to the request host) gets its
// Path moved under the prefix: "/" -> "/api", "/admin" -> "/api/admin".
// The header is edited in place rather than re-serialised, so every other
// attribute stays exactly as the app wrote it.
import { hostWithoutPort } from './host.ts';

// service/redirect.ts still imports it from here.

export function scopeSetCookie(setCookie: string, prefix: string, requestHost: string): string {
  const parts = setCookie.split(';');
  let pathIndex = -1;
  let domain = '';
  for (let i = 1; i < parts.length; i++) {
    const part = parts[i]!.trim();
    const eq = part.indexOf('=');
    const name = (eq === -1 ? part : part.slice(0, eq)).toLowerCase();
    const value = eq === -1 ? '' : part.slice(eq + 1).trim();
    if (name === 'path') pathIndex = i;
    else if (name === 'domain') domain = value.replace(/^\./, '').toLowerCase();
  }
  if (domain !== '' && domain !== hostWithoutPort(requestHost).toLowerCase()) return setCookie;
  const oldPath = pathIndex === -1 ? '' : parts[pathIndex]!.trim().slice(parts[pathIndex]!.trim().indexOf('=') + 1).trim();
  const scoped = ` Path=${joinPath(prefix, oldPath)}`;
  if (pathIndex === -1) parts.push(scoped);
  else parts[pathIndex] = scoped;
  return parts.join(';');
}

function joinPath(prefix: string, path: string): string {
  if (path === '' || path === '/') return prefix;
  return prefix.replace(/\/$/, '') + (path.startsWith('/') ? path : `/${path}`);
}
