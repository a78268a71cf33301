// A request path as Go's net/http hands it to kamal-proxy's request log
// (r.URL.Path): every %XX replaced by the byte it names, the bytes read as
// UTF-8 (invalid sequences become U+FFFD, as Go's JSON encoder writes them).
// A malformed escape, which Go's server refuses with a 400, leaves the path
// as it came.
export function goPathUnescape(path: string): string {
  if (!path.includes('%')) return path;
  const bytes = Buffer.from(path, 'utf8');
  const out = Buffer.allocUnsafe(bytes.length);
  let n = 0;
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i]!;
    if (b !== 37 /* % */) {
      out[n++] = b;
      continue;
    }
    const hi = hexValue(bytes[i + 1]);
    const lo = hexValue(bytes[i + 2]);
    if (hi < 0 || lo < 0) return path;
    out[n++] = hi * 16 + lo;
    i += 2;
  }
  return out.toString('utf8', 0, n);
}

function hexValue(c: number | undefined): number {
  if (c === undefined) return -1; // past the end
  if (c >= 48 && c <= 57) return c - 48;
  if (c >= 65 && c <= 70) return c - 55;
  if (c >= 97 && c <= 102) return c - 87;
  return -1;
}

// Whether a request target's path (before any "?") has a "%" not followed by
// two hex digits: Go's server answers such a request 400 (url.ParseRequestURI
// fails with "invalid URL escape"), so kamal-proxy's apps never see one.
export function hasMalformedEscape(url: string): boolean {
  let i = url.indexOf('%');
  if (i === -1) return false;
  const end = url.indexOf('?');
  const pathEnd = end === -1 ? url.length : end;
  while (i !== -1 && i < pathEnd) {
    if (i + 2 >= pathEnd || hexValue(url.charCodeAt(i + 1)) < 0 || hexValue(url.charCodeAt(i + 2)) < 0) return true;
    i = url.indexOf('%', i + 3);
  }
  return false;
}
