// Host names as keys: configured hosts, server names and Host headers meet in
// one form; hostWithoutPort keeps what a URL needs.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { hostKey, hostWithoutPort, normalizeHosts, requestHostKey } from '../../src/http/host.ts';

test('hostKey lower-cases, trims, drops a trailing dot and IPv6 brackets', () => {
  assert.equal(hostKey(' App.Example.TEST. '), 'app.example.test');
  assert.equal(hostKey('[::1]'), '::1');
  assert.equal(hostKey('*.Example.com'), '*.example.com');
  assert.equal(hostKey('.'), '.');
  assert.equal(hostKey(''), '');
});

test('requestHostKey is the same key with the port dropped', () => {
  assert.equal(requestHostKey('Example.COM.:8080'), 'example.com');
  assert.equal(requestHostKey('[::1]:80'), '::1');
  assert.equal(requestHostKey('[::1]'), '::1');
  assert.equal(requestHostKey('::1'), '::1', 'a bare IPv6 address is left alone');
  assert.equal(requestHostKey(undefined), '');
  for (const h of ['Example.com', 'a.b.example.com.', '[::1]']) assert.equal(requestHostKey(h), hostKey(h), h);
});

test('hostWithoutPort keeps brackets and case', () => {
  assert.equal(hostWithoutPort('Example.com:8080'), 'Example.com');
  assert.equal(hostWithoutPort('[::1]:80'), '[::1]');
  assert.equal(hostWithoutPort('[::1]'), '[::1]');
  assert.equal(hostWithoutPort('example.com'), 'example.com');
});

test('normalizeHosts keys and dedupes; no hosts means the catch-all', () => {
  assert.deepEqual(normalizeHosts(['Example.com', 'example.com.', 'A.example.com']), ['example.com', 'a.example.com']);
  assert.deepEqual(normalizeHosts(['[::1]']), ['::1']);
  assert.deepEqual(normalizeHosts([]), ['']);
  assert.deepEqual(normalizeHosts(['']), ['']);
});
