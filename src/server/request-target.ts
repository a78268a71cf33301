// Step 0 of the chain (handler-chain.ts): which host a request is for, and
// its target in origin-form, settled before anything routes or forwards it.
// Routing, the upstream's Host and X-Forwarded-Host, redirects, cookie
// scoping and the log all read req.headers.host and req.url afterwards, so
// they agree on one host, and an app never sees a host the router did not
// route by (RFC 9112 §3.2, RFC 9113 §8.3.1). A path with a malformed
// percent-escape gets 400, as Go's server gives it.
import type { IncomingHttpHeaders } from 'node:http';
import type { ProxyRequest } from '../http/proxy-request.ts';
import { isHostName, isValidHost, splitAbsoluteForm } from '../http/host.ts';
import { hasMalformedEscape } from '../util/go-path-unescape.ts';

const SLASH = 47;

// 0 when the request goes on, else the status to answer it with. For every
// request; node:http's pass http1Status first.
export function requestTargetStatus(req: ProxyRequest): number {
  const h = req.headers;
  const http2 = req.httpVersionMajor === 2;
  if (http2 && !useAuthority(h)) return 400;
  if (h.host !== undefined && !isValidHost(h.host)) return 400;
  const url = req.url ?? '/';
  if (url.charCodeAt(0) === SLASH || url === '*') return hasMalformedEscape(url) ? 400 : 0;
  // HTTP/2's :path is always origin-form (RFC 9113 §8.3.1).
  if (http2) return 400;
  return useAbsoluteForm(req, url) || (hasMalformedEscape(req.url!) ? 400 : 0);
}

// What the HTTP/1.1 fast path checks while it parses (a request that fails
// goes to node:http): an HTTP/1 major version, and exactly one Host line
// (none is allowed in HTTP/1.0). llhttp reads HTTP/0.9 and HTTP/2.0 request
// lines, and Node keeps only the first of several Host lines.
export function http1Status(req: ProxyRequest): number {
  if (req.httpVersionMajor !== 1) return 505;
  const raw = req.rawHeaders;
  let hosts = 0;
  for (let i = 0; i < raw.length; i += 2) if (isHostName(raw[i]!)) hosts++;
  return hosts > 1 || (hosts === 0 && req.httpVersionMinor !== 0) ? 400 : 0;
}

// HTTP/2 names the host in :authority; everything after reads Host. A Host
// field beside it must name the same one. (nghttp2 has already refused a
// request with neither, or with two Host fields.)
function useAuthority(h: IncomingHttpHeaders): boolean {
  const authority = h[':authority'] as string | undefined;
  if (authority === undefined) return true;
  const host = h.host;
  if (host === undefined) h.host = authority;
  else if (host !== authority && host.toLowerCase() !== authority.toLowerCase()) return false;
  return true;
}

// RFC 9112 §3.2.2: the authority of an absolute-form target replaces Host,
// and the request goes on as if it had come in origin-form with that Host.
function useAbsoluteForm(req: ProxyRequest, url: string): number {
  const parts = splitAbsoluteForm(url);
  if (parts === null || !isValidHost(parts.authority)) return 400;
  req.url = parts.originForm;
  req.headers.host = parts.authority;
  const raw = req.rawHeaders;
  let i = 0;
  while (i < raw.length && !isHostName(raw[i]!)) i += 2;
  if (i < raw.length) raw[i + 1] = parts.authority;
  else raw.push('Host', parts.authority); // HTTP/1.0 may have none
  return 0;
}
