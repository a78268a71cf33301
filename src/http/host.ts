// The syntax of the host a request names, in its Host header, its HTTP/2
// :authority or its absolute-form target: RFC 3986 host [ ":" port ], where
// host is a reg-name (which covers IPv4 literals) or an [IPv6] literal and
// port is digits. Anything else (userinfo `a@b`, a path, spaces) is refused:
// an app builds its own URLs from this value (password-reset links, cached
// pages), and the router would otherwise route `web.test:80@evil.test` as
// web.test while the app sees the whole string.
import { isIPv6 } from 'node:net';

// reg-name characters: unreserved and sub-delims (pct-encoded is checked apart).
const REG_NAME = new Uint8Array(128);
for (const c of 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~!$&\'()*+,;=') REG_NAME[c.charCodeAt(0)] = 1;

const COLON = 58;
const PERCENT = 37;
const OPEN_BRACKET = 91;

// An empty value is valid: RFC 9112 §3.2 has a client send an empty Host
// when the target has no authority (the catch-all service answers it).
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
