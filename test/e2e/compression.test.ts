// --compress through the real proxy, over HTTP/1.1 and HTTP/2: each coding
// decodes back to the app's bytes, the responses that must stay as they are
// do, the head changes (Vary, ETag, Content-Length), the request log, event
// streams arrive event by event, and a slow client holds the app back rather
// than filling the proxy's memory.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import http2 from 'node:http2';
import { Readable, pipeline } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import zlib from 'node:zlib';
import { request } from 'undici';
import { COMPRESS_MIN_BYTES, COMPRESS_WHOLE_MAX_BYTES } from '../../src/config/defaults.ts';
import { startBackend } from '../helpers/backend.ts';
import type { Backend } from '../helpers/backend.ts';
import { cli, deployParams, quietLogs, requestLogLine, startTestProxy } from '../helpers/proxy.ts';
import type { TestProxy } from '../helpers/proxy.ts';
import { waitFor } from '../helpers/wait.ts';
import { selfSigned, tempDir } from '../tls/openssl.ts';
import { h2Connect } from '../helpers/h2-client.ts';

const logFile = quietLogs();

const HOST = 'z.example.test'; // --compress
const BUFFERED = 'zb.example.test'; // --compress --buffer-responses
const PLAIN = 'plain.example.test'; // neither
const CLI_HOST = 'cli.example.test'; // deployed by bin/kamal-proxy

// A page as an app renders it: repeated markup with varying text, over
// COMPRESS_WHOLE_MAX_BYTES: streamed through the compressor.
const PAGE = Buffer.from(
  `<!DOCTYPE html><html><head><title>Orders</title></head><body><table>` +
    Array.from({ length: 1200 }, (_, i) => `<tr class="row"><td>#${i * 7919}</td><td>Customer ${(i * 31) % 97}</td><td>${(i * 13.7).toFixed(2)} EUR</td></tr>`).join('\n') +
    `</table></body></html>`,
);
const JSON_BODY = Buffer.from(JSON.stringify(Array.from({ length: 300 }, (_, i) => ({ id: i, name: `item ${i}`, tags: ['a', 'b', String(i % 5)] }))));
const PNG = Buffer.concat([Buffer.from('89504e470d0a1a0a', 'hex'), Buffer.alloc(4000, 'pixels')]);
const SMALL = Buffer.from('<p>short</p>');
const MEDIUM = PAGE.subarray(0, 8000); // under COMPRESS_WHOLE_MAX_BYTES: compressed whole
// Hex text compresses to about half: the compressed stream is still far
// larger than every socket buffer between the proxy and the client.
const HUGE_BYTES = 48 * 1024 * 1024;

const CODINGS = ['br', 'zstd', 'gzip'] as const;
type Coding = (typeof CODINGS)[number];
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

const requestLine = (requestId: string) => requestLogLine(logFile, requestId);

function decode(coding: string | undefined, body: Buffer): Buffer {
  switch (coding) {
    case 'br':
      return zlib.brotliDecompressSync(body);
    case 'zstd':
      return zlib.zstdDecompressSync(body);
    case 'gzip':
      return zlib.gunzipSync(body);
    case undefined:
      return body;
    default:
      throw new Error(`unexpected coding ${coding}`);
  }
}

function decompressor(coding: Coding): zlib.Zlib & NodeJS.ReadWriteStream {
  if (coding === 'br') return zlib.createBrotliDecompress();
  if (coding === 'zstd') return zlib.createZstdDecompress();
  return zlib.createGunzip();
}

interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

describe('compression', () => {
  const cert = selfSigned(tempDir(), 'compress-e2e', [HOST, BUFFERED, PLAIN]);
  let proxy: TestProxy;
  let app: Backend;
  let session: http2.ClientHttp2Session;
  const releases: (() => void)[] = []; // SSE streams waiting for their second event
  let hugeProduced = 0;
  let hugeClosed = false;

  before(async () => {
    assert.ok(PAGE.length > COMPRESS_WHOLE_MAX_BYTES && MEDIUM.length > COMPRESS_MIN_BYTES && MEDIUM.length <= COMPRESS_WHOLE_MAX_BYTES);
    app = await startBackend('app', {
      route(req, res) {
        const url = req.url!;
        const fixed = (type: string, body: Buffer, extra: Record<string, string> = {}) =>
          res.writeHead(200, { 'Content-Type': type, 'Content-Length': String(body.length), ...extra }).end(body);
        if (url === '/page') return (fixed('text/html; charset=utf-8', PAGE, { ETag: '"v1"', 'Accept-Ranges': 'bytes' }), true);
        if (url === '/weak-etag') return (fixed('text/html', PAGE, { ETag: 'W/"v2"' }), true);
        if (url === '/vary') return (fixed('text/html', PAGE, { Vary: 'Cookie' }), true);
        if (url === '/vary-ae') return (fixed('text/html', PAGE, { Vary: 'accept-encoding, Cookie' }), true);
        if (url === '/png') return (fixed('image/png', PNG), true);
        if (url === '/small') return (fixed('text/html', SMALL), true);
        if (url === '/medium') {
          // Its length first, its body in two writes: collected whole all the same.
          res.writeHead(200, { 'Content-Type': 'text/html', 'Content-Length': String(MEDIUM.length), ETag: '"m1"' });
          res.write(MEDIUM.subarray(0, 3000));
          return (setTimeout(() => res.end(MEDIUM.subarray(3000)), 20), true);
        }
        if (url === '/no-transform') return (fixed('text/html', PAGE, { 'Cache-Control': 'public, no-transform' }), true);
        if (url === '/coded') return (fixed('text/html', zlib.gzipSync(PAGE), { 'Content-Encoding': 'gzip' }), true);
        if (url === '/partial') {
          res.writeHead(206, { 'Content-Type': 'text/html', 'Content-Range': `bytes 0-1999/${PAGE.length}`, 'Content-Length': '2000' });
          return (res.end(PAGE.subarray(0, 2000)), true);
        }
        if (url === '/json') {
          // No length: chunked, a stream of unknown size.
          res.writeHead(200, { 'Content-Type': 'application/json' });
          res.write(JSON_BODY.subarray(0, 1000));
          return (res.end(JSON_BODY.subarray(1000)), true);
        }
        if (url === '/sse') {
          res.writeHead(200, { 'Content-Type': 'text/event-stream', 'Cache-Control': 'no-cache' });
          res.write('data: one\n\n');
          // Unreleased (the first event never arrived), the stream ends
          // anyway, with another second event, so the test fails rather than hangs.
          const late = setTimeout(() => res.end('data: late\n\n'), 5_000);
          releases.push(() => {
            clearTimeout(late);
            res.end('data: two\n\n');
          });
          return true;
        }
        if (url === '/huge') {
          hugeProduced = 0;
          hugeClosed = false;
          res.writeHead(200, { 'Content-Type': 'text/plain' });
          let left = HUGE_BYTES;
          const source = new Readable({
            read() {
              const n = Math.min(left, 64 * 1024);
              left -= n;
              hugeProduced += n;
              this.push(n === 0 ? null : Buffer.from(randomBytes(n / 2).toString('hex')));
            },
          });
          res.on('close', () => (hugeClosed = true));
          pipeline(source, res, () => {});
          return true;
        }
        return false;
      },
    });
    proxy = await startTestProxy();
    const tls = { tlsEnabled: true, tlsRedirect: false, tlsCertificatePath: cert.certPath, tlsPrivateKeyPath: cert.keyPath };
    await proxy.router.deploy(deployParams('z', [app.address], { options: { hosts: [HOST], ...tls }, target: { compress: true } }));
    await proxy.router.deploy(deployParams('zb', [app.address], { options: { hosts: [BUFFERED], ...tls }, target: { compress: true, bufferResponses: true } }));
    await proxy.router.deploy(deployParams('plain', [app.address], { options: { hosts: [PLAIN], ...tls } }));
    session = await h2Connect(proxy.httpsPort, HOST, cert.certPem);
  });
  after(async () => {
    session.destroy();
    await proxy.stop();
    await app.close();
  });

  type Fetch = (path: string, headers?: Record<string, string>, o?: { host?: string; method?: string }) => Promise<Reply>;

  const h1: Fetch = async (path, headers = {}, o = {}) => {
    const res = await request(proxy.url(path), { method: (o.method ?? 'GET') as 'GET', headers: { host: o.host ?? HOST, ...headers } });
    return { status: res.statusCode, headers: res.headers, body: Buffer.from(await res.body.arrayBuffer()) };
  };

  const h2: Fetch = (path, headers = {}, o = {}) =>
    new Promise((resolve, reject) => {
      const stream = session.request({ ':authority': o.host ?? HOST, ':path': path, ':method': o.method ?? 'GET', ...headers });
      let head: http2.IncomingHttpHeaders = {};
      const chunks: Buffer[] = [];
      stream.on('response', (h) => (head = h));
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => resolve({ status: Number(head[':status']), headers: head, body: Buffer.concat(chunks) }));
      stream.on('error', reject);
    });

  for (const [proto, fetch] of [
    ['HTTP/1.1', h1],
    ['HTTP/2', h2],
  ] as const) {
    describe(proto, () => {
      test('each coding the client asks for decodes back to the bytes the app sent', async () => {
        for (const coding of CODINGS) {
          for (const path of ['/page', '/json']) {
            const r = await fetch(path, { 'accept-encoding': coding });
            assert.equal(r.status, 200);
            assert.equal(r.headers['content-encoding'], coding, `${path} ${coding}`);
            assert.equal(r.headers['content-length'], undefined, 'the compressed length is not the app\'s');
            assert.equal(r.headers.vary, 'Accept-Encoding');
            assert.ok(r.body.length < (path === '/page' ? PAGE : JSON_BODY).length / 3, `${path} ${coding}: ${r.body.length} bytes`);
            assert.equal(sha(decode(coding, r.body)), sha(path === '/page' ? PAGE : JSON_BODY), `${path} ${coding}`);
          }
        }
      });

      test('a small body of known length is compressed whole and keeps a Content-Length', async () => {
        for (const coding of CODINGS) {
          const r = await fetch('/medium', { 'accept-encoding': coding });
          assert.equal(r.headers['content-encoding'], coding);
          assert.equal(r.headers['content-length'], String(r.body.length));
          assert.ok(r.body.length < MEDIUM.length / 2);
          assert.equal(r.headers.etag, 'W/"m1"');
          assert.equal(r.headers.vary, 'Accept-Encoding');
          assert.deepEqual(decode(coding, r.body), MEDIUM);
        }
      });

      test("the client's weights choose the coding; equal weights prefer zstd, then br, then gzip", async () => {
        const cases: [string, string | undefined][] = [
          ['gzip, deflate, br, zstd', 'zstd'],
          ['gzip, deflate, br', 'br'],
          ['gzip, zstd', 'zstd'],
          ['gzip;q=1, br;q=0.5', 'gzip'],
          ['br;q=0, gzip', 'gzip'],
          ['*', 'zstd'],
          ['*;q=0.5, zstd;q=0', 'br'],
          ['identity', undefined],
          ['gzip;q=0.4, identity;q=0.9', undefined],
          ['br;q=0, zstd;q=0, gzip;q=0', undefined],
          ['deflate', undefined],
          ['', undefined],
        ];
        for (const [accept, coding] of cases) {
          const r = await fetch('/page', { 'accept-encoding': accept });
          assert.equal(r.headers['content-encoding'], coding, `Accept-Encoding: ${accept}`);
          assert.equal(sha(decode(coding, r.body)), sha(PAGE));
        }
        const none = await fetch('/page');
        assert.equal(none.headers['content-encoding'], undefined, 'no Accept-Encoding: as it is');
        assert.equal(none.headers['content-length'], String(PAGE.length));
        assert.equal(none.headers.vary, 'Accept-Encoding', 'but it varies with it');
        assert.equal(none.headers.etag, '"v1"', 'and keeps its strong ETag');
      });

      test('what must stay as it is: images, small bodies, no-transform, a coded body, ranges', async () => {
        const ae = { 'accept-encoding': 'br, zstd, gzip' };
        const png = await fetch('/png', ae);
        assert.equal(png.headers['content-encoding'], undefined);
        assert.equal(png.headers.vary, undefined);
        assert.deepEqual(png.body, PNG);
        const small = await fetch('/small', ae);
        assert.equal(small.headers['content-encoding'], undefined);
        assert.equal(small.headers['content-length'], String(SMALL.length));
        assert.deepEqual(small.body, SMALL);
        const noTransform = await fetch('/no-transform', ae);
        assert.equal(noTransform.headers['content-encoding'], undefined);
        assert.deepEqual(noTransform.body, PAGE);
        const coded = await fetch('/coded', ae);
        assert.equal(coded.headers['content-encoding'], 'gzip');
        assert.deepEqual(zlib.gunzipSync(coded.body), PAGE, 'coded once, by the app');
        const ranged = await fetch('/page', { ...ae, range: 'bytes=0-99' });
        assert.equal(ranged.headers['content-encoding'], undefined, 'an answer to a Range request');
        assert.deepEqual(ranged.body, PAGE);
        const partial = await fetch('/partial', ae);
        assert.equal(partial.status, 206);
        assert.equal(partial.headers['content-encoding'], undefined);
        assert.deepEqual(partial.body, PAGE.subarray(0, 2000));
        const plain = await fetch('/page', ae, { host: PLAIN });
        assert.equal(plain.headers['content-encoding'], undefined, 'off unless --compress');
        assert.equal(plain.headers.vary, undefined);
      });

      test('ETag weakened, Vary merged, Accept-Ranges dropped on a compressed response', async () => {
        const ae = { 'accept-encoding': 'gzip' };
        const page = await fetch('/page', ae);
        assert.equal(page.headers.etag, 'W/"v1"');
        assert.equal(page.headers['accept-ranges'], undefined);
        assert.equal((await fetch('/weak-etag', ae)).headers.etag, 'W/"v2"', 'a weak one stays as it is');
        assert.equal((await fetch('/vary', ae)).headers.vary, 'Cookie, Accept-Encoding');
        assert.equal((await fetch('/vary-ae', ae)).headers.vary, 'accept-encoding, Cookie', 'named already');
      });

      test('HEAD gets the head GET gets, without a body', async () => {
        const ae = { 'accept-encoding': 'br, gzip' };
        const get = await fetch('/page', ae);
        const head = await fetch('/page', ae, { method: 'HEAD' });
        assert.equal(head.status, 200);
        assert.equal(head.body.length, 0);
        for (const name of ['content-encoding', 'content-length', 'vary', 'etag', 'content-type', 'accept-ranges']) {
          assert.equal(head.headers[name], get.headers[name], name);
        }
        assert.equal(head.headers['content-encoding'], 'br');
      });

      test('the request log: the size on the wire, then the coding and the size before it', async () => {
        const id = `log-${proto}`;
        const r = await fetch('/page', { 'accept-encoding': 'zstd', 'x-request-id': id });
        const line = await requestLine(id);
        assert.equal(line?.resp_content_length, r.body.length);
        assert.equal(line?.resp_encoding, 'zstd');
        assert.equal(line?.resp_uncompressed_length, PAGE.length);
        const keys = Object.keys(line!);
        assert.deepEqual(keys.slice(keys.indexOf('query')), ['query', 'resp_encoding', 'resp_uncompressed_length'], "after kamal-proxy's fields");
        await fetch('/page', { 'x-request-id': `${id}-plain` });
        const plain = await requestLine(`${id}-plain`);
        assert.equal(plain?.resp_content_length, PAGE.length);
        assert.equal(Object.hasOwn(plain!, 'resp_encoding'), false, 'a body sent as it came: the line is kamal-proxy\'s');
      });

      test('with --buffer-responses: buffered, then compressed', async () => {
        for (const coding of CODINGS) {
          const r = await fetch('/page', { 'accept-encoding': coding }, { host: BUFFERED });
          assert.equal(r.headers['content-encoding'], coding);
          assert.deepEqual(decode(coding, r.body), PAGE);
        }
      });

      test('a cross-site request with a cookie is answered uncompressed (BREACH); the same from the site itself is compressed', async () => {
        const ae = { 'accept-encoding': 'gzip', cookie: 'session=secret' };
        const cross = await fetch('/page', { ...ae, 'sec-fetch-site': 'cross-site' });
        assert.equal(cross.headers['content-encoding'], undefined);
        assert.equal(cross.headers.vary, 'Accept-Encoding');
        assert.deepEqual(cross.body, PAGE);
        const same = await fetch('/page', { ...ae, 'sec-fetch-site': 'same-origin' });
        assert.equal(same.headers['content-encoding'], 'gzip');
        const anonymous = await fetch('/page', { 'accept-encoding': 'gzip', 'sec-fetch-site': 'cross-site' });
        assert.equal(anonymous.headers['content-encoding'], 'gzip', 'no credentials, no secret to read');
      });
    });
  }

  // The decoded stream, read event by event: the first arrives while the app
  // still holds the second.
  async function sseEvents(proto: 'HTTP/1.1' | 'HTTP/2', coding: Coding): Promise<string[]> {
    const ae = { 'accept-encoding': coding };
    let body: Readable;
    if (proto === 'HTTP/1.1') {
      const res = await request(proxy.url('/sse'), { headers: { host: HOST, ...ae } });
      assert.equal(res.headers['content-encoding'], coding);
      body = res.body;
    } else {
      const stream = session.request({ ':authority': HOST, ':path': '/sse', ...ae });
      const head = await new Promise<http2.IncomingHttpHeaders>((resolve) => stream.once('response', resolve));
      assert.equal(head['content-encoding'], coding);
      body = stream;
    }
    const decoded = body.pipe(decompressor(coding));
    const events: string[] = [];
    let text = '';
    for await (const chunk of decoded) {
      text += String(chunk);
      let end: number;
      while ((end = text.indexOf('\n\n')) !== -1) {
        events.push(text.slice(0, end));
        text = text.slice(end + 2);
        // The app sends its second event only once the first has arrived.
        if (events.length === 1) {
          await waitFor(() => releases.length > 0);
          releases.shift()!();
        }
      }
    }
    return events;
  }

  test('event streams arrive event by event, compressed, on both protocols', async () => {
    for (const proto of ['HTTP/1.1', 'HTTP/2'] as const) {
      for (const coding of CODINGS) assert.deepEqual(await sseEvents(proto, coding), ['data: one', 'data: two'], `${proto} ${coding}`);
    }
  });

  test('a client that does not read holds the app back: the proxy does not take the whole body', async () => {
    const res = await request(proxy.url('/huge'), { headers: { host: HOST, 'accept-encoding': 'gzip' }, highWaterMark: 1024 });
    assert.equal(res.headers['content-encoding'], 'gzip');
    // Until the socket buffers between app, proxy and client are full.
    let last = -1;
    await waitFor(async () => {
      const now = hugeProduced;
      const still = now === last;
      last = now;
      await new Promise((r) => setTimeout(r, 200));
      return still && hugeProduced === now;
    }, 30_000);
    assert.ok(hugeProduced < HUGE_BYTES / 2, `the app got to write ${hugeProduced} of ${HUGE_BYTES} bytes`);
    // Read now: everything arrives, intact.
    const gunzip = zlib.createGunzip();
    let got = 0;
    const decoded = res.body.pipe(gunzip);
    for await (const chunk of decoded) got += (chunk as Buffer).length;
    assert.equal(got, HUGE_BYTES);
  });

  test('a client that leaves mid-stream: the compressor and the app are let go', async () => {
    const stream = session.request({ ':authority': HOST, ':path': '/huge', 'accept-encoding': 'br' });
    await new Promise((resolve) => stream.once('response', resolve));
    stream.close(http2.constants.NGHTTP2_CANCEL);
    await waitFor(() => hugeClosed);
    assert.ok(hugeProduced < HUGE_BYTES);
  });

  test('bin/kamal-proxy deploy --compress', async () => {
    const env = { KAMAL_PROXY_SOCKET: proxy.socketPath, HOME: proxy.dir };
    const deployed = await cli(['deploy', 'cli-z', `--target=${app.address}`, `--host=${CLI_HOST}`, '--compress'], env);
    assert.deepEqual([deployed.code, deployed.stderr], [0, '']);
    const r = await h1('/page', { 'accept-encoding': 'gzip, br' }, { host: CLI_HOST });
    assert.equal(r.headers['content-encoding'], 'br');
    assert.deepEqual(decode('br', r.body), PAGE);
    const off = await cli(['deploy', 'cli-z', `--target=${app.address}`, `--host=${CLI_HOST}`], env);
    assert.equal(off.code, 0);
    const plain = await h1('/page', { 'accept-encoding': 'gzip, br' }, { host: CLI_HOST });
    assert.equal(plain.headers['content-encoding'], undefined, 'a deploy without the flag turns it off');
  });
});
