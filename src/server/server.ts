// The client-facing listeners and their lifecycle: start, and a graceful stop
// that lets requests in flight finish for up to SHUTDOWN_TIMEOUT_MS.
import http from '../http/node-http.ts';
import type http2 from 'node:http2';
import net from 'node:net';
import type { IncomingMessage, Server as HttpServer, ServerResponse } from 'node:http';
import { nodeHttp2 } from '../tls/lazy-tls.ts';
import { createTlsCallbacks } from '../tls/tls-callbacks.ts';
import type { Certificate } from '../tls/certificate.ts';
import type { Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import type { Duplex } from 'node:stream';
import {
  CLIENT_HEADERS_CHECK_INTERVAL_MS,
  CLIENT_HEADERS_TIMEOUT_MS,
  CLIENT_KEEP_ALIVE_TIMEOUT_MS,
  HTTP2_MAX_CONCURRENT_STREAMS,
  MAX_HEADER_SIZE_BYTES,
  SHUTDOWN_TIMEOUT_MS,
  TLS_MIN_VERSION,
} from '../config/defaults.ts';
import { log } from '../log/logger.ts';
import { bareResponse, sendError } from '../http/respond.ts';
import { clientAddress } from '../http/client-address.ts';
import type { FastRequestListener } from '../http/proxy-request.ts';
import type { HttpMetrics } from '../metrics/http-metrics.ts';
import type { Routes } from '../router/routes.ts';
import { CLIENT_BAD_REQUEST, ProxyError, statusForError } from '../upstream/errors.ts';
import { contextForSocket, handleFastRequest, handleHttp1Request, handleHttp2Request, handleUpgrade } from './handler-chain.ts';
import type { ListenerInfo } from './handler-chain.ts';
import { Http1FastConnection } from './http1-fast-path.ts';
import { upstreamChoice } from '../upstream/client-choice.ts';
import { takeHttp2Streams } from './http2-fast-path.ts';
import { DenseSet, type DenseSetMember } from '../util/dense-set.ts';
import { checkPortFree, listenTcp } from '../util/listen.ts';

export interface ServerConfig {
  httpPort: number;
  httpsPort: number;
  bindAddress?: string; // all interfaces unless set (tests bind 127.0.0.1)
  clientHeadersTimeoutMs?: number; // CLIENT_HEADERS_TIMEOUT_MS unless set (tests)
  httpMetrics?: HttpMetrics | null; // with --metrics-port: what requests are counted in
  reusePort?: boolean; // one of several data-plane threads on the same ports
  bindPorts?: { http: number; https: number }; // the ports to bind, when not the configured ones (a worker: the main thread's)
}

export class Server {
  readonly #router: Routes;
  readonly #config: ServerConfig;
  // Plain HTTP: our listener, whose connections start on the fast path and
  // move to #httpFallback (node:http) for what the fast path leaves out.
  #http: net.Server | null = null;
  #httpFallback: HttpServer | null = null;
  readonly #fastConnections = new DenseSet<Http1FastConnection>(); // not a Set: see src/util/dense-set.ts
  // A fast-path connection leaves the set when it closes or moves to node:http.
  readonly #detachFast = (conn: Http1FastConnection): void => void this.#fastConnections.delete(conn);
  // HTTPS: a plain listener too. The TLS and HTTP/2 server behind it, and
  // node:tls and node:http2 with it, are made on its first connection
  // (src/tls/lazy-tls.ts): a proxy with no TLS service never loads them.
  #httpsListener: net.Server | null = null;
  #https: http2.Http2SecureServer | null = null;
  // HTTP/1.1 over TLS starts on the same fast path, and moves to this
  // node:http server (not Node's HTTP/1.1 side of #https) for the rest.
  #httpsFallback: HttpServer | null = null;

  constructor(router: Routes, config: ServerConfig) {
    this.#router = router;
    this.#config = config;
  }

  // The port actually bound (differs from the configured one when it is 0).
  get httpPort(): number {
    const a = this.#http?.address();
    return typeof a === 'object' && a !== null ? a.port : this.#config.httpPort;
  }

  get httpsPort(): number {
    const a = this.#httpsListener?.address();
    return typeof a === 'object' && a !== null ? a.port : this.#config.httpsPort;
  }

  async start(): Promise<void> {
    const listener: ListenerInfo = { scheme: 'http', port: this.#config.httpPort, metrics: this.#config.httpMetrics ?? null };
    const fallback = (this.#httpFallback = this.#createServer(listener));
    const router = this.#router;
    const onRequest: FastRequestListener = (req, res, body, peer) => handleFastRequest(router, listener, req, res, body, peer);
    // The socket options node:http's own listener would give these sockets
    // (half-open allowed: each path decides what a client's FIN means; no
    // Nagle delay), since node:http may be handed any of them.
    this.#http = net.createServer({ allowHalfOpen: true, noDelay: true }, (socket) => {
      this.#takeHttp1(socket, fallback, onRequest);
    });
    // The first of several threads on these ports checks that nobody else has them.
    if (this.#config.reusePort && this.#config.bindPorts === undefined) {
      await checkPortFree(this.#config.httpPort, this.#config.bindAddress);
      await checkPortFree(this.#config.httpsPort, this.#config.bindAddress);
    }
    await listenTcp(this.#http, this.#config.bindPorts?.http ?? this.#config.httpPort, this.#config.bindAddress, this.#config.reusePort);
    // No Nagle delay here either: HTTP/2 sessions turn it off themselves, but
    // HTTP/1.1 over TLS gets it from the listener, as on the plain port (a
    // small write behind an unacknowledged one would wait for the ACK).
    this.#httpsListener = net.createServer({ noDelay: true }, (socket) => this.#secureServer().emit('connection', socket));
    this.#router.onCertificatesChange(() => this.#useDefaultCertificate());
    await listenTcp(this.#httpsListener, this.#config.bindPorts?.https ?? this.#config.httpsPort, this.#config.bindAddress, this.#config.reusePort);
  }

  #secureServer(): http2.Http2SecureServer {
    if (this.#https === null) {
      this.#https = this.#createSecureServer({ scheme: 'https', port: this.#config.httpsPort, metrics: this.#config.httpMetrics ?? null });
      this.#useDefaultCertificate();
    }
    return this.#https;
  }

  // A client that sends no server name gets no SNICallback: Node finishes
  // its handshake with the server's own context. Keep that context holding
  // the router's default certificate (or none, and the handshake fails).
  #defaultCertificate: Certificate | null = null;
  #useDefaultCertificate(): void {
    const cert = this.#router.defaultCertificate();
    if (this.#https === null || cert === this.#defaultCertificate) return;
    this.#defaultCertificate = cert;
    this.#https.setSecureContext(cert === null ? { minVersion: TLS_MIN_VERSION } : { minVersion: TLS_MIN_VERSION, key: cert.keyPem, cert: cert.chainPem });
  }

  async stop(): Promise<void> {
    const fast = this.#fastConnections;
    // The TLS server behind the HTTPS listener (never listening itself): its
    // HTTP/2 sessions get a GOAWAY and end with their streams.
    this.#https?.close();
    await Promise.all([
      this.#stopServer(this.#http, () => {
        for (const conn of fast) conn.close();
        this.#httpFallback?.closeIdleConnections();
      }, () => {
        for (const conn of fast) conn.destroy();
        this.#httpFallback?.closeAllConnections();
      }),
      // Idle HTTP/1.1-over-TLS connections are closed as on the plain port
      // (their fast-path ones are in the same set: told again, in case the
      // plain port had nothing to wait for).
      this.#stopServer(this.#httpsListener, () => {
        for (const conn of fast) conn.close();
        this.#httpsFallback?.closeIdleConnections();
      }, () => {
        for (const socket of this.#tlsSockets) socket.destroy();
      }),
    ]);
    this.#httpFallback?.close();
    this.#httpsFallback?.close();
  }

  // Idle keep-alive connections close now; busy ones as soon as their
  // response is done. Poll the listener's count of the connections it accepted.
  async #stopServer(server: net.Server | null, closeIdle: () => void, closeAll: () => void): Promise<void> {
    if (server === null) return;
    server.close();
    const deadline = Date.now() + SHUTDOWN_TIMEOUT_MS;
    while (Date.now() < deadline && (await connectionCount(server)) > 0) {
      closeIdle();
      await sleep(25);
    }
    if ((await connectionCount(server)) > 0) {
      log.warn('Closing active connections');
      closeAll();
    }
  }

  readonly #tlsSockets = new DenseSet<import('node:net').Socket & DenseSetMember>();

  // One TLS port for HTTP/2 and HTTP/1.1 (ALPN), with certificates chosen by
  // SNI from the router, and TLS-ALPN-01 challenges answered in the handshake.
  #createSecureServer(listener: ListenerInfo): http2.Http2SecureServer {
    const router = this.#router;
    const server = nodeHttp2().createSecureServer({
      allowHTTP1: true,
      minVersion: TLS_MIN_VERSION,
      // Advertised in SETTINGS, and nghttp2 refuses a stream over it (RFC
      // 9113 §5.1.2): one connection cannot take the whole service.
      // The header list has the same byte limit as HTTP/1.1, and no count
      // limit of its own (Node's is 128): every field counts at least 32
      // bytes towards the list size (RFC 9113 §6.5.2), so no more fit.
      settings: { maxConcurrentStreams: HTTP2_MAX_CONCURRENT_STREAMS, maxHeaderListSize: MAX_HEADER_SIZE_BYTES },
      maxHeaderListPairs: MAX_HEADER_SIZE_BYTES / 32,
      ...createTlsCallbacks({
        getSecureContext: (name) => router.secureContextFor(name),
        alpnContext: (name) => router.alpnChallengeFor(name),
      }),
    });
    const onRequest: FastRequestListener = (req, res, body, peer) => handleFastRequest(router, listener, req, res, body, peer);
    // The HTTP/2 requests the fast path leaves to Node's compat layer.
    server.on('request', (req, res) => handleHttp2Request(router, listener, req, res));
    takeHttp2Streams(server, onRequest);
    this.#takeHttp1OverTls(server, listener, onRequest);
    server.on('secureConnection', (socket) => {
      this.#tlsSockets.add(socket);
      socket.once('close', () => this.#tlsSockets.delete(socket));
    });
    // Go's http.Server logs these at INFO with this wording; so do we. A
    // failed handshake has closed the socket, and its address with it: the
    // address is read from the TCP socket as it is accepted.
    server.on('connection', notePeer);
    server.on('tlsClientError', (err, socket) => {
      log.info(`http: TLS handshake error from ${peerOf(socket)}: ${err.message}`);
    });
    return server;
  }

  // Node's HTTP/2 server serves HTTP/1.1 connections (ALPN http/1.1, or a
  // client that offers no ALPN) with node:http. Give them the plain port's
  // fast path instead, with a node:http server of our own behind it for what
  // the fast path leaves out; HTTP/2 (and the ACME challenge protocol) stays
  // with Node's handler.
  #takeHttp1OverTls(server: http2.Http2SecureServer, listener: ListenerInfo, onRequest: FastRequestListener): void {
    const handlers = server.listeners('secureConnection') as ((socket: TLSSocket) => void)[];
    if (handlers.length !== 1) throw new Error(`expected Node's one HTTP/2 connection handler, found ${handlers.length}`);
    const nodeHandler = handlers[0]!;
    server.removeListener('secureConnection', nodeHandler);
    const fallback = (this.#httpsFallback = this.#createServer(listener));
    server.on('secureConnection', (socket: TLSSocket) => {
      const alpn = socket.alpnProtocol;
      if (alpn !== false && alpn !== 'http/1.1') return nodeHandler.call(server, socket);
      this.#takeHttp1(socket, fallback, onRequest);
    });
  }

  // HTTP/1.1 starts on the fast path, unless Node's internals it runs on are
  // not usable (or KAMAL_NAPPER_UPSTREAM_CLIENT=undici): then node:http
  // serves the whole connection (client-choice.ts).
  readonly #fastPath = upstreamChoice().http1FastPath;
  #takeHttp1(socket: Socket, fallback: HttpServer, onRequest: FastRequestListener): void {
    if (this.#fastPath) this.#fastConnections.add(new Http1FastConnection(socket, fallback, onRequest, this.#detachFast));
    else fallback.emit('connection', socket);
  }

  #createServer(listener: ListenerInfo): HttpServer {
    const router = this.#router;
    const server = http.createServer(
      {
        maxHeaderSize: MAX_HEADER_SIZE_BYTES,
        headersTimeout: this.#config.clientHeadersTimeoutMs ?? CLIENT_HEADERS_TIMEOUT_MS,
        // Node checks the headers timeout every 30 s by default, which let a
        // 60 s limit run to 90 s. Each check walks only the connections with a
        // request head or body in progress.
        connectionsCheckingInterval: CLIENT_HEADERS_CHECK_INTERVAL_MS,
        // The chain answers a missing Host (http1Status), logged like any
        // other 400, for upgrades too.
        requireHostHeader: false,
        // Node's default of 5 minutes would cut long uploads and downloads;
        // kamal-proxy sets no limit.
        requestTimeout: 0,
        keepAliveTimeout: CLIENT_KEEP_ALIVE_TIMEOUT_MS,
        // Node answers requests carrying both Content-Length and
        // Transfer-Encoding with 400 and never hands them to us; keep it so.
        insecureHTTPParser: false,
      },
      (req, res) => handleHttp1Request(router, listener, req, res),
    );
    // Go has no limit on the number of header lines, only on their bytes
    // (maxHeaderSize); Node refuses more than 2,000 with 431.
    server.maxHeadersCount = 0;
    server.on('upgrade', (req, socket: Duplex, head: Buffer) => handleUpgrade(router, listener, req, socket, head));
    server.on('clientError', onClientError);
    // It never listens (connections reach it from our listener), but its
    // connection tracking, and the headers timeout that runs on it, start
    // on 'listening'.
    server.emit('listening');
    return server;
  }
}

// A request the HTTP parser refused. If it broke in the middle of a body we
// already started proxying, that request is answered (400, connection closed)
// and its upstream exchange cancelled; otherwise a bare response is written.
function onClientError(err: NodeJS.ErrnoException, socket: Duplex): void {
  const ctx = contextForSocket(socket);
  if (ctx !== undefined && ctx.res !== null && !ctx.res.headersSent) {
    sendError(ctx, 400); // with Connection: close: the framing is lost
    ctx.upstream?.cancel(new ProxyError(CLIENT_BAD_REQUEST, err.message));
    return;
  }
  const code = err.code ?? '';
  if (code === 'ECONNRESET' || !socket.writable || (socket as Socket & { _httpMessage?: { headersSent: boolean } })._httpMessage?.headersSent) {
    socket.destroy();
    return;
  }
  socket.end(bareResponse(statusForError(err, 400)));
}

function connectionCount(server: net.Server): Promise<number> {
  return new Promise((resolve) => server.getConnections((_err, n) => resolve(n ?? 0)));
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

const kPeer = Symbol('kamal-napper.peer');
type WithPeer = { [kPeer]?: string };

function notePeer(socket: import('node:net').Socket): void {
  (socket as WithPeer)[kPeer] = `${clientAddress(socket.remoteAddress)}:${socket.remotePort}`;
}

// Node wraps the accepted TCP socket in the TLS socket it reports; the
// wrapped one is its `_parent` (not public API: without it, the address is
// whatever the TLS socket still knows).
function peerOf(socket: import('node:tls').TLSSocket): string {
  const parent = (socket as { _parent?: WithPeer })._parent;
  return parent?.[kPeer] ?? `${clientAddress(socket.remoteAddress)}:${socket.remotePort}`;
}
