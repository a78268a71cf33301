// Per-request state shared by the request chain, the target and the request
// log. One object per request; fields are plain so V8 keeps one hidden class.
import type { Duplex } from 'node:stream';
import type { HttpMetrics, ServiceMetrics } from '../metrics/http-metrics.ts';
import type { ErrorPages } from '../pages/pages.ts';
import { clientAddress } from './client-address.ts';
import type { ClientPeer, ProxyRequest, RequestBody } from './proxy-request.ts';
import type { ProxyResponse } from './proxy-response.ts';

// A request that asked to switch protocols (WebSocket): it owns the raw
// client socket, with the bytes read past its head.
export interface Upgrade {
  readonly socket: Duplex;
  readonly head: Buffer;
}

export class RequestContext {
  readonly req: ProxyRequest;
  // null for upgrades, which write to their socket instead
  readonly res: ProxyResponse | null;
  readonly body: RequestBody;
  readonly upgrade: Upgrade | null;
  readonly startedAt: number; // performance.now()
  // Read at the start: an HTTP/2 stream's socket is unbound from its
  // session once the stream ends, before the request log.
  readonly clientAddr: string;
  readonly clientPort: number;
  readonly scheme: 'http' | 'https';
  readonly port: number; // the configured listener port, as kamal-proxy logs it
  requestId = '';
  requestStart = '';
  path = ''; // raw path, without the query
  search = ''; // raw query with its "?", or "" when the URL has no "?"
  // The route: the service's path prefix the request matched ("/" for
  // none), and the path the upstream sees (the prefix stripped, if asked).
  routePrefix = '/';
  upstreamPath = '';
  serviceName = '';
  target = '';
  // Set when the status to log differs from what was written (101, 499, 504 after drain...)
  status = 0;
  respBytes = 0;
  respContentType = '';
  // The upstream's response headers, kept for --log-response-header.
  respHeaders: Record<string, string | string[] | undefined> | null = null;
  logRequestHeaders: readonly string[] = [];
  logResponseHeaders: readonly string[] = [];
  errorPages: ErrorPages | null = null;
  // Response header changes the service asks for (see response-headers.ts).
  adjustResponse = false;
  cookieScopePrefix = ''; // --scope-cookie-paths: Set-Cookie paths go under this prefix
  writerAffinityMs = 0; // set the kamal-writer cookie for this long after a write
  stripWriterAffinity = false; // the balancer has readers: X-Writer-Affinity is ours, not the client's
  // --client-ip-header: the value that replaces the client's X-Forwarded-For
  // in the log and upstream; null when the service names no header or the
  // request did not carry it.
  forwardedFor: string | null = null;
  // --metrics-port: the proxy's request metrics (null when off), the service
  // whose in-flight gauge counts this request, and whether its path is one
  // --exclude-metrics-path leaves out of the metrics.
  metrics: HttpMetrics | null = null;
  metricsService: ServiceMetrics | null = null;
  metricsExcluded = false;
  // Napping: the service's activity counter, told when this exchange ends.
  activity: { requestEnded(): void } | null = null;
  // The upstream exchange in flight, so a client that leaves can cancel it.
  upstream: { cancel(reason: Error): void } | null = null;
  // --http-cache: what the service's cache decided for this request (hit,
  // miss, bypass), for its store filter and the log (accel/http-cache/).
  httpCache: { readonly status: string } | null = null;
  // --compress: the coding and the body's bytes before it, for the log
  // (accel/compression.ts); null when the body went as it came.
  compression: { readonly coding: string; readonly bytesIn: number } | null = null;

  constructor(
    req: ProxyRequest,
    res: ProxyResponse | null,
    body: RequestBody,
    upgrade: Upgrade | null,
    peer: ClientPeer,
    scheme: 'http' | 'https',
    port: number,
  ) {
    this.req = req;
    this.res = res;
    this.body = body;
    this.upgrade = upgrade;
    this.clientAddr = clientAddress(peer.remoteAddress);
    this.clientPort = peer.remotePort ?? 0;
    this.scheme = scheme;
    this.port = port;
    this.startedAt = performance.now();
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    if (q === -1) this.path = url;
    else {
      this.path = url.slice(0, q);
      this.search = url.slice(q);
    }
  }

  // The status the request log and the metrics report: what was written,
  // unless the exchange ended otherwise (101, 499, 504 after a drain...).
  get loggedStatus(): number {
    return this.status !== 0 ? this.status : this.res !== null ? this.res.statusCode : 0;
  }

  // The client left (or its connection broke) before it was answered.
  get clientGone(): boolean {
    return this.status === 499 || (this.res !== null ? this.res.destroyed : this.upgrade!.socket.destroyed);
  }
}
