// A served file's validators and the preconditions of RFC 9110 §13.2.2, in
// their order, with weak comparison for If-None-Match and strong for
// If-Match and If-Range.
import assert from 'node:assert/strict';
import type { BigIntStats } from 'node:fs';
import { describe, test } from 'node:test';
import { etagListMatches, evaluatePreconditions, fileValidators, ifRangeHolds } from '../../src/accel/x-sendfile-conditions.ts';

const MTIME_MS = Date.UTC(2026, 0, 2, 3, 4, 5, 678);
const stat = (o: { size?: bigint; ino?: bigint; mtimeNs?: bigint } = {}) =>
  ({ size: o.size ?? 1234n, ino: o.ino ?? 42n, mtimeNs: o.mtimeNs ?? BigInt(MTIME_MS) * 1_000_000n + 9n }) as BigIntStats;

describe('fileValidators', () => {
  test('a strong ETag that changes with the size, the modification time and the inode', () => {
    const v = fileValidators(stat());
    assert.match(v.etag, /^"[^"]+"$/);
    assert.doesNotMatch(v.etag, /^W\//);
    assert.notEqual(fileValidators(stat({ size: 1235n })).etag, v.etag);
    assert.notEqual(fileValidators(stat({ mtimeNs: BigInt(MTIME_MS) * 1_000_000n + 10n })).etag, v.etag, 'a nanosecond later');
    assert.notEqual(fileValidators(stat({ ino: 43n })).etag, v.etag);
    assert.equal(fileValidators(stat()).etag, v.etag, 'the same file, the same tag');
  });

  test('Last-Modified is the modification time as an HTTP date', () => {
    const v = fileValidators(stat());
    assert.equal(v.lastModified, 'Fri, 02 Jan 2026 03:04:05 GMT');
    assert.equal(v.mtimeSeconds, Math.floor(MTIME_MS / 1000));
  });
});

describe('etagListMatches', () => {
  const ours = '"abc"';
  test('weak comparison ignores W/ on either side; strong does not', () => {
    assert.equal(etagListMatches('"abc"', ours, false), true);
    assert.equal(etagListMatches('W/"abc"', ours, false), true);
    assert.equal(etagListMatches('W/"abc"', ours, true), false);
    assert.equal(etagListMatches('"abc"', ours, true), true);
  });
  test('lists, *, and tags holding commas', () => {
    assert.equal(etagListMatches('"x", "y" ,W/"abc"', ours, false), true);
    assert.equal(etagListMatches('"x", "y"', ours, false), false);
    assert.equal(etagListMatches('*', ours, true), true);
    assert.equal(etagListMatches('"a,b", "abc"', ours, false), true);
    assert.equal(etagListMatches('"a,b"', '"a,b"', true), true);
    assert.equal(etagListMatches('"ab', ours, false), false, 'unterminated');
    assert.equal(etagListMatches('abc', ours, false), false, 'unquoted');
    assert.equal(etagListMatches('"abcd"', ours, false), false);
  });
});

describe('evaluatePreconditions', () => {
  const v = fileValidators(stat());
  const at = (seconds: number) => new Date((v.mtimeSeconds + seconds) * 1000).toUTCString();
  const cases: [string, Record<string, string>, string, ReturnType<typeof evaluatePreconditions>][] = [
    ['no conditions', {}, 'GET', 'serve'],
    ['If-None-Match with our tag', { 'if-none-match': v.etag }, 'GET', 304],
    ['If-None-Match with our tag, weak', { 'if-none-match': `W/${v.etag}` }, 'HEAD', 304],
    ['If-None-Match *', { 'if-none-match': '*' }, 'GET', 304],
    ['If-None-Match with another tag', { 'if-none-match': '"other"' }, 'GET', 'serve'],
    ['If-None-Match on a POST', { 'if-none-match': v.etag }, 'POST', 412],
    ['If-Modified-Since at the modification time', { 'if-modified-since': at(0) }, 'GET', 304],
    ['If-Modified-Since later', { 'if-modified-since': at(60) }, 'GET', 304],
    ['If-Modified-Since earlier', { 'if-modified-since': at(-1) }, 'GET', 'serve'],
    ['If-Modified-Since unreadable', { 'if-modified-since': 'yesterday' }, 'GET', 'serve'],
    ['If-Modified-Since on a POST', { 'if-modified-since': at(60) }, 'POST', 'serve'],
    // The tag says changed: the date is not consulted (§13.1.3).
    ['If-None-Match wins over If-Modified-Since', { 'if-none-match': '"other"', 'if-modified-since': at(60) }, 'GET', 'serve'],
    ['If-Match with our tag', { 'if-match': v.etag }, 'GET', 'serve'],
    ['If-Match with a weak tag', { 'if-match': `W/${v.etag}` }, 'GET', 412],
    ['If-Match with another tag', { 'if-match': '"other"' }, 'GET', 412],
    ['If-Unmodified-Since earlier', { 'if-unmodified-since': at(-1) }, 'GET', 412],
    ['If-Unmodified-Since later', { 'if-unmodified-since': at(1) }, 'GET', 'serve'],
    ['If-Match passes, so If-Unmodified-Since is not read', { 'if-match': v.etag, 'if-unmodified-since': at(-100) }, 'GET', 'serve'],
  ];
  for (const [name, headers, method, expected] of cases) {
    test(name, () => assert.equal(evaluatePreconditions(headers, method, v), expected));
  }
});

describe('ifRangeHolds', () => {
  const v = fileValidators(stat());
  test('no If-Range: the range holds', () => assert.equal(ifRangeHolds({}, v), true));
  test('our strong tag holds, a weak or other one does not', () => {
    assert.equal(ifRangeHolds({ 'if-range': v.etag }, v), true);
    assert.equal(ifRangeHolds({ 'if-range': `W/${v.etag}` }, v), false);
    assert.equal(ifRangeHolds({ 'if-range': '"other"' }, v), false);
  });
  test('only the exact modification date holds', () => {
    assert.equal(ifRangeHolds({ 'if-range': v.lastModified }, v), true);
    assert.equal(ifRangeHolds({ 'if-range': new Date((v.mtimeSeconds + 1) * 1000).toUTCString() }, v), false);
    assert.equal(ifRangeHolds({ 'if-range': 'garbage' }, v), false);
  });
});
