// The host a request is for, on every client path (the HTTP/1.1 fast path,
// node:http behind it, both over TLS too, and HTTP/2): a missing (HTTP/1.1),
// repeated or malformed Host is answered 400 and never reaches an app; an
// absolute-form target is routed by its authority and forwarded in
// origin-form with that authority as Host (RFC 9112 §3.2, §3.2.2), as Go's
// server (and so kamal-proxy) does. Apps build URLs from Host and
// X-Forwarded-Host (password-reset links, cached pages).
import assert from 'node:assert/strict';
import http2 from 'node:http2';
import tls from 'node:tls';
import { after, before, describe, test } from 'node:test';
import { startBackend } from '../helpers/backend.ts';
import type { Backend } from '../helpers/backend.ts';
import { deployParams, quietLogs, startTestProxy } from '../helpers/proxy.ts';
import type { TestProxy } from '../helpers/proxy.ts';
import { rawExchange } from '../helpers/raw-http.ts';
import { selfSigned, tempDir } from '../tls/openssl.ts';
import { h2Request } from '../helpers/h2-client.ts';

quietLogs();

const PLAIN = 'web.test';
const PLAIN_OTHER = 'other.test';
const SECURE = 'tls.test';
const SECURE_OTHER = 'tls-other.test';

interface Seen {
  app: string;
  url: string;
  host: string | undefined;
  xfh: string | undefined;
  hostLines: number;
}

describe('request host validation', () => {
  const cert = selfSigned(tempDir(), 'hosts', [SECURE, SECURE_OTHER]);
  const tlsOptions = { tlsEnabled: true, tlsCertificatePath: cert.certPath, tlsPrivateKeyPath: cert.keyPath };
  let proxy: TestProxy;
  let web: Backend;
  let other: Backend;
  let seen: Seen[] = [];

  const record = (name: string) => (req: import('node:http').IncomingMessage, res: import('node:http').ServerResponse) => {
    const s: Seen = {
      app: name,
      url: req.url ?? '',
      host: req.headers.host,
      xfh: req.headers['x-forwarded-host'] as string | undefined,
      hostLines: req.rawHeaders.filter((_, i) => i % 2 === 0 && req.rawHeaders[i]!.toLowerCase() === 'host').length,
    };
    seen.push(s);
    const body = JSON.stringify(s);
    res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) }).end(body);
    return true;
  };

  before(async () => {
    web = await startBackend('web', { route: record('web') });
    other = await startBackend('other', { route: record('other') });
    proxy = await startTestProxy();
    await proxy.router.deploy(deployParams('web', [web.address], { options: { hosts: [PLAIN] } }));
    await proxy.router.deploy(deployParams('other', [other.address], { options: { hosts: [PLAIN_OTHER] } }));
    await proxy.router.deploy(deployParams('secure', [web.address], { options: { hosts: [SECURE], ...tlsOptions } }));
    await proxy.router.deploy(deployParams('secure-other', [other.address], { options: { hosts: [SECURE_OTHER], ...tlsOptions } }));
    await proxy.router.deploy(deployParams('canonical', [web.address], { options: { hosts: ['canon.test', 'www.canon.test'], canonicalHost: 'www.canon.test' } }));
  });
  after(async () => {
    await proxy.stop();
    await web.close();
    await other.close();
  });

  // Raw bytes on a TLS connection (ALPN http/1.1), in pieces as rawExchange.
  function tlsExchange(pieces: string[]): Promise<string> {
    return new Promise((resolve, reject) => {
      const socket = tls.connect({ host: '127.0.0.1', port: proxy.httpsPort, servername: SECURE, ca: cert.certPem, ALPNProtocols: ['http/1.1'] }, () => {
        pieces.forEach((piece, i) => (i === 0 ? socket.write(piece) : setTimeout(() => socket.write(piece), i * 50)));
      });
      let out = '';
      const timer = setTimeout(() => socket.destroy(), 3_000);
      socket.setEncoding('latin1');
      socket.on('data', (d: string) => (out += d));
      socket.on('close', () => {
        clearTimeout(timer);
        resolve(out);
      });
      socket.on('error', (err: NodeJS.ErrnoException) => (err.code === 'ECONNRESET' ? undefined : reject(err)));
    });
  }

  // Each client path HTTP/1.x can take: the whole head in one read (the fast
  // path) or split over two (node:http), on the plain port and over TLS.
  const paths = [
    { name: 'fast path', host: PLAIN, other: PLAIN_OTHER, scheme: 'http', send: (text: string) => rawExchange(proxy.httpPort, text) },
    { name: 'node:http', host: PLAIN, other: PLAIN_OTHER, scheme: 'http', send: (text: string) => rawExchange(proxy.httpPort, split(text)) },
    { name: 'TLS fast path', host: SECURE, other: SECURE_OTHER, scheme: 'https', send: (text: string) => tlsExchange([text]) },
    { name: 'TLS node:http', host: SECURE, other: SECURE_OTHER, scheme: 'https', send: (text: string) => tlsExchange(split(text)) },
  ];
  const split = (text: string) => [text.slice(0, 10), text.slice(10)];
  const statusOf = (response: string) => Number(/^HTTP\/1\.1 (\d{3})/.exec(response)?.[1]);
  const bodyOf = (response: string): Seen => JSON.parse(response.slice(response.indexOf('\r\n\r\n') + 4)) as Seen;

  for (const p of paths) {
    describe(p.name, () => {
      const refused = async (head: string) => {
        seen = [];
        const r = await p.send(`${head}Connection: close\r\n\r\n`);
        assert.equal(statusOf(r), 400, r);
        assert.match(r, /\r\nConnection: close\r\n/i);
        assert.deepEqual(seen, [], 'the app saw it');
      };

      test('the harness: a plain request reaches its app with its Host', async () => {
        const r = await p.send(`GET /x HTTP/1.1\r\nHost: ${p.host}\r\nConnection: close\r\n\r\n`);
        assert.equal(statusOf(r), 200, r);
        assert.deepEqual(bodyOf(r), { app: 'web', url: '/x', host: p.host, xfh: p.host, hostLines: 1 });
      });

      test('two Host lines: 400', async () => {
        await refused(`GET / HTTP/1.1\r\nHost: ${p.host}\r\nHost: ${p.other}\r\n`);
        await refused(`GET / HTTP/1.1\r\nHost: ${p.host}\r\nhost: ${p.host}\r\n`);
        await refused(`GET / HTTP/1.0\r\nHost: ${p.host}\r\nHost: ${p.other}\r\n`);
      });

      test('HTTP/1.1 without Host: 400; HTTP/1.0 without Host is served (by the catch-all, here none: 404)', async () => {
        await refused('GET / HTTP/1.1\r\n');
        const r = await p.send('GET / HTTP/1.0\r\n\r\n');
        assert.equal(statusOf(r), 404, r);
      });

      test('a Host that is not host[:port]: 400', async () => {
        for (const host of [`${p.host}:80@evil.test`, `user@${p.host}`, `${p.host}:8o`, `${p.host}/path`, `${p.host}:80:80`, ':80', '[::1', '[evil.test]:80', `${p.host}%zz`]) {
          await refused(`GET / HTTP/1.1\r\nHost: ${host}\r\n`);
        }
      });

      test('a Host with a port, an IPv6 literal or an empty Host is valid', async () => {
        const withPort = await p.send(`GET / HTTP/1.1\r\nHost: ${p.host}:8443\r\nConnection: close\r\n\r\n`);
        assert.equal(statusOf(withPort), 200, withPort);
        assert.equal(bodyOf(withPort).host, `${p.host}:8443`);
        for (const host of ['[::1]:80', '[::ffff:127.0.0.1]', '127.0.0.1:80', '']) {
          const r = await p.send(`GET / HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`);
          // No service for these hosts: routed, and not found.
          assert.equal(statusOf(r), 404, `${host}: ${r}`);
        }
      });

      test('an absolute-form target is routed by its authority, forwarded in origin-form with it as Host', async () => {
        const r = await p.send(`GET ${p.scheme}://${p.other}/abs?q=1 HTTP/1.1\r\nHost: ${p.host}\r\nConnection: close\r\n\r\n`);
        assert.equal(statusOf(r), 200, r);
        assert.deepEqual(bodyOf(r), { app: 'other', url: '/abs?q=1', host: p.other, xfh: p.other, hostLines: 1 });
        const bare = await p.send(`GET ${p.scheme.toUpperCase()}://${p.host}:8080?q HTTP/1.1\r\nHost: ${p.other}\r\nConnection: close\r\n\r\n`);
        assert.equal(statusOf(bare), 200, bare);
        assert.deepEqual(bodyOf(bare), { app: 'web', url: '/?q', host: `${p.host}:8080`, xfh: `${p.host}:8080`, hostLines: 1 });
        const http10 = await p.send(`GET ${p.scheme}://${p.other}/ten HTTP/1.0\r\n\r\n`);
        assert.equal(statusOf(http10), 200, http10);
        assert.deepEqual(bodyOf(http10), { app: 'other', url: '/ten', host: p.other, xfh: p.other, hostLines: 1 });
      });

      test('an absolute-form target nothing serves is a 404, whatever the Host', async () => {
        const r = await p.send(`GET ${p.scheme}://evil.test/abs HTTP/1.1\r\nHost: ${p.host}\r\nConnection: close\r\n\r\n`);
        assert.equal(statusOf(r), 404, r);
      });

      test('an absolute-form target with userinfo, no authority or another scheme: 400', async () => {
        for (const target of [`${p.scheme}://user@${p.host}/`, `${p.scheme}:///abs`, `ftp://${p.host}/`, `${p.scheme}://${p.host}:80@evil.test/`]) {
          await refused(`GET ${target} HTTP/1.1\r\nHost: ${p.host}\r\n`);
        }
      });
    });
  }

  test('an upgrade with two Host lines: 400, not forwarded', async () => {
    seen = [];
    const r = await rawExchange(
      proxy.httpPort,
      `GET /ws HTTP/1.1\r\nHost: ${PLAIN}\r\nHost: ${PLAIN_OTHER}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n`,
    );
    assert.equal(statusOf(r), 400, r);
    assert.deepEqual(seen, []);
  });

  test('the redirects of an absolute-form request: <scheme>://<host><path>', async () => {
    const toTls = await rawExchange(proxy.httpPort, `GET http://${SECURE}/abs?q=1 HTTP/1.1\r\nHost: ${SECURE}\r\nConnection: close\r\n\r\n`);
    assert.equal(statusOf(toTls), 301, toTls);
    assert.equal(/\r\nLocation: (.*)\r\n/.exec(toTls)?.[1], `https://${SECURE}/abs?q=1`);
    const toCanonical = await rawExchange(proxy.httpPort, 'GET http://canon.test/p?q HTTP/1.1\r\nHost: canon.test\r\nConnection: close\r\n\r\n');
    assert.equal(statusOf(toCanonical), 301, toCanonical);
    assert.equal(/\r\nLocation: (.*)\r\n/.exec(toCanonical)?.[1], 'http://www.canon.test/p?q');
  });

  describe('HTTP/2', () => {
    let session: http2.ClientHttp2Session;
    before(async () => {
      session = await new Promise((resolve, reject) => {
        const s = http2.connect(`https://127.0.0.1:${proxy.httpsPort}`, { servername: SECURE, ca: cert.certPem });
        s.once('connect', () => resolve(s));
        s.once('error', reject);
      });
    });
    after(() => session.destroy());

    function fetch(headers: http2.OutgoingHttpHeaders): Promise<{ status: number; body: string }> {
      return h2Request(session, { ':path': '/h2', ...headers });
    }

    test('the harness: :authority names the service and is the Host the app sees', async () => {
      const r = await fetch({ ':authority': SECURE });
      assert.equal(r.status, 200);
      assert.deepEqual(JSON.parse(r.body), { app: 'web', url: '/h2', host: SECURE, xfh: SECURE, hostLines: 1 });
    });

    test('a Host field that names another host than :authority: 400, not forwarded', async () => {
      seen = [];
      const r = await fetch({ ':authority': SECURE, host: SECURE_OTHER });
      assert.equal(r.status, 400);
      assert.deepEqual(seen, []);
    });

    test('a Host field that agrees with :authority (in any case) is served', async () => {
      const r = await fetch({ ':authority': SECURE, host: SECURE.toUpperCase() });
      assert.equal(r.status, 200);
    });

    test('a malformed :authority: 400, not forwarded', async () => {
      seen = [];
      const r = await fetch({ ':authority': `${SECURE}:44x` });
      assert.equal(r.status, 400);
      assert.deepEqual(seen, []);
    });
  });
});
