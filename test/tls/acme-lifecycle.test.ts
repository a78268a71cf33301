// What happens around an issuance: the disk cache across restarts, one order
// for a burst of handshakes, background renewal, back-off after failures,
// and independence between hosts. Against a local pebble CA.
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import {
  fetchHttp1,
  gate,
  startAcmeBench,
  startHttpChallenges,
  startHttps,
  type AcmeBench,
  type Listener,
} from './acme-fixture.ts';

describe('ACME certificate lifecycle against pebble', { timeout: 30_000 }, () => {
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

  test('a restarted manager serves the cached certificate without ordering; files are private', async () => {
    const cachePath = bench.tempDir();
    const first = bench.manager({ cachePath });
    listeners.push(await startHttpChallenges(bench.httpPort, first));
    const https1 = await startHttps(bench.tlsPort, first);
    listeners.push(https1);
    const issued = await fetchHttp1(https1.port, 'cached.example.test', bench.pebble.rootPem);
    await closeAll();

    const dir = first.cache.dir;
    assert.equal(fs.statSync(dir).mode & 0o777, 0o700);
    assert.equal(fs.statSync(path.join(dir, 'cached.example.test')).mode & 0o777, 0o600);
    const accountKey = path.join(dir, 'acme_account+key');
    assert.equal(fs.statSync(accountKey).mode & 0o777, 0o600);
    assert.match(fs.readFileSync(accountKey, 'utf8'), /^-----BEGIN EC PRIVATE KEY-----/);

    const before = bench.orders();
    const second = bench.manager({ cachePath });
    const https2 = await startHttps(0, second); // no challenge listeners: an order could not succeed
    listeners.push(https2);
    const again = await fetchHttp1(https2.port, 'cached.example.test', bench.pebble.rootPem);
    assert.equal(again.serial, issued.serial);
    assert.equal(bench.orders(), before);
    await closeAll();
  });

  test('50 concurrent handshakes for a new host share one order', async () => {
    const manager = bench.manager();
    listeners.push(await startHttpChallenges(bench.httpPort, manager));
    listeners.push(await startHttps(bench.tlsPort, manager));

    const before = bench.orders();
    const contexts = await Promise.all(Array.from({ length: 50 }, () => manager.getSecureContext('burst.example.test')));
    assert.equal(bench.orders() - before, 1);
    assert.ok(contexts[0]);
    assert.ok(contexts.every((c) => c === contexts[0]));
    await closeAll();
  });

  test('a certificate with a third of its life left is renewed in the background while it is still served', async () => {
    let clock: Date | null = null;
    const manager = bench.manager({ challengeTypes: ['http-01'], now: () => clock ?? new Date() });
    let holding = false;
    const release = gate();
    const validatorArrived = gate();
    listeners.push(
      await startHttpChallenges(bench.httpPort, manager, async () => {
        if (!holding) return true;
        validatorArrived.open();
        await release.promise;
        return true;
      }),
    );
    const https = await startHttps(0, manager);
    listeners.push(https);
    const host = 'renew.example.test';

    const old = await fetchHttp1(https.port, host, bench.pebble.rootPem);
    const oldContext = await manager.getSecureContext(host);
    const leaf = new X509Certificate(fs.readFileSync(path.join(manager.cache.dir, host), 'utf8'));
    const lifetime = leaf.validToDate.getTime() - leaf.validFromDate.getTime();

    // Just before the renewal point nothing happens.
    const before = bench.orders();
    clock = new Date(leaf.validToDate.getTime() - lifetime / 3 - 60_000);
    assert.equal(await manager.getSecureContext(host), oldContext);
    await manager.checkRenewals();
    assert.equal(bench.orders(), before);

    // Past it, a handshake still gets the old certificate at once and starts the renewal.
    holding = true;
    clock = new Date(leaf.validToDate.getTime() - lifetime / 3 + 60_000);
    assert.equal(await manager.getSecureContext(host), oldContext);
    await validatorArrived.promise; // the renewal's challenge is being validated right now
    assert.equal(bench.orders() - before, 1);
    assert.equal((await fetchHttp1(https.port, host, bench.pebble.rootPem)).serial, old.serial);

    clock = null; // back to the present, where the new certificate is fresh
    release.open();
    await manager.checkRenewals();
    const renewed = await fetchHttp1(https.port, host, bench.pebble.rootPem);
    assert.notEqual(renewed.serial, old.serial);
    assert.equal(new X509Certificate(fs.readFileSync(path.join(manager.cache.dir, host), 'utf8')).serialNumber, renewed.serial);
    assert.equal(bench.orders() - before, 1);
    await closeAll();
  });

  test('a failed order backs off exponentially; handshakes in between fail fast without ordering', async () => {
    let clock = new Date();
    const manager = bench.manager({ challengeTypes: ['http-01'], retryBaseMs: 60_000, now: () => clock });
    listeners.push(await startHttpChallenges(bench.httpPort, manager, async () => false)); // wrong answers only
    const host = 'failing.example.test';

    const before = bench.orders();
    await assert.rejects(manager.getSecureContext(host), /unable to authorize failing\.example\.test: http-01 challenge failed/);
    assert.equal(bench.orders() - before, 1);

    await assert.rejects(manager.getSecureContext(host), /retrying in 60s/);
    clock = new Date(clock.getTime() + 59_000);
    await assert.rejects(manager.getSecureContext(host), /retrying in 1s/);
    assert.equal(bench.orders() - before, 1);

    clock = new Date(clock.getTime() + 2_000);
    await assert.rejects(manager.getSecureContext(host), /unable to authorize/);
    assert.equal(bench.orders() - before, 2);
    await assert.rejects(manager.getSecureContext(host), /retrying in 120s/, 'the delay doubles');
    await closeAll();
  });

  test('a host whose order is stuck does not hold up another host', async () => {
    const manager = bench.manager({ challengeTypes: ['http-01'] });
    const release = gate();
    const slowArrived = gate();
    listeners.push(
      await startHttpChallenges(bench.httpPort, manager, async (host) => {
        if (host !== 'slow.example.test') return true;
        slowArrived.open();
        await release.promise;
        return true;
      }),
    );
    let slowDone = false;
    const slow = manager.getSecureContext('slow.example.test').finally(() => (slowDone = true));
    await slowArrived.promise;

    assert.ok(await manager.getSecureContext('fast.example.test'));
    assert.equal(slowDone, false);
    release.open();
    assert.ok(await slow);
    await closeAll();
  });
});
