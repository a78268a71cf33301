// Shared set-up for the ACME tests: one pebble per test file, managers that
// trust it, a counter of new orders as pebble receives them, and the two
// listeners the CA validates against (plain HTTP and the HTTPS listener with
// our SNI/ALPN callbacks), which tests start or leave closed.
import fs from 'node:fs';
import http from 'node:http';
import http2 from 'node:http2';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import type tls from 'node:tls';
import { axios as acmeAxios } from 'acme-client';
import { hostKey } from '../../src/http/host.ts';
import { acmeChallengeToken } from '../../src/tls/acme-challenges.ts';
import { AcmeManager, type AcmeManagerOptions } from '../../src/tls/acme-manager.ts';
import { createTlsCallbacks } from '../../src/tls/tls-callbacks.ts';
import { freePort } from '../helpers/free-port.ts';
import { httpsGet, startPebble, type Pebble } from '../helpers/pebble.ts';

export interface AcmeBench {
  readonly pebble: Pebble;
  readonly httpPort: number; // pebble validates HTTP-01 here
  readonly tlsPort: number; // and TLS-ALPN-01 here
  /** New orders pebble has been sent so far (all managers). */
  orders(): number;
  /** A manager on a fresh cache directory (or `cachePath`), trusting pebble. */
  manager(opts?: Partial<AcmeManagerOptions>): AcmeManager;
  tempDir(): string;
  close(): Promise<void>;
}

export const quietLogger = { info() {}, warn() {}, error() {} };

export async function startAcmeBench(): Promise<AcmeBench> {
  const [httpPort, tlsPort] = [await freePort(), await freePort()];
  const pebble = await startPebble({ httpPort, tlsPort });
  const newOrderUrl = (JSON.parse(await httpsGet(pebble.directoryUrl, pebble.caPem)) as { newOrder: string }).newOrder;
  let orders = 0;
  const counter = acmeAxios.interceptors.request.use((config) => {
    if (config.url === newOrderUrl && config.method?.toLowerCase() === 'post') orders++;
    return config;
  });
  const dirs: string[] = [];
  const managers: AcmeManager[] = [];
  const tempDir = () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'acme-test-'));
    dirs.push(dir);
    return dir;
  };
  return {
    pebble,
    httpPort,
    tlsPort,
    orders: () => orders,
    tempDir,
    manager(opts = {}) {
      const manager = new AcmeManager({
        cachePath: tempDir(),
        directoryUrl: pebble.directoryUrl,
        caPem: pebble.caPem,
        hostPolicy: () => true,
        pollMinMs: 20,
        renewCheckIntervalMs: 0,
        logger: quietLogger,
        ...opts,
      });
      managers.push(manager);
      return manager;
    },
    async close() {
      acmeAxios.interceptors.request.eject(counter);
      managers.forEach((m) => m.close());
      await pebble.stop();
      dirs.forEach((d) => fs.rmSync(d, { recursive: true, force: true }));
    },
  };
}

export interface Listener {
  readonly port: number;
  close(): Promise<void>;
}

// The proxy's plain-HTTP port as far as ACME goes. `hold`, if given, may delay
// (or, returning false, refuse) the answer for a host.
export async function startHttpChallenges(
  port: number,
  manager: AcmeManager,
  hold?: (host: string) => Promise<boolean>,
): Promise<Listener> {
  const server = http.createServer(async (req, res) => {
    const token = acmeChallengeToken(req.url ?? '');
    const host = (req.headers.host ?? '').replace(/:\d+$/, '');
    const body = token ? manager.challenges.httpResponse(token) : null;
    if (body === null || (hold && !(await hold(host)))) return void res.writeHead(404).end('not found');
    res.writeHead(200, { 'Content-Type': 'text/plain' }).end(body);
  });
  return listen(server, port);
}

// The proxy's HTTPS listener: our callbacks over http2 with HTTP/1.1 allowed.
export async function startHttps(
  port: number,
  manager: Pick<AcmeManager, 'getSecureContext' | 'challenges'>,
  tlsOptions: tls.TlsOptions = {},
): Promise<Listener> {
  const callbacks = createTlsCallbacks({
    getSecureContext: (name) => manager.getSecureContext(name),
    alpnContext: (name) => manager.challenges.alpnContext(hostKey(name)),
  });
  const server = http2.createSecureServer({ allowHTTP1: true, ...tlsOptions, ...callbacks }, (req, res) => {
    res.end(`hello over ${req.httpVersion}`);
  });
  return listen(server, port);
}

async function listen(server: http.Server | http2.Http2SecureServer, port: number): Promise<Listener> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve());
  });
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        if ('closeAllConnections' in server) server.closeAllConnections();
      }),
  };
}

export interface Fetched {
  body: string;
  protocol: string; // negotiated ALPN
  serial: string;
  subjectAltName: string;
  issuer: string;
}

// GET / over HTTP/1.1 (node:https, ALPN http/1.1) for `host` on 127.0.0.1,
// accepting only a certificate that chains to `rootPem` and names `host`.
export function fetchHttp1(port: number, host: string, rootPem: string): Promise<Fetched> {
  return getHttp1({ host: '127.0.0.1', port, servername: host, headers: { host }, ca: rootPem });
}

// The same from a client that sends no server name (SNI), as clients that
// connect by IP address do: whatever certificate comes back is checked by
// the caller (against `rootPem`, but not against a name, since none was sent).
export function fetchWithoutSni(port: number, host: string, rootPem: string): Promise<Fetched> {
  return getHttp1({ host: '127.0.0.1', port, servername: '', checkServerIdentity: () => undefined, headers: { host }, ca: rootPem });
}

function getHttp1(options: https.RequestOptions & tls.ConnectionOptions): Promise<Fetched> {
  return new Promise((resolve, reject) => {
    const all: https.RequestOptions & tls.ConnectionOptions = { ...options, ALPNProtocols: ['http/1.1'], agent: false };
    const req = https.get(all, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve(describe(res.socket as tls.TLSSocket, body)));
    });
    req.on('error', reject);
  });
}

// The same over HTTP/2 (node:http2 client).
export function fetchHttp2(port: number, host: string, rootPem: string): Promise<Fetched> {
  return new Promise((resolve, reject) => {
    const client = http2.connect(`https://127.0.0.1:${port}`, { servername: host, ca: rootPem });
    client.on('error', reject);
    const req = client.request({ ':path': '/', ':authority': host });
    req.on('error', reject);
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (c: string) => (body += c));
    req.on('end', () => {
      resolve(describe(client.socket as tls.TLSSocket, body));
      client.close();
    });
  });
}

function describe(socket: tls.TLSSocket, body: string): Fetched {
  const cert = socket.getPeerCertificate();
  return {
    body,
    protocol: String(socket.alpnProtocol),
    serial: cert.serialNumber,
    subjectAltName: cert.subjectaltname ?? '',
    issuer: String(cert.issuer.CN),
  };
}

// A promise with its resolve function, for holding a step until the test lets it go.
export function gate(): { promise: Promise<void>; open(): void } {
  let open!: () => void;
  const promise = new Promise<void>((resolve) => (open = resolve));
  return { promise, open };
}
