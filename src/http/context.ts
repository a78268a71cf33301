// Per-request state shared by the middleware chain, the target and the request
// log. One object per request; fields are plain so V8 keeps one hidden class.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { clientAddress } from './client-address.ts';

export interface ErrorRenderer {
  render(status: number, message?: string): string;
}

export class RequestContext {
  readonly req: IncomingMessage;
  // null for upgrade requests, which own the raw socket instead
  readonly res: ServerResponse | null;
  readonly socket: Duplex;
  readonly startedAt: number; // performance.now(), ms with sub-µs precision (no BigInt per request)
  // The client's address, read at the start: an HTTP/2 stream's socket is
  // unbound from its session once the stream ends, before the request log.
  // `a.b.c.d` for an IPv4 client, also on a dual-stack listener.
  readonly clientAddr: string;
  readonly clientPort: number;
  readonly scheme: 'http' | 'https';
  readonly port: number; // the configured listener port, as kamal-proxy logs it
  requestId = '';
  requestStart = '';
  path = ''; // raw path, without the query
  search = ''; // raw query with its "?", or "" when the URL has no "?"
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
  errorPages: ErrorRenderer | null = null;
  // Response header changes the service asks for (see response-headers.ts).
  adjustResponse = false;
  cookieScopePrefix = ''; // --scope-cookie-paths: Set-Cookie paths go under this prefix
  writerAffinityMs = 0; // set the kamal-writer cookie for this long after a write
  stripWriterAffinity = false; // the balancer has readers: X-Writer-Affinity is ours, not the client's
  // Napping: the service's activity counter, told when this exchange ends.
  activity: { requestEnded(): void } | null = null;
  // The upstream exchange in flight, so a client that leaves can cancel it.
  upstream: { cancel(reason: Error): void } | null = null;

  constructor(
    req: IncomingMessage,
    res: ServerResponse | null,
    socket: Duplex,
    scheme: 'http' | 'https',
    port: number,
  ) {
    this.req = req;
    this.res = res;
    this.socket = socket;
    this.clientAddr = clientAddress((socket as Socket).remoteAddress);
    this.clientPort = (socket as Socket).remotePort ?? 0;
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
}
