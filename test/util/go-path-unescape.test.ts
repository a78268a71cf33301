// The request log's path as Go's r.URL.Path reads it: percent-escapes decoded.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { goPathUnescape } from '../../src/util/go-path-unescape.ts';

test('escapes become the bytes they name, read as UTF-8', () => {
  assert.equal(goPathUnescape('/plain/path'), '/plain/path');
  assert.equal(goPathUnescape('/a%20b'), '/a b');
  assert.equal(goPathUnescape('/a%2Fb%2fc'), '/a/b/c', 'Go decodes an escaped slash too');
  assert.equal(goPathUnescape('/caf%C3%A9'), '/café');
  assert.equal(goPathUnescape('/a+b'), '/a+b', 'a plus is no space in a path');
  assert.equal(goPathUnescape('/%25'), '/%');
});

test('bytes that are not UTF-8 become U+FFFD, as Go writes them in JSON', () => {
  assert.equal(goPathUnescape('/%FF'), '/\uFFFD');
});

test('a malformed escape leaves the path as it came', () => {
  assert.equal(goPathUnescape('/100%'), '/100%');
  assert.equal(goPathUnescape('/%zz'), '/%zz');
  assert.equal(goPathUnescape('/%4'), '/%4');
});

test('hasMalformedEscape looks at the path only, as Go parses a request target', async () => {
  const { hasMalformedEscape } = await import('../../src/util/go-path-unescape.ts');
  for (const bad of ['/%', '/%4', '/%zz', '/a%2', '/ok%20/then%x1', '/%4?q=1']) assert.equal(hasMalformedEscape(bad), true, bad);
  for (const good of ['/', '/a%20b', '/%2F%2f', '/q?x=%', '/q?x=%zz', '*']) assert.equal(hasMalformedEscape(good), false, good);
});
