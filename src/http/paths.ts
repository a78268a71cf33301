// Request paths against configured path prefixes: normalising a prefix,
// matching whole segments, and stripping the matched prefix from the raw
// path the upstream sees.

export const ROOT = '/';
const SLASH = 47; // '/'

// "/" + the non-empty segments joined by "/": "" -> "/", "api/" -> "/api",
// "/a//b/" -> "/a/b". Deduped; no prefixes means ["/"].
export function normalizePathPrefixes(prefixes: readonly string[]): string[] {
  const result: string[] = [];
  for (const raw of prefixes) {
    const prefix = ROOT + raw.split('/').filter((segment) => segment !== '').join('/');
    if (!result.includes(prefix)) result.push(prefix);
  }
  return result.length === 0 ? [ROOT] : result;
}

// The path the upstream sees once `prefix` (as matched by lookup) is removed:
// "/app/show" - "/app" => "/show", "/app" => "/", prefix "/" => unchanged.
// Works on the raw (still percent-encoded) path so the rest of it is
// forwarded byte for byte; a query string, if present, is kept as is.
// Returns rawPath unchanged if it does not start with the prefix.
export function stripPathPrefix(rawPath: string, prefix: string): string {
  if (prefix === ROOT || prefix === '') return rawPath;

  const q = rawPath.indexOf('?');
  const path = q < 0 ? rawPath : rawPath.slice(0, q);
  const query = q < 0 ? '' : rawPath.slice(q);

  let rest: string | null;
  if (prefixMatches(path, prefix)) {
    rest = path.slice(prefix.length);
  } else {
    rest = restAfterEncodedPrefix(path, prefix);
    if (rest === null) return rawPath;
  }
  return (rest === '' ? ROOT : rest) + query;
}

export function safeDecode(s: string): string | null {
  try {
    return decodeURIComponent(s);
  } catch {
    return null;
  }
}

// Whole-segment prefix check, equivalent to kamal-proxy's "add a trailing
// slash to both, then HasPrefix": "/app" matches "/app" and "/app/x" but not
// "/appointment". Prefixes are normalised, so only "/" ends in a slash.
export function prefixMatches(path: string, prefix: string): boolean {
  if (prefix === ROOT) return true;
  return (
    path.startsWith(prefix) &&
    (path.length === prefix.length || path.charCodeAt(prefix.length) === SLASH)
  );
}

// lookup() matched the decoded path, but the raw path spells the prefix with
// escapes ("/%61pp/show" for "/app"). Find the raw cut point, at a '/' or an
// encoded "%2F" or the end, whose decoded head is exactly the prefix.
function restAfterEncodedPrefix(path: string, prefix: string): string | null {
  for (let i = 1; i <= path.length; i++) {
    const encodedSlash = isEncodedSlashAt(path, i);
    if (i < path.length && path.charCodeAt(i) !== SLASH && !encodedSlash) continue;
    if (safeDecode(path.slice(0, i)) !== prefix) continue;
    // An encoded slash right after the prefix is the segment boundary the
    // match relied on; the upstream path must still start with a real '/'.
    return encodedSlash ? ROOT + path.slice(i + 3) : path.slice(i);
  }
  return null;
}

function isEncodedSlashAt(path: string, i: number): boolean {
  return (
    path.charCodeAt(i) === 37 /* % */ &&
    path.charCodeAt(i + 1) === 50 /* 2 */ &&
    (path.charCodeAt(i + 2) | 0x20) === 102 /* f or F */
  );
}
