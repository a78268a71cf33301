// Request headers sent upstream, from the client's raw header list, as Go's
// httputil.ReverseProxy under kamal-proxy: hop-by-hop headers (and those
// Connection names) dropped, the client's X-Forwarded-* dropped unless
// forward-headers trusts them, and X-Forwarded-*, X-Request-ID,
// X-Request-Start and X-Kamal-Target set.

// RFC 9110 §7.6.1 plus the legacy ones Go also strips. `expect` is not
// hop-by-hop, but Node already answered `100 Continue` to the client, and
// undici refuses to send it.
const DROPPED = new Set([
  'connection',
  'proxy-connection',
  'keep-alive',
  'proxy-authenticate',
  'proxy-authorization',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'expect',
]);

const FORWARDED = new Set(['forwarded', 'x-forwarded-for', 'x-forwarded-host', 'x-forwarded-proto']);

// Without forward-headers, a client's word on where the request came from
// is dropped: the X-Forwarded-* we set and the others apps trust (Rack's
// X-Forwarded-Ssl/-Scheme/-Port, Rails' Client-IP, nginx's X-Real-IP), each
// also spelt with `_` for any `-` (Rack reads X_FORWARDED_HOST as
// X-Forwarded-Host). Every spelling is in the set: one lookup per header.
const UNTRUSTED = new Set(
  [...FORWARDED, 'x-forwarded-ssl', 'x-forwarded-scheme', 'x-forwarded-port', 'x-real-ip', 'client-ip'].flatMap(spellings),
);

// `a-b-c`, `a_b-c`, `a-b_c` and `a_b_c`.
function spellings(name: string): string[] {
  const [first, ...rest] = name.split('-');
  return rest.reduce((all, part) => all.flatMap((s) => [`${s}-${part}`, `${s}_${part}`]), [first!]);
}

export interface UpstreamHeaderOptions {
  forwardHeaders: boolean; // trust and extend incoming X-Forwarded-*
  // --client-ip-header's value, in place of the client's X-Forwarded-For
  forwardedFor: string | null;
  clientIp: string;
  scheme: 'http' | 'https';
  requestId: string; // added when the client sent none
  requestStart: string; // `t=<unix ms>`, added when the client sent none
  target: string; // host:port of the chosen target
}

export function upstreamRequestHeaders(raw: readonly string[], o: UpstreamHeaderOptions): string[] {
  const out: string[] = [];
  let extraDropped: Set<string> | null = null;
  let xff = '';
  let xfh: string | null = null;
  let xfp: string | null = null;
  let host = '';
  let kamalTarget = '';
  let hasRequestId = false;
  let hasRequestStart = false;
  let hasHost = false;

  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!.toLowerCase();
    const value = raw[i + 1]!;
    if (name.charCodeAt(0) === 58 /* ':' */) {
      // HTTP/2 pseudo-headers; :authority becomes the upstream's Host.
      if (name === ':authority' && host === '') host = value;
      continue;
    }
    if (name === 'connection') {
      // Headers named in Connection are hop-by-hop too (RFC 9110 §7.6.1).
      for (const token of value.split(',')) {
        const t = token.trim().toLowerCase();
        if (t && t !== 'close' && t !== 'keep-alive' && t !== 'upgrade') (extraDropped ??= new Set()).add(t);
      }
      continue;
    }
    if (DROPPED.has(name)) continue;
    if (!o.forwardHeaders) {
      if (UNTRUSTED.has(name)) continue;
    } else if (FORWARDED.has(name)) {
      if (name === 'x-forwarded-for') {
        if (o.forwardedFor === null) xff = xff ? `${xff}, ${value}` : value;
      }
      else if (name === 'x-forwarded-host') xfh ??= value;
      else if (name === 'x-forwarded-proto') xfp ??= value;
      else out.push(raw[i]!, value); // Forwarded
      continue;
    }
    if (name === 'x-kamal-target') {
      if (o.forwardHeaders) kamalTarget = kamalTarget ? `${kamalTarget}, ${value}` : value;
      continue;
    }
    if (name === 'host') {
      host = value;
      hasHost = true;
    } else if (name === 'x-request-id') hasRequestId = true;
    else if (name === 'x-request-start') hasRequestStart = true;
    out.push(raw[i]!, value);
  }

  if (extraDropped !== null) {
    const kept: string[] = [];
    for (let i = 0; i < out.length; i += 2) {
      if (!extraDropped.has(out[i]!.toLowerCase())) kept.push(out[i]!, out[i + 1]!);
    }
    out.length = 0;
    out.push(...kept);
  }

  if (!hasHost && host !== '') out.push('Host', host);
  if (o.forwardHeaders && o.forwardedFor !== null) xff = o.forwardedFor;
  // No client address (the proxy's own on-demand TLS check): none, as Go sends none.
  const forwardedFor = xff && o.clientIp ? `${xff}, ${o.clientIp}` : xff || o.clientIp;
  if (forwardedFor !== '') out.push('X-Forwarded-For', forwardedFor);
  out.push('X-Forwarded-Host', xfh ?? host);
  out.push('X-Forwarded-Proto', xfp ?? o.scheme);
  if (!hasRequestId) out.push('X-Request-ID', o.requestId);
  if (!hasRequestStart) out.push('X-Request-Start', o.requestStart);
  out.push('X-Kamal-Target', kamalTarget ? `${kamalTarget}, ${o.target}` : o.target);
  return out;
}

// Response headers from undici's parsed object, minus hop-by-hop ones, as the
// flat [name, value, ...] list that res.writeHead accepts.
export function downstreamResponseHeaders(headers: Record<string, string | string[] | undefined>): string[] {
  const out: string[] = [];
  let extraDropped: Set<string> | null = null;
  const connection = headers.connection;
  // Almost every upstream says just `keep-alive` or `close`, which names no
  // other header: skip the token set then.
  if (connection !== undefined && connection !== 'keep-alive' && connection !== 'close') {
    for (const token of String(connection).split(',')) {
      const t = token.trim().toLowerCase();
      if (t) (extraDropped ??= new Set()).add(t);
    }
  }
  for (const name in headers) {
    if (DROPPED.has(name) || extraDropped?.has(name)) continue;
    const value = headers[name];
    if (value === undefined) continue;
    if (typeof value === 'string') out.push(name, value);
    else for (const v of value) out.push(name, v);
  }
  return out;
}

// The value of a header in a raw list, or undefined (first one wins).
export function rawHeader(raw: readonly string[], lowerName: string): string | undefined {
  for (let i = 0; i < raw.length; i += 2) {
    if (raw[i]!.length === lowerName.length && raw[i]!.toLowerCase() === lowerName) return raw[i + 1];
  }
  return undefined;
}

// Every value of a header in a raw list, or undefined when it is absent.
export function rawHeaderValues(raw: readonly string[], lowerName: string): string[] | undefined {
  let out: string[] | undefined;
  for (let i = 0; i < raw.length; i += 2) {
    if (raw[i]!.length === lowerName.length && raw[i]!.toLowerCase() === lowerName) (out ??= []).push(raw[i + 1]!);
  }
  return out;
}

// A raw list without the headers named (lower case).
export function withoutHeaders(raw: readonly string[], lowerNames: ReadonlySet<string>): string[] {
  const out: string[] = [];
  for (let i = 0; i < raw.length; i += 2) if (!lowerNames.has(raw[i]!.toLowerCase())) out.push(raw[i]!, raw[i + 1]!);
  return out;
}
