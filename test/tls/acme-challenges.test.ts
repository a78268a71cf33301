// The ACME challenge store as data-plane workers copy it: what it holds and
// every change, replayed into another store, answer the same.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ChallengeStore, type ChallengeUpdate } from '../../src/tls/acme-challenges.ts';
import { selfSigned, tempDir } from './openssl.ts';

test('a copy made from held() and then every watched change answers as the store does', () => {
  const cert = selfSigned(tempDir(), 'alpn', ['a.example.com']);
  const store = new ChallengeStore();
  store.setHttp('token-1', 'auth-1');
  store.setAlpn('a.example.com', cert.keyPem, cert.certPem);

  const copy = new ChallengeStore();
  for (const u of store.held()) copy.apply(u);
  const seen: ChallengeUpdate[] = [];
  store.watch((u) => {
    seen.push(u);
    copy.apply(u);
  });
  assert.equal(copy.httpResponse('token-1'), 'auth-1');
  assert.notEqual(copy.alpnContext('a.example.com'), null);

  store.setHttp('token-2', 'auth-2');
  store.deleteHttp('token-1');
  store.deleteAlpn('a.example.com');
  assert.deepEqual(seen.map((u) => u.kind), ['http', 'http', 'alpn']);
  assert.equal(copy.httpResponse('token-2'), 'auth-2');
  assert.equal(copy.httpResponse('token-1'), null);
  assert.equal(copy.alpnContext('a.example.com'), null);
  assert.deepEqual(store.held(), [{ kind: 'http', token: 'token-2', keyAuthorization: 'auth-2' }]);
});
