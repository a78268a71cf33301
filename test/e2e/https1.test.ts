// HTTP/1.1 over TLS (ALPN http/1.1, or no ALPN at all) through the whole
// proxy, as a CDN or an API client connects to its origin: the plain port's
// fast path serves it, node:http what the fast path leaves out, in order on
// one connection, and upgrades (wss) go through.
import assert from 'node:assert/strict';
import tls from 'node:tls';
import { after, before, describe, test } from 'node:test';
import { startBackend } from '../helpers/backend.ts';
import type { Backend } from '../helpers/backend.ts';
import { deployParams, quietLogs, startTestProxy } from '../helpers/proxy.ts';
import type { TestProxy } from '../helpers/proxy.ts';
import { acceptWebSocket } from '../helpers/ws-echo.ts';
import { selfSigned, tempDir } from '../tls/openssl.ts';
import { readFileSync } from 'node:fs';
import { log } from '../../src/log/logger.ts';

const logFile = quietLogs();
const HOST = 'tls1.example.test';

describe('HTTP/1.1 over TLS through the proxy', () => {
  const cert = selfSigned(tempDir(), 'https1', [HOST]);
  let proxy: TestProxy;
  let app: Backend;

  before(async () => {
    app = await startBackend('app', {
      route: (req, res) => {
        let length = 0;
        req.on('data', (c: Buffer) => (length += c.length));
        req.on('end', () => res.writeHead(200, { 'Content-Type': 'text/plain' }).end(`${req.headers['x-forwarded-proto']} ${req.method} ${length}`));
        return true;
      },
    });
    app.server.on('upgrade', (req, socket) => acceptWebSocket(req, socket));
    proxy = await startTestProxy();
    await proxy.router.deploy(
      deployParams('tls1', [app.address], { options: { hosts: [HOST], tlsEnabled: true, tlsCertificatePath: cert.certPath, tlsPrivateKeyPath: cert.keyPath } }),
    );
  });
  after(async () => {
    await proxy.stop();
    await app.close();
  });

  // Writes `text` on a new TLS connection and returns what comes back until
  // the proxy closes it (the last request says Connection: close).
  function exchange(text: string | Buffer, ALPNProtocols?: string[]): Promise<{ out: string; alpn: string | false }> {
    return new Promise((resolve, reject) => {
      const socket = tls.connect({ host: '127.0.0.1', port: proxy.httpsPort, servername: HOST, ca: cert.certPem, ALPNProtocols }, () => socket.write(text));
      let out = '';
      socket.setEncoding('latin1');
      socket.on('data', (d: string) => (out += d));
      socket.on('close', () => resolve({ out, alpn: socket.alpnProtocol ?? false }));
      socket.on('error', reject);
    });
  }

  // The responses in a raw read, and the body of each (one chunk at most).
  const responses = (raw: string) => raw.split(/(?=HTTP\/1\.1 )/);
  const bodyOf = (response: string) => response.slice(response.indexOf('\r\n\r\n') + 4).replace(/^[0-9a-f]+\r\n|\r\n0\r\n\r\n$/g, '');

  test('bodyless and small-body requests, a chunked one and the ones after it: all answered in order on one connection', async () => {
    const { out, alpn } = await exchange(
      `GET /a HTTP/1.1\r\nHost: ${HOST}\r\n\r\n` +
        `POST /b HTTP/1.1\r\nHost: ${HOST}\r\nContent-Length: 5\r\n\r\nhello` +
        `POST /c HTTP/1.1\r\nHost: ${HOST}\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n` +
        `GET /d HTTP/1.1\r\nHost: ${HOST}\r\nConnection: close\r\n\r\n`,
      ['http/1.1'],
    );
    assert.equal(alpn, 'http/1.1');
    const all = responses(out);
    assert.equal(all.length, 4, out);
    assert.deepEqual(all.map(bodyOf), ['https GET 0', 'https POST 5', 'https POST 3', 'https GET 0']);
    // The first two took the fast path, which sends no Keep-Alive header (as
    // Go's server, and so kamal-proxy, sends none); node:http, which serves
    // the connection from the chunked request on, does.
    assert.doesNotMatch(all[0]!, /\r\nKeep-Alive:/i);
    assert.doesNotMatch(all[1]!, /\r\nKeep-Alive:/i);
    assert.match(all[2]!, /\r\nKeep-Alive: timeout=/i);
  });

  test('a client that offers no ALPN gets HTTP/1.1', async () => {
    const { out, alpn } = await exchange(`GET / HTTP/1.1\r\nHost: ${HOST}\r\nConnection: close\r\n\r\n`);
    assert.equal(alpn, false);
    assert.deepEqual(responses(out).map(bodyOf), ['https GET 0']);
  });

  test('stop(): an idle keep-alive connection is closed at once, with no connection left for the deadline', async () => {
    const own = await startTestProxy();
    await own.router.deploy(
      deployParams('tls1', [app.address], { options: { hosts: [HOST], tlsEnabled: true, tlsCertificatePath: cert.certPath, tlsPrivateKeyPath: cert.keyPath } }),
    );
    const socket = tls.connect({ host: '127.0.0.1', port: own.httpsPort, servername: HOST, ca: cert.certPem, ALPNProtocols: ['http/1.1'] });
    socket.on('error', () => {});
    const answered = new Promise<string>((resolve) => socket.once('data', (d: Buffer) => resolve(d.toString('latin1'))));
    socket.once('secureConnect', () => socket.write(`GET / HTTP/1.1\r\nHost: ${HOST}\r\n\r\n`));
    assert.match(await answered, /^HTTP\/1\.1 200 /);
    const closed = new Promise((resolve) => socket.once('close', resolve));
    await own.stop();
    await closed;
    await log.flush();
    // Logged when connections outlive the shutdown deadline and are cut.
    assert.doesNotMatch(readFileSync(logFile, 'utf8'), /Closing active connections/);
  });

  test('a WebSocket upgrade over TLS reaches the app and echoes', async () => {
    const text = Buffer.from('over wss');
    const mask = Buffer.from([1, 2, 3, 4]);
    const masked = (opcode: number, payload: Buffer) =>
      Buffer.concat([Buffer.from([0x80 | opcode, 0x80 | payload.length]), mask, Buffer.from(payload.map((b, i) => b ^ mask[i % 4]!))]);
    const echoed = await new Promise<string>((resolve, reject) => {
      const socket = tls.connect({ host: '127.0.0.1', port: proxy.httpsPort, servername: HOST, ca: cert.certPem, ALPNProtocols: ['http/1.1'] }, () =>
        socket.write(
          `GET /cable HTTP/1.1\r\nHost: ${HOST}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n`,
        ),
      );
      let out = Buffer.alloc(0);
      let sent = false;
      socket.on('data', (d: Buffer) => {
        out = Buffer.concat([out, d]);
        const headEnd = out.indexOf('\r\n\r\n');
        if (headEnd === -1) return;
        if (!sent) {
          assert.match(out.subarray(0, headEnd).toString('latin1'), /^HTTP\/1\.1 101 /);
          sent = true;
          socket.write(masked(0x1, text));
        }
        const rest = out.subarray(headEnd + 4);
        if (rest.length >= 2 + text.length && !echo) {
          echo = `${rest[0]!.toString(16)} ${rest.subarray(2, 2 + text.length).toString()}`;
          // Closing as a client does: the app answers the close frame and ends.
          socket.write(masked(0x8, Buffer.alloc(0)));
        }
      });
      let echo = '';
      socket.on('close', () => resolve(echo));
      socket.on('error', reject);
    });
    assert.equal(echoed, '81 over wss', 'a final text frame with the same text');
  });
});
