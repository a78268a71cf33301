// Which certificate and protocol a handshake ends with, for each TLS version,
// with and without a live TLS-ALPN-01 challenge, and with the name's real
// certificate at hand (a renewal) or still being ordered (first issuance).
// The CA side is faked here; acme-issuance.test.ts runs the real thing.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import tls from 'node:tls';
import { createAlpnChallengeCertificate } from '../../src/tls/alpn-certificate.ts';
import { createTlsCallbacks } from '../../src/tls/tls-callbacks.ts';
import { selfSigned, tempDir } from './openssl.ts';

const HOST = 'app.example.test';
const versions = ['TLSv1.2', 'TLSv1.3'] as const;

interface Outcome {
  cn?: string;
  alpn?: string | false | null;
  error?: string;
}

describe('SNI + ALPN callbacks', () => {
  const dir = tempDir();
  let real: tls.SecureContext;
  let challenge: tls.SecureContext;
  let server: tls.Server;
  // What the fake certificate side answers, set per test.
  let certificate: 'ready' | 'ordering' | 'refused' = 'ready';
  let challengeLive = false;
  let lookups = 0;

  before(async () => {
    const cert = selfSigned(dir, 'real', [HOST]);
    real = tls.createSecureContext({ key: cert.keyPem, cert: cert.certPem });
    const alpn = await createAlpnChallengeCertificate(HOST, 'token.thumbprint');
    challenge = tls.createSecureContext({ key: alpn.keyPem, cert: alpn.certPem });
    const callbacks = createTlsCallbacks({
      getSecureContext: async (name) => {
        lookups++;
        if (name !== HOST || certificate === 'refused') return null;
        if (certificate === 'ordering') return new Promise<never>(() => {});
        return real;
      },
      alpnContext: (name) => (challengeLive && name === HOST ? challenge : null),
    });
    server = tls.createServer({ ...callbacks }, (socket) => socket.end());
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  });
  after(() => {
    server.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  function connect(maxVersion: tls.SecureVersion, ALPNProtocols?: string[], servername = HOST): Promise<Outcome> {
    return new Promise((resolve) => {
      const port = (server.address() as AddressInfo).port;
      const socket = tls.connect({ host: '127.0.0.1', port, servername, ALPNProtocols, maxVersion, rejectUnauthorized: false }, () => {
        resolve({ cn: String(socket.getPeerCertificate().subject.CN), alpn: socket.alpnProtocol });
        socket.destroy();
      });
      socket.on('error', (err) => resolve({ error: err.message }));
      socket.setTimeout(500, () => {
        resolve({ error: 'timeout' });
        socket.destroy();
      });
    });
  }

  for (const v of versions) {
    test(`${v}: no challenge live: the real certificate, our preferred protocol`, async () => {
      certificate = 'ready';
      challengeLive = false;
      assert.deepEqual(await connect(v, ['http/1.1', 'h2']), { cn: HOST, alpn: 'h2' });
      assert.deepEqual(await connect(v, ['http/1.1']), { cn: HOST, alpn: 'http/1.1' });
      assert.deepEqual(await connect(v), { cn: HOST, alpn: false });
      assert.ok((await connect(v, ['acme-tls/1'])).error, 'acme-tls/1 without a challenge is refused');
      assert.ok((await connect(v, ['spdy/3'])).error, 'no common protocol is refused');
    });

    test(`${v}: a renewal's challenge: the validator gets the challenge certificate, everyone else the real one`, async () => {
      certificate = 'ready';
      challengeLive = true;
      assert.deepEqual(await connect(v, ['acme-tls/1']), { cn: 'ACME TLS-ALPN-01 challenge', alpn: 'acme-tls/1' });
      assert.deepEqual(await connect(v, ['h2', 'http/1.1']), { cn: HOST, alpn: 'h2' });
      assert.deepEqual(await connect(v), { cn: HOST, alpn: false });
    });

    test(`${v}: a first issuance's challenge: the validator is not kept waiting for the certificate`, async () => {
      certificate = 'ordering';
      challengeLive = true;
      assert.deepEqual(await connect(v, ['acme-tls/1']), { cn: 'ACME TLS-ALPN-01 challenge', alpn: 'acme-tls/1' });
      const other = await connect(v, ['h2', 'http/1.1']);
      if (v === 'TLSv1.3') {
        assert.equal(other.error, 'timeout', 'a TLS 1.3 client is known not to be the validator: it waits for the certificate');
      } else {
        assert.match(String(other.error), /alert|handshake/, 'TLS 1.2: refused rather than shown the challenge certificate');
      }
    });
  }

  test('a name the certificate side refuses fails the handshake', async () => {
    certificate = 'refused';
    challengeLive = false;
    const before = lookups;
    assert.ok((await connect('TLSv1.3', ['h2'], 'other.example.test')).error);
    assert.equal(lookups - before, 1);
  });
});
