// Key + chain parsing, autocert's cache file layout, validity and renewal
// timing, and the name/path helpers.
import assert from 'node:assert/strict';
import { createPrivateKey } from 'node:crypto';
import fs from 'node:fs';
import { after, test } from 'node:test';
import { acmeChallengeToken } from '../../src/tls/acme-challenges.ts';
import { hostKey } from '../../src/http/host.ts';
import { isCertifiableName } from '../../src/tls/cert-manager.ts';
import { coversHost, decodeBundle, encodeBundle, parseCertificate, renewalDue } from '../../src/tls/certificate.ts';
import { tempDir, testCa } from './openssl.ts';

const dir = tempDir();
after(() => fs.rmSync(dir, { recursive: true, force: true }));
const ca = testCa(dir, 'ca');
const leaf = ca.issue(['app.example.test']);

test('a bundle in autocert\'s layout (key, then chain) reads back, with a SEC1 or a PKCS#8 key', () => {
  const cert = parseCertificate(leaf.keyPem, leaf.certPem + ca.certPem);
  const text = encodeBundle(cert);
  assert.match(text, /^-----BEGIN EC PRIVATE KEY-----[\s\S]+END EC PRIVATE KEY-----\n-----BEGIN CERTIFICATE-----[\s\S]+-----BEGIN CERTIFICATE-----/);
  assert.equal(decodeBundle(text).leaf.serialNumber, cert.leaf.serialNumber);
  assert.equal(decodeBundle(text).chainPem, cert.chainPem);

  const pkcs8 = createPrivateKey(leaf.keyPem).export({ type: 'pkcs8', format: 'pem' }) as string;
  assert.equal(decodeBundle(pkcs8 + leaf.certPem).leaf.serialNumber, cert.leaf.serialNumber);
});

test('a key that is not the leaf\'s, or no certificate, is refused', () => {
  assert.throws(() => parseCertificate(ca.keyPem, leaf.certPem), /does not match/);
  assert.throws(() => parseCertificate(leaf.keyPem, ''), /no certificate/);
  assert.throws(() => decodeBundle(leaf.certPem), /no private key/);
});

test('coverage: the leaf names the host and the time is inside its validity', () => {
  const cert = parseCertificate(leaf.keyPem, leaf.certPem);
  const inside = new Date(cert.notBefore.getTime() + 1000);
  assert.equal(coversHost(cert, 'app.example.test', inside), true);
  assert.equal(coversHost(cert, 'other.example.test', inside), false);
  assert.equal(coversHost(cert, 'app.example.test', new Date(cert.notBefore.getTime() - 1000)), false);
  assert.equal(coversHost(cert, 'app.example.test', cert.notAfter), false);
});

test('renewal is due once the given fraction of the lifetime is left', () => {
  const cert = parseCertificate(leaf.keyPem, leaf.certPem);
  const lifetime = cert.notAfter.getTime() - cert.notBefore.getTime();
  const point = cert.notAfter.getTime() - lifetime / 3;
  assert.equal(renewalDue(cert, new Date(point - 1000), 1 / 3), false);
  assert.equal(renewalDue(cert, new Date(point), 1 / 3), true);
  assert.equal(renewalDue(cert, new Date(point - 1000), 1 / 2), true);
});

test('server names are normalized and checked before they reach a CA or a file name', () => {
  assert.equal(hostKey('App.Example.TEST.'), 'app.example.test');
  for (const ok of ['app.example.test', 'a-b.example.test', 'xn--bcher-kva.example', '1.example.test']) assert.ok(isCertifiableName(ok), ok);
  for (const bad of ['localhost', '', '*.example.test', 'a..b', '../x.test', 'a/b.test', '-a.example.test', 'a b.test', '_acme.example.test', 'App.example.test']) {
    assert.equal(isCertifiableName(bad), false, bad);
  }
});

test('HTTP-01 tokens are taken from the challenge path only', () => {
  assert.equal(acmeChallengeToken('/.well-known/acme-challenge/abc_DEF-123'), 'abc_DEF-123');
  assert.equal(acmeChallengeToken('/.well-known/acme-challenge/abc?x=1'), 'abc');
  assert.equal(acmeChallengeToken('/.well-known/acme-challenge/'), null);
  assert.equal(acmeChallengeToken('/.well-known/acme-challenge/../etc'), null);
  assert.equal(acmeChallengeToken('/other/abc'), null);
});
