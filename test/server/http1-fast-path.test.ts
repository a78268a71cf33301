// The plain-HTTP fast path against real sockets: which requests it takes,
// which it hands to node:http (and that nothing is lost or reordered at the
// hand-over), and the framing of what Http1Response writes.
import assert from 'node:assert/strict';
import http from 'node:http';
import type { IncomingMessage } from 'node:http';
import type { ProxyRequest } from '../../src/http/proxy-request.ts';
import type { ProxyResponse } from '../../src/http/proxy-response.ts';
import net from 'node:net';
import { Readable } from 'node:stream';
import { after, before, beforeEach, describe, test } from 'node:test';
import { Http1FastConnection, Http1Request } from '../../src/server/http1-fast-path.ts';
import { rawExchange } from '../helpers/raw-http.ts';

type Handler = (req: ProxyRequest, res: ProxyResponse) => void;

describe('HTTP/1.1 fast path', () => {
  let listener: net.Server;
  let port = 0;
  const connections = new Set<Http1FastConnection>();
  let taken: string[] = []; // 'fast' or 'node', one per request, in order
  let handler: Handler;
  const echo: Handler = (req, res) => {
    let body = 0;
    const answer = () => res.end(`${req.method} ${req.url} body=${body}`);
    if (req instanceof Http1Request) {
      body = req.body?.length ?? 0;
      answer();
    } else (req as IncomingMessage).on('data', (d: Buffer) => (body += d.length)).on('end', answer);
  };

  before(async () => {
    const onRequest: Handler = (req, res) => {
      taken.push(req instanceof Http1Request ? 'fast' : 'node');
      handler(req, res);
    };
    const fallback = http.createServer({ keepAliveTimeout: 60_000 }, onRequest);
    fallback.emit('listening');
    listener = net.createServer({ allowHalfOpen: true, noDelay: true }, (socket) => {
      connections.add(new Http1FastConnection(socket, fallback, onRequest, (c) => connections.delete(c)));
    });
    await new Promise<void>((resolve) => listener.listen(0, '127.0.0.1', resolve));
    port = (listener.address() as net.AddressInfo).port;
  });
  after(async () => {
    for (const c of connections) c.destroy();
    await new Promise((resolve) => listener.close(resolve));
  });
  beforeEach(() => {
    taken = [];
    handler = echo;
  });

  const statuses = (raw: string) => [...raw.matchAll(/HTTP\/1\.1 (\d{3})/g)].map((m) => Number(m[1]));
  const headOf = (raw: string) => raw.slice(0, raw.indexOf('\r\n\r\n'));

  test('a GET is taken: Content-Length from end(), a Date, no Keep-Alive header, the connection kept', async () => {
    const raw = await rawExchange(port, 'GET /a?x=1 HTTP/1.1\r\nHost: h\r\n\r\n', 300);
    assert.deepEqual(taken, ['fast']);
    const head = headOf(raw);
    assert.match(head, /^HTTP\/1\.1 200 OK\r\n/);
    assert.match(head, /\r\nContent-Length: 17(\r\n|$)/);
    assert.match(head, /\r\nDate: \w{3}, \d\d \w{3} \d{4} \d\d:\d\d:\d\d GMT/);
    assert.doesNotMatch(head, /Keep-Alive|Connection/i);
    assert.ok(raw.endsWith('\r\n\r\nGET /a?x=1 body=0'), raw);
  });

  test('two pipelined GETs in one write are answered in order, both on the fast path', async () => {
    const raw = await rawExchange(port, 'GET /1 HTTP/1.1\r\nHost: h\r\n\r\nGET /2 HTTP/1.1\r\nHost: h\r\n\r\n', 300);
    assert.deepEqual(taken, ['fast', 'fast']);
    assert.ok(raw.indexOf('GET /1 body=0') < raw.indexOf('GET /2 body=0') && raw.includes('GET /2 body=0'), raw);
  });

  test('a POST whose small body came with its head is taken; a chunked one goes to node:http; pipelined, all keep their order', async () => {
    let seen: Buffer | null = null;
    handler = (req, res) => {
      if (req instanceof Http1Request && req.method === 'POST') seen = req.body;
      echo(req, res);
    };
    const raw = await rawExchange(
      port,
      'GET /1 HTTP/1.1\r\nHost: h\r\n\r\n' +
        'POST /2 HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nhello' +
        'GET /3 HTTP/1.1\r\nHost: h\r\n\r\n' +
        'POST /4 HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n' +
        'GET /5 HTTP/1.1\r\nHost: h\r\n\r\n',
      300,
    );
    assert.deepEqual(taken, ['fast', 'fast', 'fast', 'node', 'node']);
    assert.equal(String(seen), 'hello');
    const order = ['GET /1 body=0', 'POST /2 body=5', 'GET /3 body=0', 'POST /4 body=3', 'GET /5 body=0'].map((s) => raw.indexOf(s));
    assert.ok(order.every((i) => i >= 0) && order.every((v, i) => i === 0 || order[i - 1]! < v), raw);
  });

  test('a body that arrives after its head, or over 64 KiB, goes to node:http whole; Content-Length: 0 is taken', async () => {
    const split = await rawExchange(port, ['POST /split HTTP/1.1\r\nHost: h\r\nContent-Length: 10\r\nConnection: close\r\n\r\nhello', 'world']);
    assert.match(split, /POST \/split body=10$/);
    const big = 64 * 1024 + 1;
    const large = await rawExchange(port, `POST /big HTTP/1.1\r\nHost: h\r\nContent-Length: ${big}\r\nConnection: close\r\n\r\n${'x'.repeat(big)}`);
    assert.match(large, new RegExp(`POST /big body=${big}$`));
    const empty = await rawExchange(port, 'POST /empty HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\nConnection: close\r\n\r\n');
    assert.match(empty, /POST \/empty body=0$/);
    assert.deepEqual(taken, ['node', 'node', 'fast']);
  });

  test('a head split over two writes, Expect and HTTP/1.0 go to node:http and are answered', async () => {
    const split = await rawExchange(port, ['GET /split HTTP/1.1\r\nHo', 'st: h\r\nConnection: close\r\n\r\n']);
    assert.match(split, /GET \/split body=0$/);
    await rawExchange(port, 'GET /e HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n');
    const old = await rawExchange(port, 'GET /old HTTP/1.0\r\nHost: h\r\n\r\n');
    assert.match(old, /GET \/old body=0$/);
    assert.deepEqual(taken, ['node', 'node', 'node']);
  });

  test('a malformed request reaches node:http, whose parser answers 400', async () => {
    const raw = await rawExchange(port, 'GET / HTTP/1.1\r\nHost : h\r\n\r\n');
    assert.deepEqual(statuses(raw), [400]);
    assert.deepEqual(taken, []);
  });

  test('Connection: close is answered with Connection: close, and the connection ends', async () => {
    const raw = await rawExchange(port, 'GET /c HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n');
    assert.deepEqual(taken, ['fast']);
    assert.match(headOf(raw), /\r\nConnection: close/);
    assert.ok(raw.endsWith('GET /c body=0'));
  });

  test('a client that half-closes while its response is produced is gone: closed unfinished, as in node:http', async () => {
    let closed: { finished: boolean; destroyed: boolean } | null = null;
    const done = new Promise<void>((resolve) => {
      handler = (_req, res) => {
        res.on('close', () => {
          closed = { finished: res.writableFinished, destroyed: res.destroyed };
          resolve();
        });
        setTimeout(() => res.end('late'), 50);
      };
    });
    const s = net.connect({ port, host: '127.0.0.1', allowHalfOpen: true }, () => s.end('GET /h HTTP/1.1\r\nHost: h\r\n\r\n'));
    s.on('error', () => {});
    await done;
    s.destroy();
    assert.deepEqual(taken, ['fast']);
    assert.deepEqual(closed, { finished: false, destroyed: true });
  });

  test('HEAD gets the headers and no body', async () => {
    const raw = await rawExchange(port, 'HEAD /x HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n');
    assert.deepEqual(taken, ['fast']);
    assert.match(raw, /Content-Length: 14\r\n/);
    assert.ok(raw.endsWith('\r\n\r\n'), raw);
  });

  test('headers: more than 32 lines all arrive; duplicates fold as in node:http', async () => {
    let seen: ProxyRequest | null = null;
    handler = (req, res) => {
      seen = req;
      res.end('ok');
    };
    const extra = Array.from({ length: 40 }, (_, i) => `X-H${i}: v${i}\r\n`).join('');
    await rawExchange(port, `GET / HTTP/1.1\r\nHost: h\r\nUser-Agent: first\r\nUser-Agent: second\r\nX-A: 1\r\nX-A: 2\r\nSet-Cookie: a\r\nSet-Cookie: b\r\nCookie: c=1\r\nCookie: d=2\r\n${extra}Connection: close\r\n\r\n`);
    assert.deepEqual(taken, ['fast']);
    const h = seen!.headers;
    assert.equal(h['user-agent'], 'first');
    assert.equal(h['x-a'], '1, 2');
    assert.deepEqual(h['set-cookie'], ['a', 'b']);
    assert.equal(h.cookie, 'c=1; d=2');
    assert.equal(h['x-h39'], 'v39');
    assert.equal(seen!.rawHeaders.length, 2 * (10 + 40));
  });

  // Node would keep the first of two Host lines; the request is malformed
  // either way, and the chain answers it 400 (test/e2e/host-validation.test.ts).
  test('two Host lines, or none, go to node:http with all their lines', async () => {
    const hosts: number[] = [];
    handler = (req, res) => {
      hosts.push(req.rawHeaders.filter((_, i) => i % 2 === 0 && req.rawHeaders[i]!.toLowerCase() === 'host').length);
      echo(req, res);
    };
    await rawExchange(port, 'GET /two HTTP/1.1\r\nHost: first\r\nhost: second\r\nConnection: close\r\n\r\n');
    assert.deepEqual(taken, ['node']);
    assert.deepEqual(hosts, [2]);
    // This bare node:http (requireHostHeader, Node's default) answers it itself.
    const none = await rawExchange(port, 'GET /none HTTP/1.1\r\nConnection: close\r\n\r\n');
    assert.deepEqual(statuses(none), [400]);
    assert.deepEqual(taken, ['node']);
  });

  test('a response without a length is chunked', async () => {
    handler = (_req, res) => {
      res.writeHead(200, ['Content-Type', 'text/plain', 'X-Kept', 'yes']);
      res.write('hello ');
      res.write(Buffer.from('wörld'));
      res.end('!');
    };
    const res = await new Promise<{ headers: http.IncomingHttpHeaders; body: string }>((resolve, reject) => {
      http.get({ port, host: '127.0.0.1', path: '/', agent: false }, (r) => {
        let body = '';
        r.setEncoding('utf8').on('data', (d) => (body += d)).on('end', () => resolve({ headers: r.headers, body }));
      }).on('error', reject);
    });
    assert.equal(res.headers['transfer-encoding'], 'chunked');
    assert.equal(res.headers['x-kept'], 'yes');
    assert.equal(res.body, 'hello wörld!');
  });

  test('a large body piped into the response waits for drain and arrives whole at a slow reader', { timeout: 30_000 }, async () => {
    const size = 48 * 1024 * 1024; // more than the kernel buffers on loopback
    let refused = 0; // writes that said "wait for drain"
    handler = (_req, res) => {
      res.writeHead(200, ['Content-Length', String(size)]);
      const write = res.write.bind(res);
      res.write = ((chunk: Buffer) => {
        const ok = write(chunk);
        if (!ok) refused++;
        return ok;
      }) as typeof res.write;
      let sent = 0;
      Readable.from((function* () {
        while (sent < size) {
          const n = Math.min(65536, size - sent);
          yield Buffer.alloc(n, (sent / 65536) % 251);
          sent += n;
        }
      })()).pipe(res as unknown as NodeJS.WritableStream);
    };
    const received = await new Promise<{ bytes: number; ok: boolean }>((resolve, reject) => {
      http.get({ port, host: '127.0.0.1', path: '/big', agent: false }, (r) => {
        let bytes = 0;
        let ok = true;
        r.pause(); // read nothing for a while: the proxy side must wait
        setTimeout(() => r.resume(), 300);
        r.on('data', (d: Buffer) => {
          // every 64 KiB piece is one repeated byte: check where it lands
          for (let i = 0; i < d.length; i += 4096) if (d[i] !== Math.floor((bytes + i) / 65536) % 251) ok = false;
          bytes += d.length;
        });
        r.on('end', () => resolve({ bytes, ok }));
      }).on('error', reject);
    });
    assert.deepEqual(received, { bytes: size, ok: true });
    assert.ok(refused > 0, 'the response never pushed back');
  });

  test('a client that leaves mid-response: the response closes unfinished and destroyed', async () => {
    let closed: { finished: boolean; destroyed: boolean } | null = null;
    const done = new Promise<void>((resolve) => {
      handler = (_req, res) => {
        res.writeHead(200, ['Content-Type', 'text/plain']);
        res.write('partial');
        res.on('close', () => {
          closed = { finished: res.writableFinished, destroyed: res.destroyed };
          resolve();
        });
      };
    });
    const s = net.connect(port, '127.0.0.1', () => s.write('GET /gone HTTP/1.1\r\nHost: h\r\n\r\n'));
    s.on('data', () => s.destroy());
    await done;
    assert.deepEqual(closed, { finished: false, destroyed: true });
  });

  test('close(): an idle connection ends now, a busy one after its response, with Connection: close', async () => {
    let release: () => void = () => {};
    handler = (_req, res) => {
      release = () => res.end('done');
    };
    const idleClosed = new Promise<void>((resolve) => {
      const s = net.connect(port, '127.0.0.1');
      s.on('connect', () => setTimeout(() => {
        for (const c of connections) if (c.idle) c.close();
      }, 100));
      s.on('close', () => resolve());
    });
    const busy = rawExchange(port, 'GET /slow HTTP/1.1\r\nHost: h\r\n\r\n', 2000);
    await idleClosed;
    await new Promise((r) => setTimeout(r, 50));
    for (const c of connections) c.close();
    release();
    const raw = await busy;
    assert.match(headOf(raw), /\r\nConnection: close/);
    assert.ok(raw.endsWith('done'));
  });
});
