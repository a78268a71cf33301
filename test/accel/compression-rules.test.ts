// Which responses are compressed and how their head changes
// (src/accel/compression-rules.ts), and which types compress
// (src/accel/compressible.ts). The streams themselves: test/e2e/compression.test.ts.
import assert from 'node:assert/strict';
import type { IncomingHttpHeaders } from 'node:http';
import { describe, test } from 'node:test';
import { planCompression, weakETag, withVary } from '../../src/accel/compression-rules.ts';
import { isCompressible } from '../../src/accel/compressible.ts';
import { COMPRESS_MIN_BYTES } from '../../src/config/defaults.ts';
import { RequestContext } from '../../src/http/context.ts';
import type { ResponseHead } from '../../src/http/response-sink.ts';

function ctx(headers: IncomingHttpHeaders, method = 'GET'): RequestContext {
  const req = { method, url: '/', httpVersion: '1.1', httpVersionMajor: 1, httpVersionMinor: 1, headers, rawHeaders: [] };
  return new RequestContext(req, null, null, null, { remoteAddress: '127.0.0.1', remotePort: 1 }, 'https', 443);
}

function head(o: Partial<ResponseHead> & { extra?: string[] } = {}): ResponseHead {
  const contentType = o.contentType ?? 'text/html; charset=utf-8';
  const contentLength = o.contentLength ?? 5000;
  const headers = ['content-type', contentType, ...(contentLength >= 0 ? ['content-length', String(contentLength)] : []), ...(o.extra ?? [])];
  return { status: o.status ?? 200, headers: o.headers ?? headers, contentLength, contentType };
}

const AE = { 'accept-encoding': 'gzip, br' };
const header = (h: ResponseHead, name: string) => {
  const values = [];
  for (let i = 0; i < h.headers.length; i += 2) if (h.headers[i]!.toLowerCase() === name) values.push(h.headers[i + 1]);
  return values.length === 0 ? undefined : values.join('|');
};

describe('planCompression', () => {
  test('a compressible response: coded, its length gone, Vary and a weak ETag', () => {
    const plan = planCompression(head({ extra: ['etag', '"abc"', 'accept-ranges', 'bytes', 'x-app', 'kept'] }), ctx(AE));
    assert.equal(plan.coding, 'br');
    assert.equal(plan.hasBody, true);
    assert.equal(plan.head.contentLength, -1);
    assert.equal(header(plan.head, 'content-length'), undefined);
    assert.equal(header(plan.head, 'accept-ranges'), undefined);
    assert.equal(header(plan.head, 'content-encoding'), 'br');
    assert.equal(header(plan.head, 'vary'), 'Accept-Encoding');
    assert.equal(header(plan.head, 'etag'), 'W/"abc"');
    assert.equal(header(plan.head, 'x-app'), 'kept');
  });

  test('unknown length compresses; known length under the minimum does not', () => {
    assert.equal(planCompression(head({ contentLength: -1 }), ctx(AE)).coding, 'br');
    assert.equal(planCompression(head({ contentLength: COMPRESS_MIN_BYTES }), ctx(AE)).coding, 'br');
    const small = planCompression(head({ contentLength: COMPRESS_MIN_BYTES - 1 }), ctx(AE));
    assert.equal(small.coding, null);
    assert.equal(header(small.head, 'vary'), undefined);
    assert.equal(header(small.head, 'content-length'), String(COMPRESS_MIN_BYTES - 1));
  });

  test('left exactly as it came: statuses without a body or partial, coded already, no-transform, ranges, other types', () => {
    const untouched: [string, ResponseHead, IncomingHttpHeaders][] = [
      ['204', head({ status: 204 }), AE],
      ['304', head({ status: 304 }), AE],
      ['206', head({ status: 206 }), AE],
      ['Content-Encoding: gzip', head({ extra: ['Content-Encoding', 'gzip'] }), AE],
      ['Content-Encoding: br', head({ extra: ['content-encoding', 'br'] }), AE],
      ['no-transform', head({ extra: ['Cache-Control', 'public, no-transform'] }), AE],
      ['no-transform alone', head({ extra: ['cache-control', 'No-Transform'] }), AE],
      ['a Range request', head(), { ...AE, range: 'bytes=0-10' }],
      ['image/png', head({ contentType: 'image/png' }), AE],
      ['no type', head({ contentType: '' }), AE],
    ];
    for (const [what, h, req] of untouched) {
      const plan = planCompression(h, ctx(req));
      assert.equal(plan.coding, null, what);
      assert.deepEqual(plan.head, h, what);
    }
  });

  test('Content-Encoding: identity and a Cache-Control that only mentions transform do not stop it', () => {
    const identity = planCompression(head({ extra: ['content-encoding', 'identity'] }), ctx(AE));
    assert.equal(identity.coding, 'br');
    assert.equal(header(identity.head, 'content-encoding'), 'br', 'one coding, ours');
    assert.equal(planCompression(head({ extra: ['cache-control', 'max-age=60, x-no-transformer'] }), ctx(AE)).coding, 'br');
  });

  test('a client that accepts no coding: the body as it is, but Vary says it could differ', () => {
    for (const req of [{}, { 'accept-encoding': 'identity' }, { 'accept-encoding': 'deflate' }]) {
      const plan = planCompression(head({ extra: ['etag', '"abc"'] }), ctx(req));
      assert.equal(plan.coding, null);
      assert.equal(header(plan.head, 'vary'), 'Accept-Encoding');
      assert.equal(header(plan.head, 'etag'), '"abc"');
      assert.equal(header(plan.head, 'content-length'), '5000');
    }
  });

  test('HEAD: the head GET gets, and no body to compress', () => {
    const get = planCompression(head({ extra: ['etag', '"abc"'] }), ctx(AE));
    const plan = planCompression(head({ extra: ['etag', '"abc"'] }), ctx(AE, 'HEAD'));
    assert.equal(plan.hasBody, false);
    assert.deepEqual(plan.head, get.head);
  });

  test('BREACH: a cross-site request with credentials is not compressed', () => {
    const cross = { ...AE, 'sec-fetch-site': 'cross-site' };
    assert.equal(planCompression(head(), ctx({ ...cross, cookie: 'a=1' })).coding, null);
    assert.equal(planCompression(head(), ctx({ ...cross, authorization: 'Bearer x' })).coding, null);
    assert.equal(header(planCompression(head(), ctx({ ...cross, cookie: 'a=1' })).head, 'vary'), 'Accept-Encoding');
    assert.equal(planCompression(head(), ctx(cross)).coding, 'br', 'no credentials');
    const click = { ...cross, cookie: 'a=1', 'sec-fetch-mode': 'navigate', 'sec-fetch-user': '?1' };
    assert.equal(planCompression(head(), ctx(click)).coding, 'br', 'a navigation the user made');
    assert.equal(planCompression(head(), ctx({ ...click, 'sec-fetch-user': undefined })).coding, null, 'a navigation a script made');
    for (const site of ['same-origin', 'same-site', 'none']) {
      assert.equal(planCompression(head(), ctx({ ...AE, 'sec-fetch-site': site, cookie: 'a=1' })).coding, 'br', site);
    }
    assert.equal(planCompression(head(), ctx({ ...AE, cookie: 'a=1' })).coding, 'br', 'a browser without Fetch Metadata');
  });
});

test('withVary merges Accept-Encoding into the Vary the app sent', () => {
  assert.deepEqual(withVary(['a', '1']), ['a', '1', 'Vary', 'Accept-Encoding']);
  assert.deepEqual(withVary(['Vary', 'Cookie']), ['Vary', 'Cookie, Accept-Encoding']);
  assert.deepEqual(withVary(['vary', 'Cookie', 'vary', 'Origin']), ['vary', 'Cookie, Accept-Encoding', 'vary', 'Origin']);
  assert.deepEqual(withVary(['Vary', 'Origin, ACCEPT-ENCODING']), ['Vary', 'Origin, ACCEPT-ENCODING']);
  assert.deepEqual(withVary(['Vary', 'Origin', 'Vary', 'accept-encoding']), ['Vary', 'Origin', 'Vary', 'accept-encoding']);
  assert.deepEqual(withVary(['Vary', '*']), ['Vary', '*']);
  assert.deepEqual(withVary(['Vary', '']), ['Vary', 'Accept-Encoding']);
});

test('weakETag', () => {
  assert.equal(weakETag('"abc"'), 'W/"abc"');
  assert.equal(weakETag('W/"abc"'), 'W/"abc"');
});

describe('isCompressible', () => {
  const yes = [
    'text/html', 'text/html; charset=utf-8', 'TEXT/CSS', 'text/plain', 'text/csv', 'text/event-stream', 'text/javascript',
    'application/json', 'application/json; charset=utf-8', 'application/ld+json', 'application/vnd.api+json', 'application/manifest+json',
    'application/javascript', 'application/xml', 'application/atom+xml', 'application/rss+xml', 'application/xhtml+xml',
    'image/svg+xml', 'application/wasm', 'font/ttf', 'font/otf', 'image/x-icon', 'image/vnd.microsoft.icon', 'application/x-ndjson',
  ];
  const no = [
    '', 'application/octet-stream', 'image/png', 'image/jpeg', 'image/webp', 'image/avif', 'image/gif', 'video/mp4', 'audio/mpeg',
    'application/zip', 'application/gzip', 'application/x-gzip', 'application/zstd', 'application/pdf', 'font/woff', 'font/woff2',
    'application/x-7z-compressed', 'multipart/form-data',
  ];
  for (const t of yes) test(`${t || '(none)'}: yes`, () => assert.equal(isCompressible(t), true));
  for (const t of no) test(`${t || '(none)'}: no`, () => assert.equal(isCompressible(t), false));
});
