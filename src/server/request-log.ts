// The per-request log line, with kamal-proxy's field names and order. Built as
// JSON text directly: this runs once per request and is the proxy's largest
// fixed cost after the upstream exchange itself.
import type { Socket } from 'node:net';
import type { RequestContext } from '../http/context.ts';
import { log } from '../log/logger.ts';

const str = JSON.stringify;

export function logRequest(ctx: RequestContext): void {
  const req = ctx.req;
  const h = req.headers;
  const status = ctx.status !== 0 ? ctx.status : ctx.res !== null ? ctx.res.statusCode : 0;
  const cl = h['content-length'];
  const socket = ctx.socket as Socket; // req.socket is gone once a keep-alive response has ended
  const clientAddr = socket.remoteAddress ?? '';
  const xff = h['x-forwarded-for'];
  let line =
    `,"host":${str(h.host ?? '')},"port":${ctx.port},"path":${str(ctx.path)},"request_id":${str(ctx.requestId)}` +
    `,"status":${status},"service":${str(ctx.serviceName)},"target":${str(ctx.target)}` +
    `,"duration":${process.hrtime.bigint() - ctx.startedAt},"method":${str(req.method ?? '')}` +
    `,"req_content_length":${cl === undefined ? -1 : Number(cl) || 0},"req_content_type":${str(h['content-type'] ?? '')}` +
    `,"resp_content_length":${ctx.respBytes},"resp_content_type":${str(ctx.respContentType)}` +
    `,"client_addr":${str(clientAddr)},"client_port":${str(String(socket.remotePort ?? ''))}` +
    `,"remote_addr":${str(xff ? String(xff) : clientAddr)},"user_agent":${str(h['user-agent'] ?? '')}` +
    `,"proto":"HTTP/${req.httpVersion}","scheme":"${ctx.scheme}","query":${str(ctx.search.slice(1))}`;
  for (const name of ctx.logRequestHeaders) line += `,${str('req_' + fieldName(name))}:${str(joined(h[name.toLowerCase()]))}`;
  for (const name of ctx.logResponseHeaders) {
    line += `,${str('resp_' + fieldName(name))}:${str(joined(ctx.respHeaders?.[name.toLowerCase()]))}`;
  }
  log.infoRaw('Request', line);
}

function fieldName(header: string): string {
  return header.toLowerCase().replaceAll('-', '_');
}

function joined(v: string | string[] | undefined): string {
  if (v === undefined) return '';
  return Array.isArray(v) ? v.join(',') : String(v);
}
