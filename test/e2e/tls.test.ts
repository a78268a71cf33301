// HTTPS through the proxy: certificates issued by a real ACME server (Debian's
// pebble on 127.0.0.1) with HTTP-01 or TLS-ALPN-01 answered by the proxy's
// own listeners; HTTP/1.1 and HTTP/2 on one port; custom certificates;
// redirects and the TLS validation rules.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { axios as acmeAxios } from 'acme-client';
import { request } from 'undici';
import { request as httpsRequest } from 'node:https';
import { startProxy } from '../../src/proxy/proxy.ts';
import type { RunningProxy } from '../../src/proxy/proxy.ts';
import { startBackend } from '../helpers/backend.ts';
import { freePort } from '../helpers/free-port.ts';
import type { Backend } from '../helpers/backend.ts';
import { httpsGet, startPebble } from '../helpers/pebble.ts';
import type { Pebble } from '../helpers/pebble.ts';
import { deployParams, quietLogs } from '../helpers/proxy.ts';
import { scratchDir } from '../helpers/scratch-dir.ts';
import { fetchHttp1, fetchHttp2, fetchWithoutSni } from '../tls/acme-fixture.ts';
import { selfSigned, tempDir } from '../tls/openssl.ts';

quietLogs();

let orders = 0;
async function countOrders(pebble: Pebble): Promise<() => void> {
  const newOrder = (JSON.parse(await httpsGet(pebble.directoryUrl, pebble.caPem)) as { newOrder: string }).newOrder;
  const id = acmeAxios.interceptors.request.use((config) => {
    if (config.url === newOrder && config.method?.toLowerCase() === 'post') orders++;
    return config;
  });
  return () => acmeAxios.interceptors.request.eject(id);
}

interface Setup {
  pebble: Pebble;
  proxy: RunningProxy;
  dir: string;
  stopCounting: () => void;
}

// `only`: the one challenge type that can succeed; the other one's validation
// port is a closed port.
async function setUp(only: 'http-01' | 'tls-alpn-01', dir = scratchDir('kn-tls-')): Promise<Setup> {
  const [httpPort, httpsPort, closed] = [await freePort(), await freePort(), await freePort()];
  const pebble = await startPebble(only === 'http-01' ? { httpPort, tlsPort: closed } : { httpPort: closed, tlsPort: httpsPort });
  const proxy = await startLocalProxy(dir, httpPort, httpsPort, pebble);
  return { pebble, proxy, dir, stopCounting: await countOrders(pebble) };
}

function startLocalProxy(dir: string, httpPort: number, httpsPort: number, pebble: Pebble): Promise<RunningProxy> {
  return startProxy({
    httpPort,
    httpsPort,
    bindAddress: '127.0.0.1',
    socketPath: join(dir, 'kamal-proxy.sock'),
    statePath: join(dir, 'kamal-proxy.state'),
    acmeDirectory: pebble.directoryUrl,
    acmeCaPem: pebble.caPem,
  });
}

const tlsService = (name: string, app: Backend, hosts: string[], dir: string) =>
  deployParams(name, [app.address], { options: { hosts, tlsEnabled: true, acmeCachePath: join(dir, 'certs') } });

describe('automatic certificates', () => {
  let app: Backend;
  before(async () => {
    app = await startBackend('app');
  });
  after(async () => {
    await app.close();
  });

  test('only HTTP-01 can succeed: a certificate is issued and served over HTTP/1.1 and HTTP/2', async () => {
    const s = await setUp('http-01');
    try {
      await s.proxy.router.deploy(tlsService('web', app, ['web.example.test'], s.dir));
      const h1 = await fetchHttp1(s.proxy.httpsPort, 'web.example.test', s.pebble.rootPem);
      assert.deepEqual([h1.body, h1.protocol], ['app', 'http/1.1']);
      assert.match(h1.subjectAltName, /DNS:web\.example\.test/);
      const h2 = await fetchHttp2(s.proxy.httpsPort, 'web.example.test', s.pebble.rootPem);
      assert.deepEqual([h2.body, h2.protocol], ['app', 'h2']);
      assert.equal(h2.serial, h1.serial, 'one certificate for the host');
      // The only TLS service is the default for clients without SNI, once its certificate is at hand.
      const noSni = await fetchWithoutSni(s.proxy.httpsPort, 'web.example.test', s.pebble.rootPem);
      assert.deepEqual([noSni.body, noSni.serial], ['app', h1.serial]);
    } finally {
      await tearDown(s);
    }
  });

  test('only TLS-ALPN-01 can succeed; 50 concurrent first handshakes make one order; a restart reuses the cache', async () => {
    const s = await setUp('tls-alpn-01');
    try {
      await s.proxy.router.deploy(tlsService('alpn', app, ['alpn.example.test'], s.dir));
      const before = orders;
      const all = await Promise.all(Array.from({ length: 50 }, () => fetchHttp1(s.proxy.httpsPort, 'alpn.example.test', s.pebble.rootPem)));
      assert.ok(all.every((r) => r.body === 'app' && r.serial === all[0]!.serial));
      assert.equal(orders - before, 1, 'exactly one ACME order');

      // Restart on the same state and certificate cache: no new order.
      const httpsPort = s.proxy.httpsPort;
      const httpPort = s.proxy.httpPort;
      await s.proxy.stop();
      s.proxy = await startLocalProxy(s.dir, httpPort, httpsPort, s.pebble);
      const again = await fetchHttp2(httpsPort, 'alpn.example.test', s.pebble.rootPem);
      assert.equal(again.serial, all[0]!.serial, 'the cached certificate is served');
      assert.equal(orders - before, 1, 'and no new order was placed');
    } finally {
      await tearDown(s);
    }
  });

  test('a host no TLS service names gets no certificate (and no order)', async () => {
    const s = await setUp('http-01');
    try {
      await s.proxy.router.deploy(tlsService('only', app, ['only.example.test'], s.dir));
      const before = orders;
      await assert.rejects(fetchHttp1(s.proxy.httpsPort, 'other.example.test', s.pebble.rootPem));
      assert.equal(orders, before);
    } finally {
      await tearDown(s);
    }
  });
});

async function tearDown(s: Setup): Promise<void> {
  s.stopCounting();
  await s.proxy.stop();
  await s.pebble.stop();
}

describe('custom certificates, redirects and the TLS rules', () => {
  let app: Backend;
  let proxy: RunningProxy;
  let dir: string;
  let cert: ReturnType<typeof selfSigned>;
  before(async () => {
    app = await startBackend('app', {
      route: (req, res) => (res.end(`${req.headers['x-forwarded-proto']} ${req.httpVersion}`), true),
    });
    dir = scratchDir('kn-tls-custom-');
    cert = selfSigned(tempDir(), 'custom', ['secure.example.test', 'www.secure.example.test']);
    proxy = await startProxy({ httpPort: 0, httpsPort: 0, bindAddress: '127.0.0.1', socketPath: join(dir, 's.sock'), statePath: join(dir, 'state') });
    await proxy.router.deploy(
      deployParams('secure', [app.address], {
        options: {
          hosts: ['secure.example.test', 'www.secure.example.test'],
          tlsEnabled: true,
          tlsCertificatePath: cert.certPath,
          tlsPrivateKeyPath: cert.keyPath,
          canonicalHost: 'secure.example.test',
        },
      }),
    );
    await proxy.router.deploy(deployParams('plain', [app.address], { options: { hosts: ['plain.example.test'] } }));
  });
  after(async () => {
    await proxy.stop();
    await app.close();
  });

  test('a custom certificate serves HTTP/1.1 and HTTP/2; the app sees X-Forwarded-Proto https', async () => {
    const h1 = await fetchHttp1(proxy.httpsPort, 'secure.example.test', cert.certPem);
    assert.deepEqual([h1.body, h1.protocol], ['https 1.1', 'http/1.1']);
    const h2 = await fetchHttp2(proxy.httpsPort, 'secure.example.test', cert.certPem);
    assert.deepEqual([h2.body, h2.protocol], ['https 1.1', 'h2'], 'HTTP/2 in front, HTTP/1.1 to the app');
  });

  test('HTTP is redirected to HTTPS with the port dropped, in one hop with the canonical host', async () => {
    const res = await request(`http://127.0.0.1:${proxy.httpPort}/a?b=1`, { headers: { host: `www.secure.example.test:${proxy.httpPort}` } });
    assert.equal(res.statusCode, 301);
    assert.equal(res.headers.location, 'https://secure.example.test/a?b=1');
    await res.body.dump();
    const https = await fetchHttp1(proxy.httpsPort, 'www.secure.example.test', cert.certPem).catch((e: Error) => e);
    assert.ok(!(https instanceof Error), 'the certificate covers www too');
  });

  test('HTTPS to a service without TLS: no certificate for its name, and 503 when reached under another name', async () => {
    await assert.rejects(fetchHttp1(proxy.httpsPort, 'plain.example.test', cert.certPem));
    const status = await new Promise<number>((resolve, reject) => {
      const req = httpsRequest(
        { host: '127.0.0.1', port: proxy.httpsPort, servername: 'secure.example.test', ca: cert.certPem, headers: { host: 'plain.example.test' }, agent: false },
        (res) => (res.resume(), resolve(res.statusCode!)),
      );
      req.on('error', reject);
      req.end();
    });
    assert.equal(status, 503);
  });

  test('a bad custom certificate fails the deploy and the old one keeps serving', async () => {
    const other = selfSigned(tempDir(), 'other', ['x.example.test']);
    await assert.rejects(
      proxy.router.deploy(
        deployParams('secure', [app.address], {
          options: { hosts: ['secure.example.test'], tlsEnabled: true, tlsCertificatePath: cert.certPath, tlsPrivateKeyPath: other.keyPath },
        }),
      ),
      { message: 'unable to load certificate' },
    );
    assert.equal((await fetchHttp1(proxy.httpsPort, 'secure.example.test', cert.certPem)).body, 'https 1.1');
  });

  test('the TLS validation rules, with kamal-proxy\'s messages', async () => {
    const cases: [Parameters<typeof deployParams>[2], string][] = [
      [{ options: { tlsEnabled: true } }, 'service options invalid: host must be set when using TLS'],
      [{ options: { tlsEnabled: true, hosts: ['a.test', ''] } }, 'service options invalid: host must be set when using TLS'],
      [{ options: { tlsEnabled: true, hosts: ['*.wild.test'] } }, 'automatic TLS does not support wildcards'],
      [{ options: { tlsEnabled: true, hosts: ['a.test'], pathPrefixes: ['/api'] } }, 'service options invalid: TLS settings must be specified on the root path service'],
      [{ options: { hosts: ['a.test'], canonicalHost: 'b.test' } }, "service options invalid: canonical-host 'b.test' must be present in the hosts list: [a.test]"],
      [{ options: { tlsOnDemandUrl: '/allow' } }, 'service options invalid: TLS must be enabled to use a TLS on-demand URL'],
      [{ options: { tlsEnabled: true, tlsOnDemandUrl: '/allow', hosts: ['a.test'] } }, 'service options invalid: cannot set hosts when using a TLS on-demand URL'],
      [{ options: { tlsEnabled: true, tlsOnDemandUrl: 'ftp://x.test/allow' } }, 'service options invalid: unsupported scheme "ftp" in tls-on-demand-url'],
    ];
    for (const [o, message] of cases) {
      await assert.rejects(proxy.router.deploy(deployParams('rules', [app.address], o)), { message }, message);
    }
  });

  test('a path-prefixed service takes its TLS settings from the root service of its host', async () => {
    await proxy.router.deploy(deployParams('secure-api', [app.address], { options: { hosts: ['secure.example.test'], pathPrefixes: ['/api'] } }));
    const res = await request(`http://127.0.0.1:${proxy.httpPort}/api/x`, { headers: { host: 'secure.example.test' } });
    assert.equal(res.statusCode, 301, 'redirected to HTTPS like its root service');
    await res.body.dump();
    assert.equal(proxy.router.service('secure-api')!.options.tlsEnabled, true);
  });
});

describe('clients that send no server name (SNI)', () => {
  let app: Backend;
  let proxy: RunningProxy;
  const certs = { alpha: selfSigned(tempDir(), 'alpha', ['alpha.example.test']), beta: selfSigned(tempDir(), 'beta', ['beta.example.test']) };
  const custom = (name: 'alpha' | 'beta') =>
    deployParams(name, [app.address], {
      options: { hosts: [`${name}.example.test`], tlsEnabled: true, tlsCertificatePath: certs[name].certPath, tlsPrivateKeyPath: certs[name].keyPath },
    });
  const both = () => `${certs.alpha.certPem}${certs.beta.certPem}`;
  before(async () => {
    app = await startBackend('app', { route: (req, res) => (res.end(`app for ${req.headers.host}`), true) });
    const dir = scratchDir('kn-tls-nosni-');
    proxy = await startProxy({ httpPort: 0, httpsPort: 0, bindAddress: '127.0.0.1', socketPath: join(dir, 's.sock'), statePath: join(dir, 'state') });
  });
  after(async () => {
    await proxy.stop();
    await app.close();
  });

  test('get the certificate of the first TLS service by name, which follows deploys and removals', async () => {
    await assert.rejects(fetchWithoutSni(proxy.httpsPort, 'alpha.example.test', both()), 'no TLS service: no certificate');
    await proxy.router.deploy(deployParams('plain', [app.address], { options: { hosts: ['plain.example.test'] } }));
    await assert.rejects(fetchWithoutSni(proxy.httpsPort, 'plain.example.test', both()), 'a service without TLS is no default');

    await proxy.router.deploy(custom('beta'));
    assert.match((await fetchWithoutSni(proxy.httpsPort, 'beta.example.test', both())).subjectAltName, /DNS:beta\.example\.test/);
    await proxy.router.deploy(custom('alpha')); // deployed later, first by name
    const alpha = await fetchWithoutSni(proxy.httpsPort, 'alpha.example.test', both());
    assert.match(alpha.subjectAltName, /DNS:alpha\.example\.test/);
    assert.equal(alpha.body, 'app for alpha.example.test', 'routed by Host as usual');

    await proxy.router.remove('alpha');
    assert.match((await fetchWithoutSni(proxy.httpsPort, 'beta.example.test', both())).subjectAltName, /DNS:beta\.example\.test/);
    await proxy.router.remove('beta');
    await assert.rejects(fetchWithoutSni(proxy.httpsPort, 'beta.example.test', both()), 'the last TLS service is gone');
    // Clients that do send a name are not affected by any of this.
    await proxy.router.deploy(custom('alpha'));
    assert.equal((await fetchHttp1(proxy.httpsPort, 'alpha.example.test', certs.alpha.certPem)).body, 'app for alpha.example.test');
  });
});
