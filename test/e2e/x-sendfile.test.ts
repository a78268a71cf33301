// --x-sendfile-root through the real proxy, to a real app answering
// X-Sendfile, over HTTP/1.1 and HTTP/2: the file with Range, ETag,
// Last-Modified and 304s; paths outside the roots refused and logged with
// none of the file read; the feature off passes the header through; a big
// file reaches a slow client with back-pressure. And one deploy through
// bin/kamal-proxy with the flag.
import assert from 'node:assert/strict';
import { closeSync, mkdirSync, openSync, readdirSync, readFileSync, readlinkSync, realpathSync, statSync, symlinkSync, utimesSync, writeFileSync, writeSync } from 'node:fs';
import http from 'node:http';
import http2 from 'node:http2';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { request } from 'undici';
import { log } from '../../src/log/logger.ts';
import { startBackend } from '../helpers/backend.ts';
import type { Backend } from '../helpers/backend.ts';
import { cli, deployParams, quietLogs, startTestProxy } from '../helpers/proxy.ts';
import type { TestProxy } from '../helpers/proxy.ts';
import { scratchDir } from '../helpers/scratch-dir.ts';
import { selfSigned, tempDir } from '../tls/openssl.ts';
import { waitFor } from '../helpers/wait.ts';
import { h2Connect } from '../helpers/h2-client.ts';

const logFile = quietLogs();
const ON = 'files.example.test';
const OFF = 'plain.example.test';
const H2 = 'h2files.example.test';

const base = realpathSync(scratchDir('kn-sendfile-'));
const root = join(base, 'files');
const HELLO = Buffer.from('hello, x-sendfile!\n');
const SECRET = 'TOP-SECRET-BYTES';
const BIG_BYTES = 32 * 1024 * 1024; // far past every socket buffer on loopback
const OLD_ATIME = new Date('2000-01-01T00:00:00Z');

function setUpFiles(): void {
  mkdirSync(join(root, 'dir'), { recursive: true });
  mkdirSync(join(base, 'files2'));
  writeFileSync(join(root, 'hello.txt'), HELLO);
  writeFileSync(join(root, 'empty.txt'), '');
  writeFileSync(join(root, 'big.bin'), Buffer.alloc(BIG_BYTES, 'abcdefgh'));
  writeFileSync(join(base, 'secret.txt'), SECRET);
  writeFileSync(join(base, 'files2', 'beside.txt'), SECRET);
  symlinkSync(join(base, 'secret.txt'), join(root, 'escape.txt'));
}

// The file's last access time, set far before its modification time, so
// that (with relatime, or strictatime) reading it moves it.
const atimeOf = (path: string) => statSync(path).atimeMs;
const ageAtime = (path: string) => utimesSync(path, OLD_ATIME, statSync(path).mtime);

async function logLines(): Promise<Record<string, unknown>[]> {
  await log.flush();
  return readFileSync(logFile, 'utf8')
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

describe('X-Sendfile', () => {
  const cert = selfSigned(tempDir(), 'sendfile-e2e', [H2]);
  let proxy: TestProxy;
  let app: Backend;
  let session: http2.ClientHttp2Session;

  before(async () => {
    setUpFiles();
    app = await startBackend('app', {
      route: (req, res) => {
        const url = new URL(req.url ?? '/', 'http://app');
        const file = url.searchParams.get('f');
        if (url.pathname !== '/send' || file === null) return false;
        const headers: Record<string, string> = {
          'X-Sendfile': file,
          'Content-Length': '0', // as Rack::Sendfile sends it
          ETag: '"from-the-app"',
          'Last-Modified': 'Mon, 01 Jan 2001 00:00:00 GMT',
          'Cache-Control': 'private, max-age=60',
          'X-App': 'yes',
        };
        if (url.searchParams.get('ct') !== 'none') headers['Content-Type'] = 'text/plain; charset=utf-8';
        if (url.searchParams.has('gz')) headers['Content-Encoding'] = 'gzip';
        const status = Number(url.searchParams.get('status') ?? 200);
        if (url.searchParams.has('body')) {
          headers['Content-Length'] = '13';
          res.writeHead(status, headers).end('the app body!');
        } else res.writeHead(status, headers).end();
        return true;
      },
    });
    proxy = await startTestProxy();
    const roots = { xSendfileRoots: [root] };
    await proxy.router.deploy(deployParams('files', [app.address], { options: { hosts: [ON] }, target: roots }));
    await proxy.router.deploy(deployParams('plain', [app.address], { options: { hosts: [OFF] } }));
    await proxy.router.deploy(
      deployParams('h2files', [app.address], {
        options: { hosts: [H2], tlsEnabled: true, tlsCertificatePath: cert.certPath, tlsPrivateKeyPath: cert.keyPath },
        target: roots,
      }),
    );
    session = await h2Connect(proxy.httpsPort, H2, cert.certPem);
  });
  after(async () => {
    session.destroy();
    await proxy.stop();
    await app.close();
  });

  const sendPath = (file: string, extra = '') => `/send?f=${encodeURIComponent(file)}${extra}`;

  async function h1(host: string, path: string, headers: Record<string, string> = {}, method = 'GET'): Promise<Reply> {
    const res = await request(proxy.url(path), { method: method as 'GET', headers: { host, ...headers } });
    return { status: res.statusCode, headers: res.headers, body: Buffer.from(await res.body.arrayBuffer()) };
  }

  function h2(path: string, headers: Record<string, string> = {}, method = 'GET'): Promise<Reply> {
    return new Promise((resolve, reject) => {
      const stream = session.request({ ':authority': H2, ':path': path, ':method': method, ...headers });
      let head: http2.IncomingHttpHeaders = {};
      const chunks: Buffer[] = [];
      stream.on('response', (h) => (head = h));
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => resolve({ status: Number(head[':status']), headers: head, body: Buffer.concat(chunks) }));
      stream.on('error', reject);
    });
  }

  const protocols: [string, (path: string, headers?: Record<string, string>, method?: string) => Promise<Reply>][] = [
    ['HTTP/1.1', (path, headers, method) => h1(ON, path, headers, method)],
    ['HTTP/2', h2],
  ];

  for (const [proto, get] of protocols) {
    describe(proto, () => {
      test('the whole file, with validators, the app\'s other headers, and neither X-Sendfile nor the app\'s body', async () => {
        const r = await get(sendPath(join(root, 'hello.txt'), '&body'));
        assert.equal(r.status, 200);
        assert.deepEqual(r.body, HELLO);
        assert.equal(r.headers['content-length'], String(HELLO.length));
        assert.equal(r.headers['accept-ranges'], 'bytes');
        assert.equal(r.headers['content-type'], 'text/plain; charset=utf-8');
        assert.equal(r.headers['x-app'], 'yes');
        assert.equal(r.headers['cache-control'], 'private, max-age=60');
        assert.equal(r.headers['x-sendfile'], undefined);
        assert.match(String(r.headers.etag), /^"[^"]+"$/);
        assert.notEqual(r.headers.etag, '"from-the-app"');
        assert.equal(r.headers['last-modified'], statSync(join(root, 'hello.txt')).mtime.toUTCString());
      });

      test('the app is told it may use X-Sendfile, whatever the client said', async () => {
        await get(sendPath(join(root, 'hello.txt')), { 'x-sendfile-type': 'X-Accel-Redirect' });
        assert.equal(app.lastHeaders['x-sendfile-type'], 'X-Sendfile');
      });

      test('a single range is 206 with its Content-Range; If-Range with another tag gets the whole file', async () => {
        const r = await get(sendPath(join(root, 'hello.txt')), { range: 'bytes=7-16' });
        assert.equal(r.status, 206);
        assert.deepEqual(r.body, HELLO.subarray(7, 17));
        assert.equal(r.headers['content-range'], `bytes 7-16/${HELLO.length}`);
        assert.equal(r.headers['content-length'], '10');

        const suffix = await get(sendPath(join(root, 'hello.txt')), { range: 'bytes=-3' });
        assert.deepEqual([suffix.status, suffix.body.toString()], [206, 'e!\n']);

        const etag = String(r.headers.etag);
        const held = await get(sendPath(join(root, 'hello.txt')), { range: 'bytes=0-4', 'if-range': etag });
        assert.deepEqual([held.status, held.body.toString()], [206, 'hello']);
        const changed = await get(sendPath(join(root, 'hello.txt')), { range: 'bytes=0-4', 'if-range': '"stale"' });
        assert.equal(changed.status, 200);
        assert.deepEqual(changed.body, HELLO);
      });

      test('several ranges get the whole file (200); a range past the end is 416 with the size', async () => {
        const several = await get(sendPath(join(root, 'hello.txt')), { range: 'bytes=0-1,4-5' });
        assert.equal(several.status, 200);
        assert.deepEqual(several.body, HELLO);
        const past = await get(sendPath(join(root, 'hello.txt')), { range: `bytes=${HELLO.length}-` });
        assert.equal(past.status, 416);
        assert.equal(past.headers['content-range'], `bytes */${HELLO.length}`);
        assert.equal(past.body.length, 0);
      });

      test('304 for a matching If-None-Match (weak comparison) or If-Modified-Since, and neither reads the file', async (t) => {
        const path = join(root, 'hello.txt');
        ageAtime(path);
        const head = await get(sendPath(path), {}, 'HEAD');
        assert.equal(head.status, 200);
        assert.equal(head.headers['content-length'], String(HELLO.length));
        assert.equal(head.headers['accept-ranges'], 'bytes');
        assert.equal(head.body.length, 0);
        const etag = String(head.headers.etag);
        const lastModified = String(head.headers['last-modified']);
        const conditions: Record<string, string>[] = [{ 'if-none-match': etag }, { 'if-none-match': `"x", W/${etag}` }, { 'if-modified-since': lastModified }];
        for (const headers of conditions) {
          const r = await get(sendPath(path), headers);
          assert.equal(r.status, 304, JSON.stringify(headers));
          assert.equal(r.body.length, 0);
          assert.equal(r.headers.etag, etag);
          assert.equal(r.headers['x-sendfile'], undefined);
        }
        const untouched = atimeOf(path);

        // A date from before the last change, or another tag: the file.
        const older = new Date(statSync(path).mtimeMs - 5_000).toUTCString();
        assert.equal((await get(sendPath(path), { 'if-modified-since': older })).status, 200);
        // If-None-Match decides alone when present.
        const other = await get(sendPath(path), { 'if-none-match': '"other"', 'if-modified-since': lastModified });
        assert.equal(other.status, 200);
        assert.equal(other.headers.etag, etag, 'HEAD and GET name the same tag');

        assert.equal(untouched, OLD_ATIME.getTime(), '304s and HEAD left the file unread');
        if (atimeOf(path) === untouched) t.skip('this file system does not record reads (noatime): the check above could not fail');
      });

      test('a missing file is 404; a directory is 500', async () => {
        assert.equal((await get(sendPath(join(root, 'gone.txt')))).status, 404);
        assert.equal((await get(sendPath(join(root, 'dir')))).status, 500);
      });

      test('an empty file, a file without the app naming a type, and a precompressed one keep what the app said', async () => {
        const empty = await get(sendPath(join(root, 'empty.txt')));
        assert.deepEqual([empty.status, empty.headers['content-length'], empty.body.length], [200, '0', 0]);
        const gz = await get(sendPath(join(root, 'hello.txt'), '&gz'));
        assert.equal(gz.headers['content-encoding'], 'gzip', 'the file is the encoded one');
        assert.deepEqual(gz.body, HELLO);
      });

      test("another status of the app's is kept, with the whole file", async () => {
        const r = await get(sendPath(join(root, 'hello.txt'), '&status=404'));
        assert.equal(r.status, 404);
        assert.deepEqual(r.body, HELLO);
        assert.equal(r.headers['content-length'], String(HELLO.length));
      });

      test('paths outside the roots are 500, logged, and none of the file is read or sent', async () => {
        const outside = [
          join(base, 'secret.txt'),
          join(base, 'files2', 'beside.txt'), // the root's name is a prefix of its directory's
          `${root}/../secret.txt`,
          join(root, 'escape.txt'), // a symlink inside, leading out
          'secret.txt',
        ];
        for (const file of [join(base, 'secret.txt'), join(base, 'files2', 'beside.txt')]) ageAtime(file);
        for (const file of outside) {
          const r = await get(sendPath(file));
          assert.equal(r.status, 500, file);
          assert.ok(!r.body.toString().includes(SECRET), `none of ${file} sent`);
          assert.equal(r.headers['x-sendfile'], undefined);
          const service = proto === 'HTTP/2' ? 'h2files' : 'files';
          const warned = (await logLines()).filter((l) => l.msg === 'X-Sendfile path outside the roots' && l.path === file && l.service === service);
          assert.equal(warned.length, 1, `one log line for ${file}`);
          assert.equal(warned[0]!.level, 'WARN');
        }
        assert.equal(atimeOf(join(base, 'secret.txt')), OLD_ATIME.getTime(), 'never read');
        assert.equal(atimeOf(join(base, 'files2', 'beside.txt')), OLD_ATIME.getTime(), 'never read');
      });
    });
  }

  test('a GET reads the file (so the access-time checks above can fail)', async (t) => {
    const path = join(root, 'hello.txt');
    ageAtime(path);
    await h1(ON, sendPath(path));
    if (atimeOf(path) === OLD_ATIME.getTime()) t.skip('this file system does not record reads (noatime)');
  });

  test('without --x-sendfile-root the header and the app body pass through untouched, as in kamal-proxy', async () => {
    const r = await h1(OFF, sendPath(join(root, 'hello.txt'), '&body'), { 'x-sendfile-type': 'X-Accel-Redirect' });
    assert.equal(r.status, 200);
    assert.equal(r.headers['x-sendfile'], join(root, 'hello.txt'));
    assert.equal(r.body.toString(), 'the app body!');
    assert.equal(app.lastHeaders['x-sendfile-type'], 'X-Accel-Redirect', "the client's header, as sent");
    await h1(OFF, sendPath(join(root, 'hello.txt')));
    assert.equal(app.lastHeaders['x-sendfile-type'], undefined, 'none added');
  });

  // The client stops reading; meanwhile the file's tail changes. A proxy
  // that waits for the client has not read that tail yet and sends the new
  // bytes; one that read ahead regardless would send the old ones.
  const tail = 1024 * 1024;
  const rewriteTail = (path: string, fill: string) => {
    const fd = openSync(path, 'r+');
    writeSync(fd, Buffer.alloc(tail, fill), 0, tail, BIG_BYTES - tail);
    closeSync(fd);
  };
  const settle = () => new Promise((r) => setTimeout(r, 500));

  test('a big file reaches a client that stops reading whole, read only as the client takes it (HTTP/1.1)', async () => {
    const path = join(root, 'big.bin');
    rewriteTail(path, 'a');
    const res = await new Promise<http.IncomingMessage>((resolve, reject) => {
      http.get({ host: '127.0.0.1', port: proxy.httpPort, path: sendPath(path), headers: { host: ON }, agent: false }, resolve).on('error', reject);
    });
    await settle(); // nothing read by the client: the proxy must be waiting
    rewriteTail(path, 'Z');
    const chunks: Buffer[] = [];
    for await (const c of res) chunks.push(c as Buffer);
    const body = Buffer.concat(chunks);
    assert.equal(body.length, BIG_BYTES);
    assert.equal(body.subarray(0, 8).toString(), 'abcdefgh');
    assert.ok(body.subarray(BIG_BYTES - tail).equals(Buffer.alloc(tail, 'Z')), 'the tail was read after the client resumed');
  });

  test('a big file reaches a client that stops reading whole, read only as the client takes it (HTTP/2)', async () => {
    const path = join(root, 'big.bin');
    rewriteTail(path, 'b');
    const stream = session.request({ ':authority': H2, ':path': sendPath(path) });
    stream.pause();
    await new Promise((r) => stream.once('response', r));
    await settle();
    rewriteTail(path, 'Y');
    const chunks: Buffer[] = [];
    stream.resume();
    for await (const c of stream) chunks.push(c as Buffer);
    const body = Buffer.concat(chunks);
    assert.equal(body.length, BIG_BYTES);
    assert.ok(body.subarray(BIG_BYTES - tail).equals(Buffer.alloc(tail, 'Y')), 'the tail was read after the client resumed');
  });

  // The proxy runs in this process: its open files are ours to list.
  const openOn = (path: string) =>
    readdirSync('/proc/self/fd').filter((fd) => {
      try {
        return readlinkSync(`/proc/self/fd/${fd}`) === path;
      } catch {
        return false; // closed meanwhile
      }
    }).length;

  test('a client that leaves mid-file: the file is closed (HTTP/1.1 and HTTP/2)', async () => {
    const path = join(root, 'big.bin');
    const res = await new Promise<http.IncomingMessage>((resolve, reject) => {
      http.get({ host: '127.0.0.1', port: proxy.httpPort, path: sendPath(path), headers: { host: ON }, agent: false }, resolve).on('error', reject);
    });
    await waitFor(() => openOn(path) === 1);
    res.destroy();
    await waitFor(() => openOn(path) === 0);

    const stream = session.request({ ':authority': H2, ':path': sendPath(path) });
    stream.pause();
    await new Promise((r) => stream.once('response', r));
    await waitFor(() => openOn(path) === 1);
    stream.close(http2.constants.NGHTTP2_CANCEL);
    await waitFor(() => openOn(path) === 0);
  });

  test('deployed through bin/kamal-proxy with --x-sendfile-root (repeatable), with Kamal\'s buffering on', async () => {
    const other = join(base, 'other');
    mkdirSync(other);
    writeFileSync(join(other, 'o.txt'), 'other root');
    const env = { KAMAL_PROXY_SOCKET: proxy.socketPath, HOME: proxy.dir };
    const deployed = await cli(['deploy', 'cli-files', `--target=${app.address}`, '--host=cli.example.test', '--buffer-requests', '--buffer-responses', `--x-sendfile-root=${root}`, `--x-sendfile-root=${other}`], env);
    assert.deepEqual([deployed.code, deployed.stderr], [0, '']);
    const a = await h1('cli.example.test', sendPath(join(root, 'hello.txt')));
    assert.deepEqual([a.status, a.body], [200, HELLO]);
    const b = await h1('cli.example.test', sendPath(join(other, 'o.txt')));
    assert.deepEqual([b.status, b.body.toString()], [200, 'other root']);
    assert.equal((await h1('cli.example.test', sendPath(join(base, 'secret.txt')))).status, 500);
    const state = JSON.parse(readFileSync(proxy.statePath, 'utf8')) as { name: string; target_options: Record<string, unknown> }[];
    assert.deepEqual(state.find((s) => s.name === 'cli-files')?.target_options.x_sendfile_roots, [root, other]);
  });
});
