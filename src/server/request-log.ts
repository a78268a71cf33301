// The per-request log line, with kamal-proxy's field names and order. This is
// the proxy's largest fixed cost after the upstream exchange itself, so it is
// written straight into the logger's byte buffer, piece by piece, without a
// string for the line or for its values: building it as a string allocated
// 2.3 KB per request, and the extra scavenges that caused cost more than the
// formatting (bench/README.md, "The request log").
import type { RequestContext } from '../http/context.ts';
import type { LineBuffer } from '../log/line-buffer.ts';
import { log } from '../log/logger.ts';

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
  const status = ctx.status !== 0 ? ctx.status : ctx.res !== null ? ctx.res.statusCode : 0;
  const cl = h['content-length'];
  const xff = h['x-forwarded-for'];
  out.bytes(HOST);
  out.jsonString(h.host ?? '');
  out.bytes(PORT);
  out.int(ctx.port);
  out.bytes(PATH);
  out.jsonString(ctx.path);
  out.bytes(REQUEST_ID);
  out.jsonString(ctx.requestId);
  out.bytes(STATUS);
  out.int(status);
  out.bytes(SERVICE);
  out.jsonString(ctx.serviceName);
  out.bytes(TARGET);
  out.jsonString(ctx.target);
  out.bytes(DURATION);
  out.int(Math.round((performance.now() - ctx.startedAt) * 1e6));
  out.bytes(METHOD);
  out.jsonString(req.method ?? '');
  out.bytes(REQ_CONTENT_LENGTH);
  out.int(cl === undefined ? -1 : Number(cl) || 0);
  out.bytes(REQ_CONTENT_TYPE);
  out.jsonString(h['content-type'] ?? '');
  out.bytes(RESP_CONTENT_LENGTH);
  out.int(ctx.respBytes);
  out.bytes(RESP_CONTENT_TYPE);
  out.jsonString(ctx.respContentType);
  out.bytes(CLIENT_ADDR);
  out.jsonString(ctx.clientAddr);
  // kamal-proxy logs the port as a string, and "" when there is none.
  out.bytes(CLIENT_PORT);
  if (ctx.clientPort) {
    out.bytes(QUOTE);
    out.int(ctx.clientPort);
    out.bytes(QUOTE);
  } else out.bytes(EMPTY_STRING);
  out.bytes(REMOTE_ADDR);
  out.jsonString(xff ? String(xff) : ctx.clientAddr);
  out.bytes(USER_AGENT);
  out.jsonString(h['user-agent'] ?? '');
  out.bytes(PROTO);
  out.bytes(proto(req.httpVersion));
  out.bytes(SCHEME);
  out.jsonString(ctx.scheme);
  out.bytes(QUERY);
  out.jsonString(ctx.search, 1); // without its "?"
  for (const f of fieldsFor('req_', ctx.logRequestHeaders)) {
    out.bytes(f.key);
    writeHeader(out, h[f.header]);
  }
  for (const f of fieldsFor('resp_', ctx.logResponseHeaders)) {
    out.bytes(f.key);
    writeHeader(out, ctx.respHeaders?.[f.header]);
  }
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
