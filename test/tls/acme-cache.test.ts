// The on-disk layout shared with kamal-proxy (Go autocert's DirCache).
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, test } from 'node:test';
import { LETS_ENCRYPT_STAGING_URL } from '../../src/config/defaults.ts';
import { AcmeCache, LETS_ENCRYPT_PRODUCTION_URL, acmeCacheDir } from '../../src/tls/acme-cache.ts';
import { tempDir } from './openssl.ts';

const dir = tempDir();
after(() => fs.rmSync(dir, { recursive: true, force: true }));

test('the cache folder is the SHA-256 of the directory setting, "" for Let\'s Encrypt production', () => {
  const production = '/data/certs/e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';
  assert.equal(acmeCacheDir('/data/certs', ''), production);
  assert.equal(acmeCacheDir('/data/certs', LETS_ENCRYPT_PRODUCTION_URL), production, 'the spelled-out production URL is the same CA');
  assert.equal(acmeCacheDir('/data/certs', LETS_ENCRYPT_STAGING_URL), '/data/certs/67f2750652314251daad76f012141d33c9f7290f4f8ebb0a006a7f02d394a904');
  assert.equal(acmeCacheDir('/data/certs', 'https://127.0.0.1:14000/dir'), '/data/certs/6d8ba56d5d58fae070e8efd69cb4b20cfd70cb1ff83b84e0e022926d96e44afc');
});

test('certificates and the account key are private files in a private folder, replaced whole', async () => {
  const cache = new AcmeCache(path.join(dir, 'certs', 'abc'));
  assert.equal(await cache.readCertificate('app.example.test'), null);
  assert.equal(await cache.readAccountKey(), null);

  await cache.writeCertificate('app.example.test', 'first');
  await cache.writeCertificate('app.example.test', 'second');
  await cache.writeAccountKey('account');
  assert.equal(await cache.readCertificate('app.example.test'), 'second');
  assert.equal(await cache.readAccountKey(), 'account');

  assert.deepEqual(fs.readdirSync(cache.dir).sort(), ['acme_account+key', 'app.example.test'], 'no temporary files left');
  assert.equal(fs.statSync(cache.dir).mode & 0o777, 0o700);
  assert.equal(fs.statSync(path.join(dir, 'certs')).mode & 0o777, 0o700);
  for (const f of fs.readdirSync(cache.dir)) assert.equal(fs.statSync(path.join(cache.dir, f)).mode & 0o777, 0o600, f);
});

test('names that could leave the folder are refused', async () => {
  const cache = new AcmeCache(path.join(dir, 'names'));
  for (const name of ['../escape.example.test', 'a/b.example.test', '..', 'acme_account+key', '']) {
    await assert.rejects(cache.writeCertificate(name, 'x'), /invalid domain/, name);
    await assert.rejects(cache.readCertificate(name), /invalid domain/, name);
  }
  assert.equal(fs.existsSync(path.join(dir, 'escape.example.test')), false);
});
