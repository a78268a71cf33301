// The request-log line is written byte by byte into the log buffer; it must
// come out exactly as JSON.stringify would serialise the same fields in the
// same order, whatever the values hold (quotes, control characters,
// non-ASCII, U+2028, values longer than a buffer chunk) and wherever a chunk
// boundary falls.
import assert from 'node:assert/strict';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { test } from 'node:test';
import { RequestContext } from '../../src/http/context.ts';
import { LineBuffer } from '../../src/log/line-buffer.ts';
import { writeRequest } from '../../src/server/request-log.ts';

// A small seeded generator, so a failure can be replayed.
function rng(seed: number): () => number {
  return () => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    return seed / 2 ** 31;
  };
}

const ALPHABETS = [
  'abcdefghijklmnopqrstuvwxyz0123456789-._~/:;=&?', // what hosts, paths and ids are made of
  'ab"\\\n\r\t\u0000\u001f\u007f', // JSON escapes and control characters
  'aé日本🙂\u2028\u2029–', // non-ASCII, surrogate pairs, line separators
];

function randomString(r: () => number, max: number): string {
  const alphabet = [...ALPHABETS[Math.floor(r() * ALPHABETS.length)]!];
  const len = Math.floor(r() * max);
  let s = '';
  for (let i = 0; i < len; i++) s += alphabet[Math.floor(r() * alphabet.length)];
  return s;
}

function randomContext(r: () => number): { ctx: RequestContext; expected: (duration: number) => string } {
  const s = (max = 40) => randomString(r, max);
  const pick = <T>(xs: T[]): T => xs[Math.floor(r() * xs.length)]!;
  const headers: Record<string, string | string[]> = { host: s() };
  if (r() < 0.7) headers['user-agent'] = r() < 0.02 ? 'u'.repeat(200_000) : s(120); // one larger than a chunk now and then
  if (r() < 0.5) headers['content-type'] = s();
  if (r() < 0.5) headers['content-length'] = pick(['0', '17', '123456789', '99999999999999999999']);
  if (r() < 0.3) headers['x-forwarded-for'] = s();
  if (r() < 0.5) headers['x-custom'] = r() < 0.5 ? s() : [s(), s()];
  const url = `/${s()}${r() < 0.5 ? `?${s()}` : ''}`;
  const req = { url, method: pick(['GET', 'POST', 'PROPFIND']), httpVersion: pick(['1.0', '1.1', '2.0']), headers } as unknown as IncomingMessage;
  const res = { statusCode: pick([200, 404, 502]) } as unknown as ServerResponse;
  const socket = { remoteAddress: pick(['127.0.0.1', '::1', s()]), remotePort: pick([0, 1, 65535]) } as unknown as Socket;
  const body = r() < 0.3 ? Buffer.from('x') : null;
  const ctx = new RequestContext(req, res, body, null, socket, pick(['http', 'https'] as const), pick([0, 80, 443]));
  Object.assign(ctx, {
    requestId: s(),
    serviceName: s(),
    target: s(),
    status: pick([0, 0, 499, 101]),
    respBytes: pick([0, 100, 2 ** 40]),
    respContentType: s(),
    respHeaders: r() < 0.5 ? { 'x-resp': s(), 'set-cookie': [s(), s()] } : null,
    logRequestHeaders: pick([[], ['User-Agent', 'X-Custom', 'X-Absent']]),
    logResponseHeaders: pick([[], ['X-Resp', 'Set-Cookie']]),
  });
  const expected = (duration: number): string => {
    const cl = headers['content-length'] as string | undefined;
    const xff = headers['x-forwarded-for'] as string | undefined;
    const fields: [string, unknown][] = [
      ['host', headers.host],
      ['port', ctx.port],
      ['path', ctx.path],
      ['request_id', ctx.requestId],
      ['status', ctx.status !== 0 ? ctx.status : res.statusCode],
      ['service', ctx.serviceName],
      ['target', ctx.target],
      ['duration', duration],
      ['method', req.method],
      // Go's r.ContentLength: 0 without a body, -1 for one of unknown length.
      ['req_content_length', cl !== undefined ? Number(cl) || 0 : body === null ? 0 : -1],
      ['req_content_type', headers['content-type'] ?? ''],
      ['resp_content_length', ctx.respBytes],
      ['resp_content_type', ctx.respContentType],
      ['client_addr', ctx.clientAddr],
      ['client_port', ctx.clientPort ? String(ctx.clientPort) : ''],
      ['remote_addr', xff ? xff : ctx.clientAddr],
      ['user_agent', headers['user-agent'] ?? ''],
      ['proto', `HTTP/${req.httpVersion}`],
      ['scheme', ctx.scheme],
      ['query', ctx.search.slice(1)],
    ];
    const joined = (v: string | string[] | undefined) => (v === undefined ? '' : Array.isArray(v) ? v.join(',') : v);
    for (const name of ctx.logRequestHeaders) fields.push([`req_${name.toLowerCase().replaceAll('-', '_')}`, joined(headers[name.toLowerCase()])]);
    for (const name of ctx.logResponseHeaders) fields.push([`resp_${name.toLowerCase().replaceAll('-', '_')}`, joined(ctx.respHeaders?.[name.toLowerCase()])]);
    return fields.map(([k, v]) => `,${JSON.stringify(k)}:${JSON.stringify(v)}`).join('');
  };
  return { ctx, expected };
}

test('every request line is exactly the JSON of its fields, in order, across chunk boundaries', () => {
  const r = rng(20261201);
  const out = new LineBuffer();
  const lines: { length: number; want: (duration: number) => string }[] = [];
  for (let i = 0; i < 3000; i++) {
    const { ctx, expected } = randomContext(r);
    const before = out.size;
    writeRequest(out, ctx);
    lines.push({ length: out.size - before, want: expected });
  }
  const bytes = out.take();
  let offset = 0;
  for (const [i, { length, want }] of lines.entries()) {
    const line = bytes.subarray(offset, offset + length).toString('utf8');
    offset += length;
    // The one value the test cannot know beforehand.
    const duration = Number(/,"duration":(\d+),/.exec(line)?.[1]);
    assert.equal(line, want(duration), `line ${i}`);
  }
  assert.equal(offset, bytes.length, 'nothing written beyond the lines');
});

test('int() prints integers as template strings do, and falls back for the rest', () => {
  const out = new LineBuffer();
  const values = [0, -0, 7, -1, 10, 99, 100, 2 ** 31, -(2 ** 31), Number.MAX_SAFE_INTEGER, -Number.MAX_SAFE_INTEGER, 2 ** 60, 1e21, 1.5, NaN];
  for (const v of values) {
    out.int(v);
    out.bytes(Buffer.from(' '));
  }
  assert.equal(out.take().toString(), values.map((v) => `${v} `).join(''));
});
