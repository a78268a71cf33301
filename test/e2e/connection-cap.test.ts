// Long-lived requests must not starve short ones (issue #16, item 1). Go's
// Transport, which kamal-proxy runs on, opens as many connections to an app
// as there are requests in flight; a fixed cap of a hundred (with a queue
// without a deadline behind it) let a hundred SSE streams, long polls, slow
// uploads or pending WebSocket handshakes hang every other request to that
// service. Each case holds more than a hundred of one kind open, then asks
// for something short.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import http from 'node:http';
import http2 from 'node:http2';
import net from 'node:net';
import type { Duplex } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { startBackend } from '../helpers/backend.ts';
import type { Backend } from '../helpers/backend.ts';
import { freePort } from '../helpers/free-port.ts';
import { deployParams, quietLogs, startTestProxy } from '../helpers/proxy.ts';
import type { TestProxy } from '../helpers/proxy.ts';
import { waitFor } from '../helpers/wait.ts';
import { acceptWebSocket } from '../helpers/ws-echo.ts';
import { selfSigned, tempDir } from '../tls/openssl.ts';
import { defaultHealthCheckConfig } from '../../src/config/service-options.ts';

quietLogs();

const HOST = 'app.example.test';
const H2_HOST = 'h2.example.test';
const MANY = 150; // over the old cap of 100
const WAIT_MS = 15_000; // bound on every wait: a hang is a failure, not a stuck run

describe('upstream connections: no cap that long requests can use up', () => {
  const cert = selfSigned(tempDir(), 'connection-cap', [H2_HOST]);
  let proxy: TestProxy;
  let app: Backend;
  const held: http.ServerResponse[] = []; // SSE streams and long polls the app holds open
  const heldUpgrades: Duplex[] = []; // WebSocket handshakes it has not answered
  const appWebSockets: Duplex[] = []; // and those it accepted
  let uploadsStarted = 0;
  const clients = new Set<net.Socket>();

  before(async () => {
    app = await startBackend('app', {
      route(req, res) {
        if (req.url === '/sse') {
          res.writeHead(200, { 'Content-Type': 'text/event-stream' });
          res.write('data: open\n\n');
          held.push(res);
          return true;
        }
        if (req.url === '/poll') {
          held.push(res); // answered only when the test lets go
          return true;
        }
        if (req.url === '/upload') {
          uploadsStarted++;
          req.resume();
          req.on('end', () => res.end('uploaded'));
          return true;
        }
      },
    });
    app.server.on('upgrade', (req, socket: Duplex) => {
      if (req.url === '/ws-hold') heldUpgrades.push(socket);
      else acceptWebSocket(req, socket, (s) => appWebSockets.push(s));
    });
    proxy = await startTestProxy();
    // The catch-all (a WebSocket client cannot set Host), with a long target
    // timeout: nothing held may time out while a case runs.
    await proxy.router.deploy(deployParams('app', [app.address], { target: { responseTimeoutMs: 120_000 } }));
    await proxy.router.deploy(
      deployParams('h2', [app.address], {
        options: { hosts: [H2_HOST], tlsEnabled: true, tlsCertificatePath: cert.certPath, tlsPrivateKeyPath: cert.keyPath },
        target: { responseTimeoutMs: 120_000 },
      }),
    );
  });

  after(async () => {
    letGo();
    await proxy.stop();
    await app.close();
  });

  // Ends everything held, on both sides, between cases.
  function letGo(): void {
    for (const res of held.splice(0)) res.destroy();
    for (const s of heldUpgrades.splice(0)) s.destroy();
    for (const s of appWebSockets.splice(0)) s.destroy();
    for (const s of clients) s.destroy();
    clients.clear();
  }

  // A raw client connection that writes `head` (and `body`), and resolves
  // with what it receives up to `until`.
  function open(head: string, until: string): Promise<string> {
    return new Promise((resolve, reject) => {
      const socket = net.connect(proxy.httpPort, '127.0.0.1', () => socket.write(head));
      clients.add(socket);
      let got = '';
      socket.setEncoding('latin1');
      socket.on('data', (d: string) => {
        got += d;
        if (got.includes(until)) resolve(got);
      });
      socket.on('error', () => {});
      socket.on('close', () => reject(new Error(`closed after ${JSON.stringify(got)}`)));
    });
  }

  // A short request must be answered at once, whatever else is open.
  async function shortRequestAnswered(): Promise<void> {
    const res = await fetchWithin(`http://127.0.0.1:${proxy.httpPort}/fast`, HOST);
    assert.deepEqual(res, { status: 200, body: 'app' });
  }

  test(`${MANY} server-sent event streams open: every one connects, and a short request is still answered`, async (t) => {
    t.after(letGo);
    const streams = Array.from({ length: MANY }, () => open(`GET /sse HTTP/1.1\r\nHost: ${HOST}\r\n\r\n`, 'data: open'));
    await within(Promise.all(streams), `${MANY} streams open`);
    await shortRequestAnswered();
  });

  test(`${MANY} long polls the app has not answered yet: a short request is still answered`, async (t) => {
    t.after(letGo);
    for (let i = 0; i < MANY; i++) void open(`GET /poll HTTP/1.1\r\nHost: ${HOST}\r\n\r\n`, '\r\n\r\n').catch(() => {});
    await waitFor(() => held.length === MANY, WAIT_MS);
    await shortRequestAnswered();
  });

  test(`${MANY} slow uploads under way (not buffered): a short request is still answered`, async (t) => {
    t.after(letGo);
    const before = uploadsStarted;
    // Ten bytes of a thousand, and then nothing for now.
    for (let i = 0; i < MANY; i++) void open(`POST /upload HTTP/1.1\r\nHost: ${HOST}\r\nContent-Length: 1000\r\n\r\n0123456789`, '\r\n\r\n').catch(() => {});
    await waitFor(() => uploadsStarted - before === MANY, WAIT_MS);
    await shortRequestAnswered();
  });

  test(`one HTTP/2 connection with ${MANY} streams open: another stream on it is still answered`, async (t) => {
    const session = http2.connect(`https://127.0.0.1:${proxy.httpsPort}`, { servername: H2_HOST, ca: cert.certPem });
    t.after(() => {
      session.destroy();
      letGo();
    });
    session.on('error', () => {});
    const opened = Array.from({ length: MANY }, () => {
      const stream = session.request({ ':authority': H2_HOST, ':path': '/sse' });
      stream.on('error', () => {});
      return new Promise((resolve) => stream.once('data', resolve));
    });
    await within(Promise.all(opened), `${MANY} HTTP/2 streams open`);
    const short = session.request({ ':authority': H2_HOST, ':path': '/fast' });
    let body = '';
    short.setEncoding('utf8');
    short.on('data', (d: string) => (body += d));
    const status = await within(new Promise<number>((resolve) => short.once('response', (h) => resolve(Number(h[':status'])))), 'the short stream answered');
    await within(new Promise((resolve) => short.once('end', resolve)), 'the short stream ended');
    assert.deepEqual([status, body], [200, 'app']);
  });

  test(`${MANY} WebSocket handshakes the app has not answered: another WebSocket still opens`, async (t) => {
    t.after(letGo);
    const handshake = (path: string) =>
      `GET ${path} HTTP/1.1\r\nHost: ${HOST}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n` +
      'Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n';
    for (let i = 0; i < MANY; i++) void open(handshake('/ws-hold'), '\r\n\r\n').catch(() => {});
    await waitFor(() => heldUpgrades.length === MANY, WAIT_MS);
    const answer = await within(open(handshake('/ws'), '\r\n\r\n'), 'the next handshake answered');
    assert.match(answer, /^HTTP\/1\.1 101 /);
  });

  test(`${MANY} WebSockets open: another still opens, and a short request is answered`, async (t) => {
    t.after(letGo);
    const sockets = Array.from({ length: MANY + 1 }, () => new WebSocket(`ws://127.0.0.1:${proxy.httpPort}/ws`));
    t.after(() => sockets.forEach((s) => s.close()));
    await within(
      Promise.all(sockets.map((s) => new Promise((resolve, reject) => ((s.onopen = resolve), (s.onerror = () => reject(new Error('websocket failed'))))))),
      `${MANY + 1} WebSockets open`,
    );
    await shortRequestAnswered();
  });
});

// A request waits for a connection, but not for ever: at most its target
// timeout, as it waits for the answer once the request is sent.
describe('an app that stops accepting connections', () => {
  const hasPython = spawnSync('python3', ['--version']).status === 0;

  test('every request gets 504 within the target timeout, waiting for a connection or for an answer', { skip: !hasPython && 'no python3' }, async (t) => {
    const port = await freePort();
    // Listens with a backlog of 0 and never accepts: the first connect
    // completes in the kernel and nothing answers it; later SYNs are dropped.
    const script = `import socket,time\ns=socket.socket()\ns.bind(('127.0.0.1',${port}))\ns.listen(0)\nprint('listening',flush=True)\ntime.sleep(60)`;
    const app = spawn('python3', ['-c', script], { stdio: ['ignore', 'pipe', 'ignore'] });
    t.after(() => app.kill('SIGKILL'));
    await new Promise((resolve) => app.stdout.once('data', resolve));
    // Its health check goes to another port, one that answers: the target is healthy.
    const health = await startBackend('health');
    t.after(() => health.close());
    const proxy = await startTestProxy();
    t.after(() => proxy.stop());
    const target = { responseTimeoutMs: 500, healthCheck: { ...defaultHealthCheckConfig(), port: health.port, intervalMs: 50 } };
    await proxy.router.deploy(deployParams('stuck', [`127.0.0.1:${port}`], { target }));
    const statuses = await within(
      Promise.all(Array.from({ length: 10 }, () => fetchWithin(`http://127.0.0.1:${proxy.httpPort}/`, 'stuck.example.test').then((r) => r.status))),
      'ten requests answered',
    );
    assert.deepEqual(statuses, Array(10).fill(504));
  });
});

function within<T>(work: Promise<T>, what: string): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`not done within ${WAIT_MS} ms: ${what}`)), WAIT_MS);
    work.then(
      (v) => (clearTimeout(timer), resolve(v)),
      (e) => (clearTimeout(timer), reject(e)),
    );
  });
}

function fetchWithin(url: string, host: string): Promise<{ status: number; body: string }> {
  return within(
    new Promise((resolve, reject) => {
      const req = http.get(url, { headers: { host }, agent: false }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (body += d));
        res.on('end', () => resolve({ status: res.statusCode!, body }));
      });
      req.on('error', reject);
    }),
    'the short request answered',
  );
}
