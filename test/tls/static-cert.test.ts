// Custom certificates (--tls-certificate-path / --tls-private-key-path), the
// checks of kamal-proxy's cert_test.go.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { after, test } from 'node:test';
import tls from 'node:tls';
import { StaticCertManager } from '../../src/tls/static-cert.ts';
import { selfSigned, tempDir, testCa } from './openssl.ts';

const dir = tempDir();
after(() => fs.rmSync(dir, { recursive: true, force: true }));

// Handshake with a server whose SNICallback asks `manager`; returns the
// certificate the client was shown (verified against `ca` for `servername`).
async function handshake(manager: StaticCertManager, servername: string, ca: string): Promise<tls.PeerCertificate> {
  const server = tls.createServer({
    SNICallback: (name, cb) => manager.getSecureContext(name).then((ctx) => cb(null, ctx), cb),
  }, (socket) => socket.end());
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    return await new Promise((resolve, reject) => {
      const socket = tls.connect({ host: '127.0.0.1', port: (server.address() as AddressInfo).port, servername, ca }, () => {
        resolve(socket.getPeerCertificate());
        socket.destroy();
      });
      socket.on('error', reject);
    });
  } finally {
    server.close();
  }
}

test('a PEM pair loads and is served for every server name', async () => {
  const cert = selfSigned(dir, 'single', ['app.example.test', 'other.example.test']);
  const manager = await StaticCertManager.load(cert.certPath, cert.keyPath);
  assert.equal(manager.certificate.leaf.subject, 'CN=app.example.test');
  assert.equal(await manager.getSecureContext('app.example.test'), await manager.getSecureContext('unrelated.test'));

  const seen = await handshake(manager, 'other.example.test', cert.certPem);
  assert.equal(seen.subjectaltname, 'DNS:app.example.test, DNS:other.example.test');
});

test('a certificate file with its chain is served whole', async () => {
  const ca = testCa(dir, 'chain-ca');
  const leaf = ca.issue(['chained.example.test']);
  const bundle = path.join(dir, 'chained-bundle.pem');
  fs.writeFileSync(bundle, leaf.certPem + ca.certPem);
  const manager = await StaticCertManager.load(bundle, leaf.keyPath);
  assert.equal(manager.certificate.chainPem.match(/BEGIN CERTIFICATE/g)?.length, 2);
  const seen = await handshake(manager, 'chained.example.test', ca.certPem);
  assert.equal(seen.subject.CN, 'chained.example.test');
});

test('a missing file, a key that is not the certificate\'s, or swapped paths give "unable to load certificate"', async () => {
  const a = selfSigned(dir, 'pair-a', ['a.example.test']);
  const b = selfSigned(dir, 'pair-b', ['b.example.test']);
  const garbage = path.join(dir, 'garbage.pem');
  fs.writeFileSync(garbage, 'not a certificate\n');
  const cases: [string, string][] = [
    [path.join(dir, 'missing.pem'), a.keyPath],
    [a.certPath, path.join(dir, 'missing.key')],
    [a.certPath, b.keyPath],
    [a.keyPath, a.certPath],
    [garbage, a.keyPath],
    [a.certPath, garbage],
  ];
  for (const [certPath, keyPath] of cases) {
    await assert.rejects(StaticCertManager.load(certPath, keyPath), { message: 'unable to load certificate' }, `${certPath} + ${keyPath}`);
  }
  assert.ok(await StaticCertManager.load(a.certPath, a.keyPath));
});
