// The per-request log line, with kamal-proxy's field names and order, written
// straight into the logger's byte buffer piece by piece: a string per line
// cost more in scavenges than the formatting itself.
import type { RequestContext } from '../http/context.ts';
import type { LineBuffer } from '../log/line-buffer.ts';
import { log } from '../log/logger.ts';
import { rawHeader } from '../http/headers.ts';
import { goPathUnescape } from '../util/go-path-unescape.ts';

const key = (name: string): Buffer => Buffer.from(`,"${name}":`);
const HOST = key('host');
const PORT = key('port');
const PATH = key('path');
const REQUEST_ID = key('request_id');
const STATUS = key('status');
const SERVICE = key('service');
const TARGET = key('target');
const DURATION = key('duration');
const METHOD = key('method');
const REQ_CONTENT_LENGTH = key('req_content_length');
const REQ_CONTENT_TYPE = key('req_content_type');
const RESP_CONTENT_LENGTH = key('resp_content_length');
const RESP_CONTENT_TYPE = key('resp_content_type');
const CLIENT_ADDR = key('client_addr');
const CLIENT_PORT = key('client_port');
const REMOTE_ADDR = key('remote_addr');
const USER_AGENT = key('user_agent');
const PROTO = key('proto');
const SCHEME = key('scheme');
const QUERY = key('query');
const CACHE = key('cache'); // hit, miss or bypass, as Thruster logs it
const RESP_ENCODING = key('resp_encoding');
const RESP_UNCOMPRESSED_LENGTH = key('resp_uncompressed_length');
const QUOTE = Buffer.from('"');
const EMPTY_STRING = Buffer.from('""');
// `"HTTP/1.1"` and the like, one per version seen: "1.0", "1.1", "2.0".
const protos = new Map<string, Buffer>();
const proto = (version: string): Buffer => {
  let b = protos.get(version);
  if (b === undefined) protos.set(version, (b = Buffer.from(JSON.stringify(`HTTP/${version}`))));
  return b;
};

export function logRequest(ctx: RequestContext): void {
  log.infoWith('Request', writeRequest, ctx);
}

export function writeRequest(out: LineBuffer, ctx: RequestContext): void {
  const req = ctx.req;
  const h = req.headers;
  const status = ctx.loggedStatus;
  const cl = h['content-length'];
  str(out, HOST, h.host ?? '');
  num(out, PORT, ctx.port);
  str(out, PATH, goPathUnescape(ctx.path)); // decoded, as Go's r.URL.Path
  str(out, REQUEST_ID, ctx.requestId);
  num(out, STATUS, status);
  str(out, SERVICE, ctx.serviceName);
  str(out, TARGET, ctx.target);
  num(out, DURATION, Math.round((performance.now() - ctx.startedAt) * 1e6));
  str(out, METHOD, req.method ?? '');
  // Go's r.ContentLength: 0 for a request without a body, -1 for one of
  // unknown length (chunked, or an HTTP/2 stream without Content-Length).
  num(out, REQ_CONTENT_LENGTH, cl !== undefined ? Number(cl) || 0 : ctx.body === null ? 0 : -1);
  str(out, REQ_CONTENT_TYPE, h['content-type'] ?? '');
  num(out, RESP_CONTENT_LENGTH, ctx.respBytes);
  str(out, RESP_CONTENT_TYPE, ctx.respContentType);
  str(out, CLIENT_ADDR, ctx.clientAddr);
  // kamal-proxy logs the port as a string, and "" when there is none.
  out.bytes(CLIENT_PORT);
  if (ctx.clientPort) {
    out.bytes(QUOTE);
    out.int(ctx.clientPort);
    out.bytes(QUOTE);
  } else out.bytes(EMPTY_STRING);
  str(out, REMOTE_ADDR, remoteAddr(ctx));
  str(out, USER_AGENT, h['user-agent'] ?? '');
  out.bytes(PROTO);
  out.bytes(proto(req.httpVersion));
  str(out, SCHEME, ctx.scheme);
  str(out, QUERY, ctx.search, 1); // without its "?"
  for (const f of fieldsFor('req_', ctx.logRequestHeaders)) {
    out.bytes(f.key);
    writeHeader(out, h[f.header]);
  }
  for (const f of fieldsFor('resp_', ctx.logResponseHeaders)) {
    out.bytes(f.key);
    writeHeader(out, ctx.respHeaders?.[f.header]);
  }
  // Ours, after kamal-proxy's fields, and only for a service with
  // --http-cache, so other lines stay exactly kamal-proxy's.
  if (ctx.httpCache !== null) str(out, CACHE, ctx.httpCache.status);
  // Only for a compressed body: resp_content_length is its size on the wire.
  const compression = ctx.compression;
  if (compression !== null) {
    str(out, RESP_ENCODING, compression.coding);
    num(out, RESP_UNCOMPRESSED_LENGTH, compression.bytesIn);
  }
}

// X-Forwarded-For as kamal-proxy logs it (Go's Header.Get: the first of
// repeated headers, which Node joins with ", "), after --client-ip-header;
// the client's own address without one.
function remoteAddr(ctx: RequestContext): string {
  if (ctx.forwardedFor !== null) return ctx.forwardedFor;
  const xff = ctx.req.headers['x-forwarded-for'];
  if (!xff) return ctx.clientAddr;
  const joined = String(xff);
  return joined.includes(',') ? rawHeader(ctx.req.rawHeaders, 'x-forwarded-for') || ctx.clientAddr : joined;
}

function str(out: LineBuffer, key: Buffer, value: string, from = 0): void {
  out.bytes(key);
  out.jsonString(value, from);
}

function num(out: LineBuffer, key: Buffer, value: number): void {
  out.bytes(key);
  out.int(value);
}

function writeHeader(out: LineBuffer, v: string | string[] | undefined): void {
  if (v === undefined) out.bytes(EMPTY_STRING);
  else out.jsonString(Array.isArray(v) ? v.join(',') : String(v));
}

// `,"req_cache_control":` and `cache-control` for Cache-Control, worked out
// once per service's header list rather than once per request.
interface Field {
  key: Buffer;
  header: string;
}
const cache = { req_: new WeakMap<readonly string[], Field[]>(), resp_: new WeakMap<readonly string[], Field[]>() };
function fieldsFor(kind: 'req_' | 'resp_', names: readonly string[]): Field[] {
  let fields = cache[kind].get(names);
  if (fields === undefined) {
    fields = names.map((name) => {
      const header = name.toLowerCase();
      return { key: Buffer.from(`,${JSON.stringify(kind + header.replaceAll('-', '_'))}:`), header };
    });
    cache[kind].set(names, fields);
  }
  return fields;
}
