// The request pipeline, written down once, outermost first:
//
//   0. request target  the host the request is for and its origin-form
//                      path (request-target.ts); 400 for a missing (HTTP/1.1),
//                      repeated or malformed Host, 505 for an HTTP/1 request
//                      line of another major version. Answered after 1-3, so
//                      it is logged like any other request.
//   1. request start   X-Request-Start: t=<unix ms>, unless the client sent one
//   2. request id      X-Request-ID, the client's or a new UUID
//   3. request log     one JSON line when the exchange closes (status 499 if
//                      the client left first; the upstream is then cancelled),
//                      and with --metrics-port the request's metrics
//   4. ACME HTTP-01    answers for certificates being issued (plain HTTP only,
//                      before any redirect; other paths fall through)
//   5. router          host and path lookup; 404 page when nothing matches;
//                      the service's in-flight gauge (unless the path is
//                      excluded from metrics)
//   6. service         its own steps, in order, are listed in service.ts:
//                      TLS check, redirects, pause/stop, balancer (503 when
//                      no target is healthy), affinity and cookie scoping
//   7. target          buffering, then the upstream exchange (502/504 on failure)
//
// Upgrades (WebSocket) take the same steps with the raw socket instead of a
// ServerResponse.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Http2ServerRequest, Http2ServerResponse } from 'node:http2';
import type { Duplex } from 'node:stream';
import { RequestContext } from '../http/context.ts';
import type { ClientPeer, ProxyRequest, RequestBody } from '../http/proxy-request.ts';
import type { ProxyResponse } from '../http/proxy-response.ts';
import { newRequestId } from '../http/request-id.ts';
import { stripPathPrefix } from '../http/paths.ts';
import type { HttpMetrics } from '../metrics/http-metrics.ts';
import { sendError, sendResponse } from '../http/respond.ts';
import type { Routes } from '../router/routes.ts';
import type { Service } from '../service/service.ts';
import type { NapGate } from '../nap/nap-gate.ts';
import { clientGone } from '../upstream/errors.ts';
import { logRequest } from './request-log.ts';
import { http1Status, requestTargetStatus } from './request-target.ts';
import { ACME_CHALLENGE_PATH_PREFIX, acmeChallengeToken } from '../tls/acme-challenges.ts';
import { goPathUnescape } from '../util/go-path-unescape.ts';

const kContext = Symbol('kamal-napper.context');

type WithContext = { [kContext]?: RequestContext };

export interface ListenerInfo {
  scheme: 'http' | 'https';
  port: number;
  metrics: HttpMetrics | null; // null: --metrics-port is off
}

// The fast paths' requests (HTTP/1.1 and HTTP/2): a body, if any, came whole.
export function handleFastRequest(router: Routes, listener: ListenerInfo, req: ProxyRequest, res: ProxyResponse, body: Buffer | null, peer: ClientPeer): void {
  serve(router, listener, req, res, body, peer, requestTargetStatus(req));
}

// Node's HTTP/2 compat requests: what the HTTP/2 fast path leaves to it. A
// stream whose HEADERS frame did not end it has a body (HTTP/2 has no
// Transfer-Encoding).
export function handleHttp2Request(router: Routes, listener: ListenerInfo, req: Http2ServerRequest, res: Http2ServerResponse): void {
  const body = req.headers['content-length'] !== undefined ? (req.headers['content-length'] !== '0' ? req : null) : req.stream.endAfterHeaders ? null : req;
  serve(router, listener, req, res, body, req.socket, requestTargetStatus(req));
}

// node:http's: whatever HTTP/1 the fast path left to it.
export function handleHttp1Request(router: Routes, listener: ListenerInfo, req: IncomingMessage, res: ServerResponse): void {
  const h = req.headers;
  const body = (h['content-length'] !== undefined ? h['content-length'] !== '0' : h['transfer-encoding'] !== undefined) ? req : null;
  const ctx = serve(router, listener, req, res, body, req.socket, http1Status(req) || requestTargetStatus(req));
  // So that a parse error in its body can still be answered for this request.
  (req.socket as WithContext)[kContext] = ctx;
  res.on('close', forgetSocket);
}

function serve(router: Routes, listener: ListenerInfo, req: ProxyRequest, res: ProxyResponse, body: RequestBody, peer: ClientPeer, targetStatus: number): RequestContext {
  const ctx = new RequestContext(req, res, body, null, peer, listener.scheme, listener.port);
  ctx.metrics = listener.metrics;
  begin(ctx);
  (res as WithContext)[kContext] = ctx;
  res.on('close', onResponseClose); // emitted once; on() skips once()'s wrapper
  if (targetStatus !== 0) sendError(ctx, targetStatus);
  else route(router, ctx);
  return ctx;
}

// Upgrades come through node:http only.
export function handleUpgrade(router: Routes, listener: ListenerInfo, req: IncomingMessage, socket: Duplex, head: Buffer): void {
  const targetStatus = http1Status(req) || requestTargetStatus(req);
  const ctx = new RequestContext(req, null, null, { socket, head }, req.socket, listener.scheme, listener.port);
  ctx.metrics = listener.metrics;
  begin(ctx);
  socket.once('close', () => {
    ctx.activity?.requestEnded();
    if (ctx.metrics !== null) requestEnded(ctx, ctx.metrics);
    logRequest(ctx);
  });
  socket.on('error', () => {}); // a reset client is logged through 'close'
  if (targetStatus !== 0) return sendError(ctx, targetStatus);
  route(router, ctx);
}

// The context of the request currently in flight on a node:http client
// socket, so a parse error in its body can still be answered for that request.
export function contextForSocket(socket: Duplex): RequestContext | undefined {
  const ctx = (socket as WithContext)[kContext];
  return ctx?.res?.writableEnded === false ? ctx : undefined;
}

function begin(ctx: RequestContext): void {
  const h = ctx.req.headers;
  ctx.requestStart = (h['x-request-start'] as string | undefined) ?? `t=${Date.now()}`;
  ctx.requestId = (h['x-request-id'] as string | undefined) ?? newRequestId();
}

function route(router: Routes, ctx: RequestContext): void {
  if (ctx.scheme === 'http' && ctx.upgrade === null && ctx.path.startsWith(ACME_CHALLENGE_PATH_PREFIX) && answerAcmeChallenge(router, ctx)) return;
  const match = router.lookup(ctx.req.headers.host, ctx.path);
  if (match === null) return sendError(ctx, 404);
  ctx.routePrefix = match.prefix;
  if (ctx.metrics !== null) requestStarted(ctx, ctx.metrics, match.service);
  match.service.serve(ctx);
}

// Where kamal-proxy's Service.ServeHTTP counts a request in flight: as soon
// as it reaches its service, unless --exclude-metrics-path names its path as
// the upstream sees it (decoded, the prefix stripped if the service strips it).
function requestStarted(ctx: RequestContext, metrics: HttpMetrics, service: Service<NapGate>): void {
  const excluded = service.options.excludeMetricsPaths;
  if (excluded.length > 0) {
    const path = service.options.stripPrefix ? stripPathPrefix(ctx.path, ctx.routePrefix) : ctx.path;
    if (excluded.includes(goPathUnescape(path))) {
      ctx.metricsExcluded = true;
      return;
    }
  }
  const s = metrics.service(service.name);
  s.started();
  ctx.metricsService = s;
}

// As kamal-proxy's logging middleware tracks a request: with the status the
// request log shows (101, 499...) and the time since the request began.
function requestEnded(ctx: RequestContext, metrics: HttpMetrics): void {
  if (ctx.metricsExcluded) return;
  const service = ctx.metricsService;
  if (service !== null) service.ended();
  const status = ctx.loggedStatus;
  metrics.observe(service ?? metrics.unrouted, ctx.req.method, status, (performance.now() - ctx.startedAt) / 1000);
}

function answerAcmeChallenge(router: Routes, ctx: RequestContext): boolean {
  const token = acmeChallengeToken(ctx.path);
  const answer = token === null ? null : router.httpChallengeFor(token);
  if (answer === null) return false;
  sendResponse(ctx, 200, 'text/plain', answer);
  return true;
}

function onResponseClose(this: ProxyResponse): void {
  const ctx = (this as WithContext)[kContext]!;
  if (!this.writableFinished) {
    // The client went away before the response was complete.
    if (ctx.status === 0) ctx.status = 499;
    ctx.upstream?.cancel(clientGone());
  }
  ctx.activity?.requestEnded();
  if (ctx.metrics !== null) requestEnded(ctx, ctx.metrics);
  logRequest(ctx);
}

// An idle keep-alive connection must not keep its last request (headers,
// request, response, context) alive until the next one arrives.
function forgetSocket(this: ServerResponse): void {
  const socket = this.req.socket as WithContext;
  if (socket[kContext] === (this as WithContext)[kContext]) socket[kContext] = undefined;
}
