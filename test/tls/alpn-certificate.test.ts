// The TLS-ALPN-01 challenge certificate (RFC 8737 §3), checked with
// node:crypto and with acme-client's independent parser.
import assert from 'node:assert/strict';
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { test } from 'node:test';
import { crypto as acmeCrypto } from 'acme-client';
import { createAlpnChallengeCertificate } from '../../src/tls/alpn-certificate.ts';

test('carries the domain and SHA-256 of the key authorization, self-signed, not a CA', async () => {
  const now = new Date('2026-03-01T12:00:00Z');
  const { keyPem, certPem } = await createAlpnChallengeCertificate('app.example.test', 'token.thumbprint', now);
  const cert = new X509Certificate(certPem);
  assert.equal(cert.subjectAltName, 'DNS:app.example.test');
  assert.equal(cert.ca, false);
  assert.ok(cert.verify(cert.publicKey), 'self-signed');
  assert.ok(cert.checkPrivateKey(createPrivateKey(keyPem)));
  assert.equal(cert.validFromDate.toISOString(), '2026-03-01T12:00:00.000Z');
  assert.equal(cert.validToDate.toISOString(), '2026-03-02T12:00:00.000Z');
  assert.equal(cert.keyUsage, undefined, 'no key usage: OpenSSL would refuse ECDSA ciphers on TLS 1.2 for keyCertSign only');
  assert.equal(acmeCrypto.isAlpnCertificateAuthorizationValid(certPem, 'token.thumbprint'), true);
  assert.equal(acmeCrypto.isAlpnCertificateAuthorizationValid(certPem, 'token.other'), false);
});

test('dates from 2050 on are encoded as GeneralizedTime', async () => {
  const { certPem } = await createAlpnChallengeCertificate('app.example.test', 'k', new Date('2050-06-01T00:00:00Z'));
  assert.equal(new X509Certificate(certPem).validFromDate.toISOString(), '2050-06-01T00:00:00.000Z');
});
