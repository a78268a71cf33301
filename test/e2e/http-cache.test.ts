// --http-cache through the real proxy to a real app that counts its
// requests, over HTTP/1.1 and HTTP/2: what is kept, what is served from it
// and with which headers, what empties it, and a napping app's pages served
// while it sleeps.
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import http2 from 'node:http2';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { after, before, describe, test } from 'node:test';
import { Agent, request } from 'undici';
import { startBackend } from '../helpers/backend.ts';
import type { Backend } from '../helpers/backend.ts';
import { NODE, napRequest } from '../helpers/nap.ts';
import { freePort } from '../helpers/free-port.ts';
import { cli, deployParams, quietLogs, ROOT, requestLogLine, startTestProxy } from '../helpers/proxy.ts';
import type { TestProxy } from '../helpers/proxy.ts';
import { scratchDir } from '../helpers/scratch-dir.ts';
import { selfSigned, tempDir } from '../tls/openssl.ts';
import { h2Connect } from '../helpers/h2-client.ts';

const logFile = quietLogs();
const HOST = 'cache.example.test';
const BIG = 'b'.repeat(10_000); // over the service's item limit below
const PAGE = '<p>compressible</p>'.repeat(100);

interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

const requestLine = (requestId: string) => requestLogLine(logFile, requestId);

// Each route's response, by the path after the protocol's prefix.
function route(path: string, req: { headers: Record<string, string | string[] | undefined>; method?: string }): { status?: number; headers: Record<string, string>; body: string } {
  const cc = (v: string) => ({ 'Content-Type': 'text/plain', 'Cache-Control': v });
  switch (path) {
    case '/public':
      return { headers: { ...cc('public, max-age=60'), ETag: '"v1"', 'Last-Modified': 'Tue, 01 Dec 2026 10:00:00 GMT' }, body: 'public page' };
    case '/max-age-only':
      return { headers: cc('max-age=60'), body: 'no public, still shared' };
    case '/s-maxage':
      return { headers: cc('max-age=0, s-maxage=60'), body: 'shared lifetime' };
    case '/s-maxage-zero':
      return { headers: cc('max-age=60, s-maxage=0'), body: 'browsers only' };
    case '/private':
      return { headers: cc('private, max-age=60'), body: 'mine' };
    case '/no-store':
      return { headers: cc('public, max-age=60, no-store'), body: 'never kept' };
    case '/no-cache':
      return { headers: cc('public, max-age=60, no-cache'), body: 'revalidate' };
    case '/cookie':
      return { headers: { ...cc('public, max-age=60'), 'Set-Cookie': 'session=secret' }, body: 'with a cookie' };
    case '/auth':
      return { headers: cc('max-age=60'), body: `for ${req.headers.authorization}` };
    case '/auth-public':
      return { headers: cc('public, max-age=60'), body: 'public to all' };
    case '/vary':
      return { headers: { ...cc('public, max-age=60'), Vary: 'Accept-Language' }, body: `lang ${req.headers['accept-language']}` };
    case '/vary-star':
      return { headers: { ...cc('public, max-age=60'), Vary: '*' }, body: 'varies on anything' };
    case '/aged':
      return { headers: { ...cc('public, max-age=1000'), Age: '100' }, body: 'aged' };
    case '/expires':
      return { headers: { 'Content-Type': 'text/plain', Date: new Date().toUTCString(), Expires: new Date(Date.now() + 600_000).toUTCString() }, body: 'expires later' };
    case '/expired':
      return { headers: { 'Content-Type': 'text/plain', Expires: '0' }, body: 'expired' };
    case '/no-lifetime':
      return { headers: { 'Content-Type': 'text/plain', 'Last-Modified': 'Tue, 01 Dec 2026 10:00:00 GMT' }, body: 'no heuristics' };
    case '/big':
      return { headers: cc('public, max-age=60'), body: BIG };
    case '/chunked':
      return { headers: cc('public, max-age=60'), body: 'sent in two pieces' };
    case '/page':
      return { headers: { 'Content-Type': 'text/html', 'Cache-Control': 'public, max-age=60' }, body: PAGE };
    case '/app-gzip': {
      // An app that compresses itself, gzip only.
      const gzip = String(req.headers['accept-encoding'] ?? '').includes('gzip');
      return { headers: { ...cc('public, max-age=60'), Vary: 'Accept-Encoding', ...(gzip ? { 'Content-Encoding': 'gzip' } : {}) }, body: gzip ? gzipSync(PAGE).toString('latin1') : PAGE };
    }
    case '/missing':
      return { status: 404, headers: cc('public, max-age=60'), body: 'not here' };
    case '/error':
      return { status: 500, headers: cc('public, max-age=60'), body: 'broken' };
    case '/inv':
    case '/inv-target':
      return { status: req.method === 'POST' ? 201 : 200, headers: { ...cc('public, max-age=60'), ...(req.method === 'POST' ? { Location: './inv-target' } : {}) }, body: `${req.method} ${path}` };
    default:
      return { status: 404, headers: { 'Content-Type': 'text/plain' }, body: 'no route' };
  }
}

describe('HTTP cache through the proxy', () => {
  const cert = selfSigned(tempDir(), 'cache-e2e', [HOST]);
  let proxy: TestProxy;
  let app: Backend;
  let session: http2.ClientHttp2Session;
  const seen = new Map<string, number>(); // requests the app got, by URL

  const deployCache = (extra: Record<string, unknown> = {}) =>
    proxy.router.deploy(
      deployParams('cached', [app.address], {
        options: { hosts: [HOST], tlsEnabled: true, tlsRedirect: false, tlsCertificatePath: cert.certPath, tlsPrivateKeyPath: cert.keyPath },
        target: { httpCache: true, httpCacheMaxItemBytes: 4096, ...extra },
      }),
    );

  before(async () => {
    app = await startBackend('app', {
      route(req, res) {
        const url = req.url ?? '/';
        seen.set(url, (seen.get(url) ?? 0) + 1);
        const prefixed = url.match(/^\/h[12](\/[^?]*)/);
        if (prefixed === null) return false;
        req.resume();
        const r = route(prefixed[1]!, req);
        if (prefixed[1] === '/big' || prefixed[1] === '/chunked') {
          // Unknown length: written in pieces, no Content-Length.
          res.writeHead(200, r.headers);
          res.write(r.body.slice(0, 10));
          res.end(r.body.slice(10));
          return true;
        }
        res.writeHead(r.status ?? 200, r.headers).end(Buffer.from(r.body, r.headers['Content-Encoding'] ? 'latin1' : 'utf8'));
        return true;
      },
    });
    proxy = await startTestProxy();
    await deployCache();
    await proxy.router.deploy(deployParams('plain', [app.address], { options: { hosts: ['plain.example.test'] } }));
    session = await h2Connect(proxy.httpsPort, HOST, cert.certPem);
  });
  after(async () => {
    session.destroy();
    await connection.close();
    await proxy.stop();
    await app.close();
  });

  // One connection, as the HTTP/2 session: with several threads serving, a
  // page one stored reaches the others a moment later (test/workers/).
  const connection = new Agent({ connections: 1 });
  const h1 = async (path: string, headers: Record<string, string> = {}, method = 'GET', host = HOST): Promise<Reply> => {
    const res = await request(proxy.url(path), { method: method as 'GET', headers: { host, ...headers }, dispatcher: connection });
    return { status: res.statusCode, headers: res.headers, body: await res.body.text() };
  };
  const h2 = (path: string, headers: Record<string, string> = {}, method = 'GET'): Promise<Reply> =>
    new Promise((resolve, reject) => {
      const stream = session.request({ ':authority': HOST, ':path': path, ':method': method, ...headers });
      let head: http2.IncomingHttpHeaders = {};
      let body = '';
      stream.setEncoding('utf8');
      stream.on('response', (h) => (head = h));
      stream.on('data', (d: string) => (body += d));
      stream.on('end', () => resolve({ status: Number(head[':status']), headers: head, body }));
      stream.on('error', reject);
    });

  for (const [proto, send] of [
    ['h1', h1],
    ['h2', h2],
  ] as const) {
    const p = (path: string) => `/${proto}${path}`;
    const get = (path: string, headers: Record<string, string> = {}, method = 'GET') => send(p(path), headers, method);
    const count = (path: string) => seen.get(p(path)) ?? 0;

    describe(proto === 'h1' ? 'HTTP/1.1' : 'HTTP/2', () => {
      test('a miss, then hits: the app is asked once; X-Cache and Age say so', async () => {
        const miss = await get('/public');
        assert.deepEqual([miss.status, miss.body, miss.headers['x-cache']], [200, 'public page', 'miss']);
        const hit = await get('/public');
        assert.deepEqual([hit.status, hit.body, hit.headers['x-cache']], [200, 'public page', 'hit']);
        assert.equal(hit.headers['content-length'], String('public page'.length));
        assert.equal(hit.headers['etag'], '"v1"');
        assert.match(String(hit.headers.age), /^\d+$/);
        assert.equal(count('/public'), 1);
      });

      test('HEAD is answered from a stored GET, with its length and no body', async () => {
        await get('/public');
        const head = await get('/public', {}, 'HEAD');
        assert.deepEqual([head.status, head.body, head.headers['x-cache'], head.headers['content-length']], [200, '', 'hit', '11']);
        assert.equal(count('/public'), 1);
      });

      test('If-None-Match and If-Modified-Since are answered 304 from a fresh entry, with its validators', async () => {
        await get('/public');
        const inm = await get('/public', { 'if-none-match': 'W/"other", W/"v1"' });
        assert.deepEqual([inm.status, inm.body, inm.headers.etag, inm.headers['x-cache']], [304, '', '"v1"', 'hit']);
        const ims = await get('/public', { 'if-modified-since': 'Wed, 02 Dec 2026 10:00:00 GMT' });
        assert.equal(ims.status, 304);
        const changed = await get('/public', { 'if-none-match': '"v0"' });
        assert.deepEqual([changed.status, changed.body], [200, 'public page']);
        assert.equal(count('/public'), 1);
      });

      test('without `public`: an explicit lifetime is enough (max-age, Expires)', async () => {
        for (const path of ['/max-age-only', '/expires']) {
          await get(path);
          assert.equal((await get(path)).headers['x-cache'], 'hit', path);
          assert.equal(count(path), 1, path);
        }
      });

      test('s-maxage, in its RFC spelling, wins over max-age either way', async () => {
        await get('/s-maxage');
        assert.equal((await get('/s-maxage')).headers['x-cache'], 'hit');
        assert.equal(count('/s-maxage'), 1);
        await get('/s-maxage-zero');
        assert.equal((await get('/s-maxage-zero')).headers['x-cache'], 'miss');
        assert.equal(count('/s-maxage-zero'), 2);
      });

      test('never kept: private, no-store, no-cache, Set-Cookie, Vary: *, no lifetime, an invalid Expires, a 500', async () => {
        for (const path of ['/private', '/no-store', '/no-cache', '/cookie', '/vary-star', '/no-lifetime', '/expired', '/error']) {
          const first = await get(path);
          const second = await get(path);
          assert.equal(second.headers['x-cache'], 'miss', path);
          assert.equal(second.body, first.body, path);
          assert.equal(count(path), 2, path);
        }
        // The cookie still reaches the client that was given it.
        assert.equal(String((await get('/cookie')).headers['set-cookie']), 'session=secret');
      });

      test('a 404 with a lifetime is kept', async () => {
        await get('/missing');
        const hit = await get('/missing');
        assert.deepEqual([hit.status, hit.body, hit.headers['x-cache']], [404, 'not here', 'hit']);
        assert.equal(count('/missing'), 1);
      });

      test('a request with Authorization: its answer is kept only when the response allows a shared cache to', async () => {
        const alice = await get('/auth', { authorization: 'Bearer alice' });
        const bob = await get('/auth', { authorization: 'Bearer bob' });
        assert.deepEqual([alice.body, bob.body], ['for Bearer alice', 'for Bearer bob']);
        assert.equal(count('/auth'), 2);
        await get('/auth-public', { authorization: 'Bearer alice' });
        assert.equal((await get('/auth-public', { authorization: 'Bearer bob' })).headers['x-cache'], 'hit');
        assert.equal(count('/auth-public'), 1);
      });

      test('Vary: one entry per value of the varied request header', async () => {
        assert.equal((await get('/vary', { 'accept-language': 'en' })).body, 'lang en');
        assert.equal((await get('/vary', { 'accept-language': 'fr' })).body, 'lang fr');
        const en = await get('/vary', { 'accept-language': 'en' });
        const fr = await get('/vary', { 'accept-language': 'fr' });
        assert.deepEqual([en.body, en.headers['x-cache'], fr.body, fr.headers['x-cache']], ['lang en', 'hit', 'lang fr', 'hit']);
        assert.equal(count('/vary'), 2);
      });

      test("Age counts the upstream's Age", async () => {
        await get('/aged');
        const hit = await get('/aged');
        assert.equal(hit.headers['x-cache'], 'hit');
        assert.ok(Number(hit.headers.age) >= 100, `Age ${hit.headers.age}`);
      });

      test('the client asks for a new answer: bypass (no-cache, max-age=0), and no-store keeps nothing', async () => {
        await get('/s-maxage');
        const before = count('/s-maxage');
        assert.equal((await get('/s-maxage', { 'cache-control': 'no-cache' })).headers['x-cache'], 'bypass');
        assert.equal((await get('/s-maxage', { 'cache-control': 'max-age=0' })).headers['x-cache'], 'bypass');
        assert.equal(count('/s-maxage'), before + 2);
        assert.equal((await get('/s-maxage')).headers['x-cache'], 'hit');
      });

      test('a POST is a bypass and invalidates its URI and the Location it answers with', async () => {
        await get('/inv');
        await get('/inv-target');
        assert.equal((await get('/inv')).headers['x-cache'], 'hit');
        const post = await get('/inv', {}, 'POST');
        assert.deepEqual([post.status, post.headers['x-cache']], [201, 'bypass']);
        assert.equal((await get('/inv')).headers['x-cache'], 'miss');
        assert.equal((await get('/inv-target')).headers['x-cache'], 'miss');
        assert.equal(count('/inv'), 3); // GET, POST, GET
        assert.equal(count('/inv-target'), 2);
      });

      test('over --http-cache-max-item: streamed through whole, not kept', async () => {
        const first = await get('/big');
        assert.equal(first.body, BIG);
        const second = await get('/big');
        assert.deepEqual([second.body.length, second.headers['x-cache']], [BIG.length, 'miss']);
        assert.equal(count('/big'), 2);
      });
    });
  }

  test('a response of unknown length within the item limit is kept, and served with its length', async () => {
    const miss = await h1('/h1/chunked');
    assert.deepEqual([miss.headers['content-length'], miss.headers['transfer-encoding']], [undefined, 'chunked']);
    const hit = await h1('/h1/chunked');
    assert.deepEqual([hit.body, hit.headers['x-cache'], hit.headers['content-length']], ['sent in two pieces', 'hit', '18']);
    assert.equal(seen.get('/h1/chunked'), 1);
    assert.equal((await h1('/h1/chunked?again')).headers['x-cache'], 'miss', 'another query is another URI');
  });

  test('a service without --http-cache is left alone: no X-Cache, no cache field in its log line', async () => {
    const r = await h1('/h1/public', { 'x-request-id': 'plain-1' }, 'GET', 'plain.example.test');
    assert.equal(r.headers['x-cache'], undefined);
    const line = await requestLine('plain-1');
    assert.equal(line?.status, 200);
    assert.equal(Object.hasOwn(line!, 'cache'), false);
  });

  test('the request log says hit, miss or bypass after the kamal-proxy fields, with the bytes a hit sent', async () => {
    await h1('/h1/public?log', { 'x-request-id': 'log-miss' });
    await h1('/h1/public?log', { 'x-request-id': 'log-hit' });
    await h1('/h1/public?log', { 'x-request-id': 'log-bypass', 'cache-control': 'no-cache' });
    const hit = await requestLine('log-hit');
    assert.deepEqual([(await requestLine('log-miss'))?.cache, hit?.cache, (await requestLine('log-bypass'))?.cache], ['miss', 'hit', 'bypass']);
    assert.deepEqual([hit?.status, hit?.resp_content_length, hit?.resp_content_type, hit?.service], [200, 11, 'text/plain', 'cached']);
    assert.equal(Object.keys(hit!).at(-1), 'cache');
  });

  test('a HEAD miss keeps nothing (it has no body); a Range request is a bypass', async () => {
    const head = await h1('/h1/max-age-only?head', {}, 'HEAD');
    assert.deepEqual([head.status, head.headers['x-cache']], [200, 'miss']);
    const get = await h1('/h1/max-age-only?head');
    assert.deepEqual([get.body, get.headers['x-cache']], ['no public, still shared', 'miss']);
    const range = await h1('/h1/max-age-only?head', { range: 'bytes=0-1' });
    assert.equal(range.headers['x-cache'], 'bypass');
    assert.equal(seen.get('/h1/max-age-only?head'), 3);
  });

  test('while a rollout splits traffic the cache is left out: one cache would mix the versions', async () => {
    const v2 = await startBackend('v2', {
      route(req, res) {
        req.resume();
        res.writeHead(200, { 'Content-Type': 'text/plain', 'Cache-Control': 'public, max-age=60' }).end('v2');
        return true;
      },
    });
    try {
      await proxy.router.rolloutDeploy({ service: 'cached', targets: [v2.address], readers: [], deployTimeoutMs: 5_000, drainTimeoutMs: 1_000 });
      await proxy.router.rolloutSet('cached', 0, ['1']);
      const as = async (cookie: string) => {
        const r = await h1('/h1/expires?rollout', { cookie });
        return [r.body, r.headers['x-cache']];
      };
      assert.deepEqual(await as('kamal-rollout=2'), ['expires later', undefined]);
      assert.deepEqual(await as('kamal-rollout=1'), ['v2', undefined]);
      assert.deepEqual(await as('kamal-rollout=2'), ['expires later', undefined]);
      await proxy.router.rolloutStop('cached');
      await h1('/h1/expires?rollout');
      assert.equal((await h1('/h1/expires?rollout')).headers['x-cache'], 'hit', 'back on once the split ends');
    } finally {
      await v2.close();
    }
  });

  test('a deploy empties the cache', async () => {
    await h1('/h1/expires');
    assert.equal((await h1('/h1/expires')).headers['x-cache'], 'hit');
    await deployCache();
    assert.equal((await h1('/h1/expires')).headers['x-cache'], 'miss');
  });

  test('with --compress each coding is stored once, whatever the spelling of Accept-Encoding', async () => {
    await deployCache({ compress: true });
    try {
      const as = async (ae: string | undefined) => {
        const r = await h1('/h1/page?codings', ae === undefined ? {} : { 'accept-encoding': ae });
        return [r.headers['x-cache'], r.headers['content-encoding']];
      };
      assert.deepEqual(await as('gzip, deflate, br, zstd'), ['miss', 'zstd']);
      assert.deepEqual(await as('zstd, gzip'), ['hit', 'zstd']);
      assert.deepEqual(await as('gzip'), ['miss', 'gzip']);
      assert.deepEqual(await as('gzip, deflate'), ['hit', 'gzip']);
      assert.deepEqual(await as(undefined), ['miss', undefined]);
      assert.equal(seen.get('/h1/page?codings'), 3, 'the app was asked once per coding');
    } finally {
      await deployCache();
    }
  });

  test("a variant in a coding the client does not accept is not served to it (an app that compresses itself)", async () => {
    // `gzip, br` and `br` ask for the same coding from us, but this app gives
    // the first gzip: the second, which cannot decode gzip, must not get it.
    const first = await h1('/h1/app-gzip', { 'accept-encoding': 'gzip, br' });
    assert.equal(first.headers['content-encoding'], 'gzip');
    const second = await h1('/h1/app-gzip', { 'accept-encoding': 'br' });
    assert.deepEqual([second.headers['x-cache'], second.headers['content-encoding'], second.body], ['miss', undefined, PAGE]);
  });
});

describe('HTTP cache and napping', () => {
  let proxy: TestProxy;
  let dir: string;
  before(async () => {
    dir = scratchDir('kn-cache-nap-');
    proxy = await startTestProxy(dir);
  });
  after(async () => {
    for (const s of proxy.router.napStatus()) await proxy.router.remove(s.service).catch(() => {});
    await proxy.stop();
  });

  test('a hit while the app sleeps is served without waking it and is not activity', async () => {
    const port = await freePort();
    const startLog = join(dir, 'starts');
    const hitLog = join(dir, 'hits');
    const command = `exec env PORT=${port} START_LOG=${startLog} HIT_LOG=${hitLog} ${NODE} ${join(ROOT, 'test/accel/http-cache/cacheable-app.ts')}`;
    const lines = (file: string) => (existsSync(file) ? readFileSync(file, 'utf8').trim().split('\n').filter(Boolean).length : 0);
    await proxy.router.deploy({
      ...deployParams('sleepy', [`127.0.0.1:${port}`], { options: { hosts: ['sleepy.example.test'] }, target: { httpCache: true } }),
      nap: napRequest({ command, idleTimeoutMs: 0 }),
    });
    const get = async (path: string) => {
      const res = await request(proxy.url(path), { headers: { host: 'sleepy.example.test', accept: 'text/html' } });
      return { status: res.statusCode, xCache: res.headers['x-cache'], body: await res.body.text() };
    };
    assert.deepEqual(await get('/page'), { status: 200, xCache: 'miss', body: 'page /page' });
    const napper = proxy.router.service('sleepy')!.napper!;
    await proxy.router.napNap('sleepy');
    assert.equal(napper.state, 'stopped');
    const starts = lines(startLog);
    // With two threads, the miss's end may be told the napper a moment late
    // (with when it ended): only a time from the hit on would be the hit's.
    const hitAt = Date.now();
    assert.deepEqual(await get('/page'), { status: 200, xCache: 'hit', body: 'page /page' });
    assert.equal(napper.state, 'stopped', 'still asleep');
    assert.equal(lines(startLog), starts, 'not started');
    assert.ok(napper.lastActivityMs < hitAt, 'not activity');
    assert.equal(lines(hitLog), 1);
  });
});

describe('HTTP cache from the command line', () => {
  test('deploy --http-cache --http-cache-size --http-cache-max-item through bin/kamal-proxy', async () => {
    const app = await startBackend('cli-app', {
      route(_req, res) {
        res.writeHead(200, { 'Cache-Control': 'public, max-age=60' }).end('from the app');
        return true;
      },
    });
    const proxy = await startTestProxy();
    try {
      const env = { KAMAL_PROXY_SOCKET: proxy.socketPath, HOME: proxy.dir };
      const r = await cli(['deploy', 'cli-cache', `--target=${app.address}`, '--host=cli.example.test', '--http-cache', '--http-cache-size=1048576', '--http-cache-max-item=2048'], env);
      assert.deepEqual([r.code, r.stderr], [0, '']);
      const o = proxy.router.service('cli-cache')!.targetOptions;
      assert.deepEqual([o.httpCache, o.httpCacheSizeBytes, o.httpCacheMaxItemBytes], [true, 1_048_576, 2048]);
      // One connection, so one thread: another thread's copy hears of the
      // store a moment later (test/workers/).
      const connection = new Agent({ connections: 1 });
      const get = async () => {
        const res = await request(proxy.url('/x'), { headers: { host: 'cli.example.test' }, dispatcher: connection });
        await res.body.text();
        return res.headers['x-cache'];
      };
      try {
        assert.deepEqual([await get(), await get()], ['miss', 'hit']);
      } finally {
        await connection.close();
      }
      assert.equal(app.requests, 1);
    } finally {
      await proxy.stop();
      await app.close();
    }
  });
});
