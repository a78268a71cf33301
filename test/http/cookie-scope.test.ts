import assert from 'node:assert/strict';
import { test } from 'node:test';
import { scopeSetCookie } from '../../src/http/cookie-scope.ts';

test('paths move under the prefix', () => {
  assert.equal(scopeSetCookie('a=1; Path=/', '/api', 'example.com'), 'a=1; Path=/api');
  assert.equal(scopeSetCookie('a=1; Path=/admin; HttpOnly', '/api', 'example.com'), 'a=1; Path=/api/admin; HttpOnly');
  assert.equal(scopeSetCookie('a=1; HttpOnly', '/api', 'example.com'), 'a=1; HttpOnly; Path=/api');
  assert.equal(scopeSetCookie('a=1', '/api', 'example.com'), 'a=1; Path=/api');
});

test('only cookies for this host are scoped', () => {
  assert.equal(scopeSetCookie('a=1; Domain=example.com; Path=/', '/api', 'example.com:8080'), 'a=1; Domain=example.com; Path=/api');
  assert.equal(scopeSetCookie('a=1; Domain=.example.com; Path=/', '/api', 'example.com'), 'a=1; Domain=.example.com; Path=/api');
  assert.equal(scopeSetCookie('a=1; Domain=other.com; Path=/', '/api', 'example.com'), 'a=1; Domain=other.com; Path=/');
  assert.equal(scopeSetCookie('a=1; Domain=sub.example.com; Path=/', '/api', 'example.com'), 'a=1; Domain=sub.example.com; Path=/');
  assert.equal(scopeSetCookie('a=1; Domain=example.com; Path=/', '/api', 'sub.example.com'), 'a=1; Domain=example.com; Path=/');
});
