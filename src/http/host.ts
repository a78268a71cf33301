// The host a request names (Host header, HTTP/2 :authority, absolute-form
// target) and host names as keys.
import { isIPv6 } from 'node:net';

// reg-name characters: unreserved and sub-delims (pct-encoded is checked apart).
const REG_NAME = new Uint8Array(128);
for (const c of 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~!$&\'()*+,;=') REG_NAME[c.charCodeAt(0)] = 1;

const COLON = 58;
const DOT = 46;
const PERCENT = 37;
const OPEN_BRACKET = 91;

// RFC 3986 host [ ":" port ]: a reg-name (IPv4 included) or an [IPv6]
// literal, and digits. Anything else (userinfo `a@b`, a path, spaces) is
// refused: the router would route `web.test:80@evil.test` as web.test while
// the app builds its URLs from the whole string. An empty value is valid
// (RFC 9112 §3.2: no authority; the catch-all service answers it).
export function isValidHost(value: string): boolean {
  const n = value.length;
  let i = 0;
  if (n > 0 && value.charCodeAt(0) === OPEN_BRACKET) {
    const close = value.indexOf(']');
    if (close === -1 || !isIPv6(value.slice(1, close))) return false;
    i = close + 1;
  } else {
    for (; i < n; i++) {
      const c = value.charCodeAt(i);
      if (c < 128 && REG_NAME[c] === 1) continue;
      if (c === PERCENT && isHex(value.charCodeAt(i + 1)) && isHex(value.charCodeAt(i + 2))) {
        i += 2;
        continue;
      }
      break;
    }
    // A port needs a host in front of it.
    if (i === 0 && n > 0) return false;
  }
  if (i === n) return true;
  if (value.charCodeAt(i) !== COLON) return false;
  for (i++; i < n; i++) {
    const c = value.charCodeAt(i);
    if (c < 48 || c > 57) return false;
  }
  return true;
}

function isHex(c: number): boolean {
  return (c >= 48 && c <= 57) || ((c | 32) >= 97 && (c | 32) <= 102);
}

// An absolute-form request target (RFC 9112 §3.2.2), `http://host/path?q`,
// split into its authority and its origin-form remainder; null when it is not
// an http(s) URI with a non-empty authority (RFC 9110 §4.2.1).
export function splitAbsoluteForm(target: string): { authority: string; originForm: string } | null {
  const sep = target.indexOf('://');
  if (sep === -1) return null;
  const scheme = target.slice(0, sep).toLowerCase();
  if (scheme !== 'http' && scheme !== 'https') return null;
  const start = sep + 3;
  let end = start;
  while (end < target.length && target.charCodeAt(end) !== 47 /* / */ && target.charCodeAt(end) !== 63 /* ? */) end++;
  if (end === start) return null;
  const rest = target.slice(end);
  return { authority: target.slice(start, end), originForm: rest.charCodeAt(0) === 47 ? rest : `/${rest}` };
}

// A header name that is `host` in any case, without a lower-cased copy.
export function isHostName(name: string): boolean {
  return (
    name.length === 4 &&
    (name.charCodeAt(0) | 32) === 104 &&
    (name.charCodeAt(1) | 32) === 111 &&
    (name.charCodeAt(2) | 32) === 115 &&
    (name.charCodeAt(3) | 32) === 116
  );
}

// Host names as keys (routing table, certificates, challenges): lower case,
// no IPv6 brackets, no trailing dot, so "Example.COM." is "example.com".
// kamal-proxy compares hosts byte for byte; we do not, on purpose.

// A configured host (--host, the state file) or a TLS server name (Go's
// autocert normalises those the same way).
export function hostKey(name: string): string {
  let host = name.trim().toLowerCase();
  if (host.length > 2 && host.charCodeAt(0) === OPEN_BRACKET && host.endsWith(']')) host = host.slice(1, -1);
  return dropTrailingDot(host);
}

// The Host header (or :authority) as the same key, its port dropped. Runs on
// every request, so no trim and no regex. More than one colon outside
// brackets is a bare IPv6 address: left alone, as Go does.
export function requestHostKey(header: string | undefined): string {
  if (!header) return '';
  let host = header;
  if (host.charCodeAt(0) === OPEN_BRACKET) {
    const end = host.indexOf(']');
    if (end > 0) host = host.slice(1, end);
  } else {
    const colon = host.indexOf(':');
    if (colon >= 0 && host.indexOf(':', colon + 1) < 0) host = host.slice(0, colon);
  }
  return dropTrailingDot(host).toLowerCase();
}

// The Host header without its port, brackets and case kept, as a URL or a
// cookie's Domain spells it (a redirect's Location, --scope-cookie-paths).
export function hostWithoutPort(header: string): string {
  if (header.charCodeAt(0) === OPEN_BRACKET) {
    const end = header.indexOf(']');
    return end === -1 ? header : header.slice(0, end + 1);
  }
  const colon = header.lastIndexOf(':');
  return colon === -1 ? header : header.slice(0, colon);
}

// Configured hosts as keys, deduped; none means the catch-all [""].
export function normalizeHosts(hosts: readonly string[]): string[] {
  const result: string[] = [];
  for (const raw of hosts) {
    const host = hostKey(raw);
    if (!result.includes(host)) result.push(host);
  }
  return result.length === 0 ? [''] : result;
}

function dropTrailingDot(host: string): string {
  return host.length > 1 && host.charCodeAt(host.length - 1) === DOT ? host.slice(0, -1) : host;
}
