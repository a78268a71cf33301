// Whether a response is compressed, and its head when it is. A response is
// left alone when compressing would break it or gain nothing: a body coded
// already, `Cache-Control: no-transform`, a partial one (206, or any answer
// to a Range request: its byte offsets are the identity body's), no body
// (204, 304), a type that does not compress (compressible.ts), a known length
// under COMPRESS_MIN_BYTES. Every other response varies with Accept-Encoding
// and says so in Vary, compressed or not, so a cache on the way never hands
// a compressed copy to a client that did not ask for one. HEAD gets the head
// GET would get (RFC 9110 §9.3.2), without a compressor.
//
// BREACH (reading a secret out of compressed sizes) needs a page that holds
// both the secret and text the attacker chooses, and a victim's browser made
// to request it many times from another site, with its cookies. A random
// padding does not stop it, only makes it ask more often; and not compressing
// any request with a cookie gives up compression for every signed-in page.
// Browsers say where a request comes from (Sec-Fetch-Site, Fetch Metadata),
// so what we refuse is exactly the attack's shape: a cross-site request that
// carries credentials gets its response uncompressed. Except a navigation the
// user made (Sec-Fetch-User: ?1, a click on a link from a search result):
// each takes a gesture, so an attacker cannot repeat it by the thousand. A
// browser too old to send the headers is left to the app's own defence (Rails
// masks its CSRF token afresh in every response).
import * as d from '../config/defaults.ts';
import type { RequestContext } from '../http/context.ts';
import type { ResponseHead } from '../http/response-sink.ts';
import { chooseCoding } from './accept-encoding.ts';
import type { Coding } from './accept-encoding.ts';
import { isCompressible } from './compressible.ts';

export interface CompressionPlan {
  head: ResponseHead; // the head to send on
  coding: Coding | null; // null: the body passes as it is
  hasBody: boolean; // false: headers only (HEAD)
}

export function planCompression(head: ResponseHead, ctx: RequestContext): CompressionPlan {
  const req = ctx.req;
  const hasBody = req.method !== 'HEAD';
  if (!varies(head, ctx)) return { head, coding: null, hasBody };
  const coding = crossSiteWithCredentials(ctx) ? null : chooseCoding(req.headers['accept-encoding']);
  const headers = withVary(head.headers);
  if (coding === null) return { head: { ...head, headers }, coding: null, hasBody };
  const out: string[] = [];
  for (let i = 0; i < headers.length; i += 2) {
    const name = headers[i]!.toLowerCase();
    // The compressed body's length is unknown until its end, and ranges of
    // the identity body do not apply to it.
    // (A Content-Encoding here can only be `identity`, which ours replaces.)
    if (name === 'content-length' || name === 'accept-ranges' || name === 'content-encoding') continue;
    // Another body: not byte for byte the one a strong ETag promised.
    if (name === 'etag') out.push(headers[i]!, weakETag(headers[i + 1]!));
    else out.push(headers[i]!, headers[i + 1]!);
  }
  out.push('Content-Encoding', coding);
  return { head: { ...head, headers: out, contentLength: -1 }, coding, hasBody };
}

// The response is one Accept-Encoding decides the coding of.
function varies(head: ResponseHead, ctx: RequestContext): boolean {
  const status = head.status;
  if (status === 206 || status === 204 || status === 304 || status < 200) return false;
  if (head.contentLength >= 0 && head.contentLength < d.COMPRESS_MIN_BYTES) return false;
  if (!isCompressible(head.contentType)) return false;
  if (ctx.req.headers.range !== undefined) return false;
  const h = head.headers;
  for (let i = 0; i < h.length; i += 2) {
    const name = h[i]!.toLowerCase();
    if (name === 'content-encoding' && h[i + 1]!.trim().toLowerCase() !== 'identity') return false;
    if (name === 'cache-control' && /(?:^|[\s,])no-transform\s*(?:$|,)/i.test(h[i + 1]!)) return false;
  }
  return true;
}

function crossSiteWithCredentials(ctx: RequestContext): boolean {
  const h = ctx.req.headers;
  return h['sec-fetch-site'] === 'cross-site' && h['sec-fetch-user'] !== '?1' && (h.cookie !== undefined || h.authorization !== undefined);
}

// Accept-Encoding joins the Vary the app sent (a `*` or a listed one stays).
export function withVary(headers: readonly string[]): string[] {
  let at = -1;
  for (let i = 0; i < headers.length; i += 2) {
    if (headers[i]!.toLowerCase() !== 'vary') continue;
    for (const token of headers[i + 1]!.split(',')) {
      const t = token.trim().toLowerCase();
      if (t === '*' || t === 'accept-encoding') return [...headers];
    }
    if (at === -1) at = i;
  }
  const out = [...headers];
  if (at === -1) out.push('Vary', 'Accept-Encoding');
  else out[at + 1] = out[at + 1]!.trim() === '' ? 'Accept-Encoding' : `${out[at + 1]}, Accept-Encoding`;
  return out;
}

export function weakETag(etag: string): string {
  const t = etag.trimStart();
  return t.startsWith('W/') ? etag : `W/${t}`;
}
