// Real certificates from a local pebble CA, through each challenge type, then
// served by an HTTPS listener using our SNI/ALPN callbacks and checked against
// pebble's root over HTTP/1.1 and HTTP/2.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import {
  fetchHttp1,
  fetchHttp2,
  startAcmeBench,
  startHttpChallenges,
  startHttps,
  type AcmeBench,
  type Listener,
} from './acme-fixture.ts';

describe('ACME issuance against pebble', { timeout: 30_000 }, () => {
  let bench: AcmeBench;
  const listeners: Listener[] = [];
  before(async () => {
    bench = await startAcmeBench();
  });
  after(async () => {
    await Promise.all(listeners.map((l) => l.close()));
    await bench?.close();
  });
  const closeAll = async () => {
    await Promise.all(listeners.splice(0).map((l) => l.close()));
  };

  async function assertServes(port: number, host: string): Promise<string> {
    const h1 = await fetchHttp1(port, host, bench.pebble.rootPem);
    assert.equal(h1.protocol, 'http/1.1');
    assert.equal(h1.body, 'hello over 1.1');
    assert.equal(h1.subjectAltName, `DNS:${host}`);
    assert.match(h1.issuer, /Pebble Intermediate CA/);
    const h2 = await fetchHttp2(port, host, bench.pebble.rootPem);
    assert.equal(h2.protocol, 'h2');
    assert.equal(h2.body, 'hello over 2.0');
    assert.equal(h2.serial, h1.serial);
    return h1.serial;
  }

  test('HTTP-01 only (nothing on the TLS-ALPN port): falls back from TLS-ALPN-01 and keeps preferring HTTP-01', async () => {
    const manager = bench.manager();
    listeners.push(await startHttpChallenges(bench.httpPort, manager));
    const https = await startHttps(0, manager); // not the port pebble checks TLS-ALPN-01 on
    listeners.push(https);

    const before = bench.orders();
    await assertServes(https.port, 'http-only.example.test');
    assert.equal(bench.orders() - before, 2, 'one failed TLS-ALPN-01 order, then one HTTP-01 order');

    const next = bench.orders();
    await assertServes(https.port, 'http-only-2.example.test');
    assert.equal(bench.orders() - next, 1, 'the failed type is tried last from then on');

    const file = fs.readFileSync(path.join(manager.cache.dir, 'http-only.example.test'), 'utf8');
    assert.match(file, /^-----BEGIN EC PRIVATE KEY-----[\s\S]+-----BEGIN CERTIFICATE-----[\s\S]+-----BEGIN CERTIFICATE-----/);
    await closeAll();
  });

  test('TLS-ALPN-01 only (HTTP port closed), validator on TLS 1.3', async () => {
    const manager = bench.manager({ challengeTypes: ['http-01', 'tls-alpn-01'] });
    const https = await startHttps(bench.tlsPort, manager);
    listeners.push(https);

    const before = bench.orders();
    await assertServes(https.port, 'alpn-only.example.test');
    assert.equal(bench.orders() - before, 2, 'one failed HTTP-01 order, then one TLS-ALPN-01 order');
    await closeAll();
  });

  test('TLS-ALPN-01 with the listener capped at TLS 1.2 (SNI is decided before ALPN)', async () => {
    const manager = bench.manager({ challengeTypes: ['tls-alpn-01'] });
    const https = await startHttps(bench.tlsPort, manager, { maxVersion: 'TLSv1.2' });
    listeners.push(https);

    const before = bench.orders();
    await assertServes(https.port, 'alpn-tls12.example.test');
    assert.equal(bench.orders() - before, 1);
    await closeAll();
  });

  test('the host policy refuses names outside the allowlist without ordering', async () => {
    const manager = bench.manager({ hostPolicy: (host) => host === 'allowed.example.test' });
    const https = await startHttps(bench.tlsPort, manager);
    listeners.push(https);

    const before = bench.orders();
    assert.equal(await manager.getSecureContext('other.example.test'), null);
    assert.equal(await manager.getSecureContext('localhost'), null, 'single-label names are never ordered');
    await assert.rejects(fetchHttp1(https.port, 'other.example.test', bench.pebble.rootPem));
    assert.equal(bench.orders(), before);

    await assertServes(https.port, 'allowed.example.test');
    assert.ok(await manager.getSecureContext('Allowed.Example.Test.'), 'SNI names are normalized');
    assert.equal(bench.orders() - before, 1);
    await closeAll();
  });
});
