// The per-request log line, with kamal-proxy's field names and order. Built as
// JSON text directly: this runs once per request and is the proxy's largest
// fixed cost after the upstream exchange itself.
import type { RequestContext } from '../http/context.ts';
import { log } from '../log/logger.ts';

const str = JSON.stringify;

export function logRequest(ctx: RequestContext): void {
  const req = ctx.req;
  const h = req.headers;
  const status = ctx.status !== 0 ? ctx.status : ctx.res !== null ? ctx.res.statusCode : 0;
  const cl = h['content-length'];
  const clientAddr = ctx.clientAddr;
  const xff = h['x-forwarded-for'];
  let line =
    `,"host":${str(h.host ?? '')},"port":${ctx.port},"path":${str(ctx.path)},"request_id":${str(ctx.requestId)}` +
    `,"status":${status},"service":${str(ctx.serviceName)},"target":${str(ctx.target)}` +
    `,"duration":${Math.round((performance.now() - ctx.startedAt) * 1e6)},"method":${str(req.method ?? '')}` +
    `,"req_content_length":${cl === undefined ? -1 : Number(cl) || 0},"req_content_type":${str(h['content-type'] ?? '')}` +
    `,"resp_content_length":${ctx.respBytes},"resp_content_type":${str(ctx.respContentType)}` +
    `,"client_addr":${str(clientAddr)},"client_port":"${ctx.clientPort || ''}"` +
    `,"remote_addr":${str(xff ? String(xff) : clientAddr)},"user_agent":${str(h['user-agent'] ?? '')}` +
    `,"proto":"HTTP/${req.httpVersion}","scheme":"${ctx.scheme}","query":${str(ctx.search.slice(1))}`;
  for (const f of fieldsFor('req_', ctx.logRequestHeaders)) line += f.key + str(joined(h[f.header]));
  for (const f of fieldsFor('resp_', ctx.logResponseHeaders)) line += f.key + str(joined(ctx.respHeaders?.[f.header]));
  log.infoRaw('Request', line);
}

function joined(v: string | string[] | undefined): string {
  if (v === undefined) return '';
  return Array.isArray(v) ? v.join(',') : String(v);
}

// `,"req_cache_control":` and `cache-control` for Cache-Control, worked out
// once per service's header list rather than once per request.
interface Field {
  key: string;
  header: string;
}
const cache = { req_: new WeakMap<readonly string[], Field[]>(), resp_: new WeakMap<readonly string[], Field[]>() };
function fieldsFor(kind: 'req_' | 'resp_', names: readonly string[]): Field[] {
  let fields = cache[kind].get(names);
  if (fields === undefined) {
    fields = names.map((name) => {
      const header = name.toLowerCase();
      return { key: `,${str(kind + header.replaceAll('-', '_'))}:`, header };
    });
    cache[kind].set(names, fields);
  }
  return fields;
}
