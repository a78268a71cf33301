// On-demand TLS end to end: the real executable (`kamal-proxy run`, ACME
// from Debian's pebble on 127.0.0.1), a service deployed with `--tls
// --tls-on-demand-url` and no host. A name the URL approves gets a
// certificate on its first handshake and its requests are proxied; a name it
// denies fails the handshake and no order is placed; a name already holding a
// certificate is not asked about again. The URL as an absolute http URL, and
// as a path the app itself answers (through the service, so denied while the
// service is stopped). Every connection goes to 127.0.0.1 with an SNI name;
// pebble resolves every name to 127.0.0.1 too.
import assert from 'node:assert/strict';
import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { basename, join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { startBackend, type Backend } from '../helpers/backend.ts';
import { freePort } from '../helpers/free-port.ts';
import { pebbleInstalled, startPebble, type Pebble } from '../helpers/pebble.ts';
import { cli, spawnProxy } from '../helpers/proxy.ts';
import { scratchDir } from '../helpers/scratch-dir.ts';
import { fetchHttp1 } from '../tls/acme-fixture.ts';

// The names each check endpoint was asked about, in order.
interface Checker {
  readonly port: number;
  readonly asked: string[];
  close(): Promise<void>;
}

// The external endpoint: approves a.example.test and b.example.test only.
async function startChecker(): Promise<Checker> {
  const asked: string[] = [];
  const server = http.createServer((req, res) => {
    const url = new URL(req.url!, 'http://checker');
    const host = url.searchParams.get('host') ?? '';
    asked.push(host);
    if (url.pathname === '/allow' && url.searchParams.get('token') === 'abc' && (host === 'a.example.test' || host === 'b.example.test')) {
      res.writeHead(200).end('ok');
    } else res.writeHead(403).end(`no certificate for ${host}`);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    asked,
    close: () => new Promise<void>((resolve) => (server.close(() => resolve()), server.closeAllConnections())),
  };
}

describe('on-demand TLS', { skip: pebbleInstalled() ? false : 'pebble is not installed (apt-get install -y pebble)' }, () => {
  let pebble: Pebble;
  let checker: Checker;
  let app: Backend;
  let appChecks: Array<{ url: string; host: string; proto: string; forwardedFor: string | undefined }>;
  let proxy: Awaited<ReturnType<typeof spawnProxy>>;
  let env: NodeJS.ProcessEnv;
  let httpsPort: number;
  let certDir: string;
  const cleanups: Array<() => void> = [];

  // New orders pebble has received (each is a line of its log).
  const orders = () => pebble.log().split('\n').filter((l) => /POST \/order-plz/.test(l)).length;
  const deploy = async (...flags: string[]) => {
    const r = await cli(['deploy', 'web', `--target=${app.address}`, '--tls', ...flags], env);
    assert.deepEqual([r.code, r.stderr], [0, '']);
  };

  before(async () => {
    const home = scratchDir('kn-ondemand-');
    const httpPort = await freePort();
    httpsPort = await freePort();
    pebble = await startPebble({ httpPort, tlsPort: httpsPort });
    checker = await startChecker();
    appChecks = [];
    // The app answers its own check path: local*.example.test only.
    app = await startBackend('app', {
      route: (req, res) => {
        if (!req.url!.startsWith('/tls-check')) return false;
        const host = new URL(req.url!, 'http://app').searchParams.get('host') ?? '';
        appChecks.push({ url: req.url!, host: req.headers.host ?? '', proto: String(req.headers['x-forwarded-proto']), forwardedFor: req.headers['x-forwarded-for'] as string | undefined });
        if (host.startsWith('local')) res.writeHead(200).end('yes');
        else res.writeHead(403).end('the app says no');
        return true;
      },
    });
    // pebble's HTTPS listener is signed by a CA of its own: the executable
    // trusts it the way an operator's would, through Node's extra CAs.
    const caFile = join(home, 'pebble-ca.pem');
    writeFileSync(caFile, pebble.caPem);
    env = {
      HOME: home,
      KAMAL_PROXY_SOCKET: join(home, 'kamal-proxy.sock'),
      ACME_DIRECTORY: pebble.directoryUrl,
      NODE_EXTRA_CA_CERTS: caFile,
    };
    certDir = join(home, '.config', 'kamal-proxy', 'certs');
    proxy = await spawnProxy([`--http-port=${httpPort}`, `--https-port=${httpsPort}`], env, { after: (fn) => cleanups.push(fn) });
  });

  after(async () => {
    for (const fn of cleanups) fn();
    await Promise.all([checker?.close(), app?.close()]);
    await pebble?.stop();
  });

  test('an absolute URL: an approved name gets a certificate from the CA and is proxied; once cached, the URL is not asked again', async () => {
    await deploy(`--tls-on-demand-url=http://127.0.0.1:${checker.port}/allow?token=abc`);
    const before = orders();
    const first = await fetchHttp1(httpsPort, 'a.example.test', pebble.rootPem);
    assert.equal(first.body, 'app');
    assert.match(first.subjectAltName, /DNS:a\.example\.test/);
    assert.deepEqual(checker.asked, ['a.example.test']);
    assert.equal(orders() - before, 1, 'one order, for a.example.test');

    const again = await fetchHttp1(httpsPort, 'a.example.test', pebble.rootPem);
    assert.deepEqual([again.body, again.serial], ['app', first.serial]);
    assert.deepEqual(checker.asked, ['a.example.test'], 'a name with a certificate is not asked about again');
    assert.equal(orders() - before, 1);
  });

  test('a name the URL denies fails the handshake, no certificate is ordered, and the denial is logged in kamal-proxy\'s words', async () => {
    const before = orders();
    const asked = checker.asked.length;
    await assert.rejects(fetchHttp1(httpsPort, 'denied.example.test', pebble.rootPem));
    assert.deepEqual(checker.asked.slice(asked), ['denied.example.test']);
    assert.equal(orders(), before, 'no order');
    assert.ok(cachedFiles(certDir).includes('a.example.test'));
    assert.ok(!cachedFiles(certDir).some((f) => f.startsWith('denied')), 'nothing cached for the denied name');
    await waitFor(() => proxy.output().includes('TLS handshake error'));
    assert.match(
      proxy.output(),
      /"level":"WARN","msg":"TLS on-demand check denied host","host":"denied\.example\.test","status":403,"body":"no certificate for denied\.example\.test"/,
    );
    assert.match(
      proxy.output(),
      /"msg":"http: TLS handshake error from 127\.0\.0\.1:\d+: denied\.example\.test is not allowed to get a certificate \(status: 403, body: \\"no certificate for denied\.example\.test\\"\)"/,
    );
  });

  test('a path: the app answers the check through the service (Host the name, plain HTTP, not redirected); it denies as the URL does', async () => {
    await deploy('--tls-on-demand-url=/tls-check');
    const before = orders();
    const fetched = await fetchHttp1(httpsPort, 'local.example.test', pebble.rootPem);
    assert.equal(fetched.body, 'app');
    assert.match(fetched.subjectAltName, /DNS:local\.example\.test/);
    assert.deepEqual(appChecks, [{ url: '/tls-check?host=local.example.test', host: 'local.example.test', proto: 'http', forwardedFor: undefined }], 'no X-Forwarded-For: the check has no client');
    assert.equal(orders() - before, 1);

    await assert.rejects(fetchHttp1(httpsPort, 'other.example.test', pebble.rootPem));
    assert.deepEqual(appChecks.map((c) => c.host), ['local.example.test', 'other.example.test']);
    assert.equal(orders() - before, 1, 'no order for the denied name');
    // The name the absolute URL approved keeps its certificate without asking the app.
    assert.equal((await fetchHttp1(httpsPort, 'a.example.test', pebble.rootPem)).body, 'app');
    assert.deepEqual(appChecks.map((c) => c.host), ['local.example.test', 'other.example.test']);
  });

  test('a stopped service denies the path form without asking the app; names with a certificate still handshake', async () => {
    const stopped = await cli(['stop', 'web', '--message=back soon'], env);
    assert.equal(stopped.code, 0);
    const before = orders();
    const asked = appChecks.length;
    await assert.rejects(fetchHttp1(httpsPort, 'local2.example.test', pebble.rootPem));
    assert.equal(appChecks.length, asked, 'the app was not asked');
    assert.equal(orders(), before);
    await waitFor(() => proxy.output().includes('local2.example.test is not allowed to get a certificate (status: 503'));

    const cached = await fetchHttp1(httpsPort, 'local.example.test', pebble.rootPem);
    assert.match(cached.body, /back soon/, 'the handshake works; the request gets the stop page');

    assert.equal((await cli(['resume', 'web'], env)).code, 0);
    assert.equal((await fetchHttp1(httpsPort, 'local2.example.test', pebble.rootPem)).body, 'app');
    assert.equal(appChecks.at(-1)?.host, 'local2.example.test');
    assert.equal(orders() - before, 1);
  });

  // Also the first order after a restart: the ACME account is found again by its key.
  test('after a restart the restored service still takes names on demand, and serves cached ones without asking', async () => {
    proxy.child.kill('SIGKILL');
    await new Promise((r) => proxy.child.once('exit', r));
    const [httpPort] = /"http":(\d+)/.exec(proxy.output())!.slice(1);
    proxy = await spawnProxy([`--http-port=${httpPort}`, `--https-port=${httpsPort}`], env, { after: (fn) => cleanups.push(fn) });
    const before = orders();
    const asked = appChecks.length;
    assert.equal((await fetchHttp1(httpsPort, 'local.example.test', pebble.rootPem)).body, 'app');
    assert.equal(appChecks.length, asked, 'a cached name is not asked about');
    assert.equal(orders(), before);
    assert.equal((await fetchHttp1(httpsPort, 'local3.example.test', pebble.rootPem)).body, 'app');
    assert.equal(appChecks.at(-1)?.host, 'local3.example.test');
    assert.equal(orders() - before, 1);
  });
});

// Every file in the certificate cache (kamal-proxy's layout: a folder per
// ACME directory, a file per name).
function cachedFiles(dir: string): string[] {
  return existsSync(dir) ? readdirSync(dir, { recursive: true, encoding: 'utf8' }).map((f) => basename(f)) : [];
}

async function waitFor(check: () => boolean): Promise<void> {
  const deadline = Date.now() + 5_000;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 20));
  }
}
