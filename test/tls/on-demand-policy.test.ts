// On-demand TLS approval (--tls-on-demand-url), as kamal-proxy's
// tls_on_demand_test.go has it: the check URL Go builds, and the outcomes of
// a real call to a real HTTP server on 127.0.0.1 (200 approves; anything
// else denies, with at most 256 bytes of the body; redirects are not
// followed; 2 s and no answer denies), cached names not asked about, and
// one check per name at a time however many handshakes want it.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { AcmeCache } from '../../src/tls/acme-cache.ts';
import { AcmeManager } from '../../src/tls/acme-manager.ts';
import { goQuoteBytes } from '../../src/util/go-quote.ts';
import {
  ON_DEMAND_BODY_LIMIT_BYTES,
  ON_DEMAND_CHECK_TIMEOUT_MS,
  OnDemandDeniedError,
  OnDemandPolicy,
  onDemandCheckUrl,
  type LocalCheck,
} from '../../src/tls/on-demand-policy.ts';
import { hostKey } from '../../src/http/host.ts';
import { startBackend, type Backend } from '../helpers/backend.ts';
import { freePort } from '../helpers/free-port.ts';
import { scratchDir } from '../helpers/scratch-dir.ts';

describe('the check URL', () => {
  test('host escaped with QueryEscape, the URL\'s own parameters kept, keys sorted as Go encodes them', () => {
    assert.equal(onDemandCheckUrl('/allow-host', 'test.example.com'), '/allow-host?host=test.example.com');
    assert.equal(onDemandCheckUrl('/allow-host', 'test.example.com:8080'), '/allow-host?host=test.example.com%3A8080');
    assert.equal(onDemandCheckUrl('/allow-host?token=abc', 'test.example.com'), '/allow-host?host=test.example.com&token=abc');
    assert.equal(
      onDemandCheckUrl('https://example.com/check?token=abc', 'test.example.com'),
      'https://example.com/check?host=test.example.com&token=abc',
    );
    // Re-encoded as Go's url.Values does: sorted keys, '+' for space,
    // everything but letters, digits and -._~ escaped; a host parameter
    // already there is replaced.
    assert.equal(onDemandCheckUrl('/c?z=1&a=x+y&host=old&b=%7e%2F', 'a b&c'), '/c?a=x+y&b=~%2F&host=a+b%26c&z=1');
    // Pairs Go cannot parse are dropped (a ';', a bad escape), empty ones skipped.
    assert.equal(onDemandCheckUrl('/c?a=1;b=2&&c=%zz&d', 'h.test'), '/c?d=&host=h.test');
    // A path's fragment stays a fragment.
    assert.equal(onDemandCheckUrl('/c?t=1#frag', 'h.test'), '/c?host=h.test&t=1#frag');
    assert.equal(onDemandCheckUrl('http://127.0.0.1:9/check', 'ü.test'), 'http://127.0.0.1:9/check?host=%C3%BC.test');
  });
});

describe('Go quoting of a denial body', () => {
  test('as strconv.Quote: escapes, and \\x for bytes that are not UTF-8 (a body cut inside a character)', () => {
    assert.equal(goQuoteBytes(Buffer.from('Access denied')), '"Access denied"');
    assert.equal(goQuoteBytes(Buffer.from('a "b"\\\n\t\x00\x7fé€')), '"a \\"b\\"\\\\\\n\\t\\x00\\x7fé€"');
    assert.equal(goQuoteBytes(Buffer.from('€').subarray(0, 2)), '"\\xe2\\x82"');
    assert.equal(goQuoteBytes(Buffer.from('\u2028\u{1F600}\u{E0001}')), '"\\u2028😀\\U000e0001"');
  });
});

describe('a check against a real HTTP server', () => {
  let app: Backend;
  let hold: Array<() => void> = [];
  before(async () => {
    app = await startBackend('checker', {
      route: (req, res) => {
        const url = new URL(req.url!, 'http://x');
        if (url.pathname === '/redirect') res.writeHead(302, { Location: '/allow' }).end('Found');
        else if (url.pathname === '/silent') hold.push(() => res.end());
        else if (url.pathname === '/slow-body') {
          res.writeHead(403).write('partial');
          hold.push(() => res.end());
        } else if (url.pathname === '/big') res.writeHead(403).end('a'.repeat(500));
        else if (url.pathname === '/allow' || url.searchParams.get('host') === 'allowed.example.com') res.writeHead(200).end('ok');
        else res.writeHead(403).end('Access denied');
        return true;
      },
    });
  });
  after(async () => {
    for (const release of hold) release();
    await app.close();
  });

  const cache = () => new AcmeCache(scratchDir('kn-ondemand-'));
  const quiet = { warn() {} };
  const url = (path: string) => `http://127.0.0.1:${app.port}${path}`;

  test('200 approves; 403 denies with kamal-proxy\'s error, status and body', async () => {
    const logged: Array<[string, Record<string, unknown>]> = [];
    const policy = new OnDemandPolicy({ logger: { warn: (msg, attrs) => logged.push([msg, attrs!]) } });
    await policy.approve(url('/check?token=abc'), 'allowed.example.com', cache(), null);
    assert.equal(app.lastUrl, '/check?host=allowed.example.com&token=abc');

    const err = await policy.approve(url('/check'), 'denied.example.com', cache(), null).then(() => null, (e: Error) => e);
    assert.ok(err instanceof OnDemandDeniedError);
    assert.equal(err.message, 'denied.example.com is not allowed to get a certificate (status: 403, body: "Access denied")');
    assert.deepEqual(logged, [['TLS on-demand check denied host', { host: 'denied.example.com', status: 403, body: 'Access denied' }]]);
    assert.equal(policy.inFlight, 0);
  });

  test('a denial reports 256 bytes of the body, no more', async () => {
    const policy = new OnDemandPolicy({ logger: quiet });
    const err = await policy.approve(url('/big'), 'denied.example.com', cache(), null).then(() => null, (e: Error) => e);
    assert.ok(err instanceof OnDemandDeniedError);
    assert.equal(ON_DEMAND_BODY_LIMIT_BYTES, 256);
    assert.equal(err.body.length, 256);
    assert.ok(err.message.includes('a'.repeat(256)));
    assert.ok(!err.message.includes('a'.repeat(257)));
  });

  test('a redirect is the answer, not followed: 302 denies', async () => {
    const policy = new OnDemandPolicy({ logger: quiet });
    const requests = app.requests;
    const err = await policy.approve(url('/redirect'), 'allowed.example.com', cache(), null).then(() => null, (e: Error) => e);
    assert.ok(err instanceof OnDemandDeniedError);
    assert.equal(err.status, 302);
    assert.match(err.message, /status: 302/);
    assert.equal(app.requests, requests + 1, '/allow was never asked');
  });

  test('no answer within the timeout denies (2 s by default); a denial body still arriving keeps what came', async () => {
    assert.equal(ON_DEMAND_CHECK_TIMEOUT_MS, 2_000);
    const policy = new OnDemandPolicy({ timeoutMs: 200, logger: quiet });
    const started = Date.now();
    await assert.rejects(policy.approve(url('/silent'), 'allowed.example.com', cache(), null), {
      message: `Get "${url('/silent?host=allowed.example.com')}": context deadline exceeded (Client.Timeout exceeded while awaiting headers)`,
    });
    const took = Date.now() - started;
    assert.ok(took >= 190 && took < 1_500, `took ${took} ms`);

    const err = await policy.approve(url('/slow-body'), 'allowed.example.com', cache(), null).then(() => null, (e: Error) => e);
    assert.ok(err instanceof OnDemandDeniedError);
    assert.equal(err.body.toString(), 'partial');
    assert.equal(policy.inFlight, 0);
  });

  test('the default timeout is what a check gets', async () => {
    const policy = new OnDemandPolicy({ logger: quiet });
    const started = Date.now();
    await assert.rejects(policy.approve(url('/silent'), 'allowed.example.com', cache(), null), /context deadline exceeded/);
    const took = Date.now() - started;
    assert.ok(took >= 1_950 && took < 3_500, `took ${took} ms`);
  });

  test('an endpoint that cannot be reached denies, saying why', async () => {
    const policy = new OnDemandPolicy({ logger: quiet });
    const port = await freePort();
    await assert.rejects(policy.approve(`http://127.0.0.1:${port}/check`, 'a.example.com', cache(), null), {
      message: new RegExp(`^Get "http://127\\.0\\.0\\.1:${port}/check\\?host=a\\.example\\.com": .*ECONNREFUSED`),
    });
  });

  test('a name with a cached certificate (ECDSA or +rsa, any trailing dot) is not asked about', async () => {
    const policy = new OnDemandPolicy({ logger: quiet });
    const c = cache();
    writeFileSync(join(c.dir, 'cached.example.com'), 'cert');
    writeFileSync(join(c.dir, 'rsa-only.example.com+rsa'), 'cert');
    const requests = app.requests;
    await policy.approve(url('/check'), 'cached.example.com', c, null);
    // The manager hands the policy names as hostKey makes them.
    await policy.approve(url('/check'), hostKey('Cached.Example.com.'), c, null);
    await policy.approve(url('/check'), 'rsa-only.example.com', c, null);
    assert.equal(app.requests, requests);
    await assert.rejects(policy.approve(url('/check'), 'uncached.example.com', c, null), OnDemandDeniedError);
    assert.equal(app.requests, requests + 1);
  });

  test('a path goes to the local check with the same URL; it is refused without one', async () => {
    const policy = new OnDemandPolicy({ logger: quiet });
    const asked: string[] = [];
    const local: LocalCheck = async (path, signal, max) => {
      asked.push(path);
      assert.equal(signal.aborted, false);
      assert.equal(max, 256);
      return { status: path.includes('allowed') ? 200 : 503, body: Buffer.from('stopped') };
    };
    await policy.approve('/tls-check?t=1', 'allowed.example.com', cache(), local);
    await assert.rejects(policy.approve('/tls-check', 'denied.example.com', cache(), local), {
      message: 'denied.example.com is not allowed to get a certificate (status: 503, body: "stopped")',
    });
    assert.deepEqual(asked, ['/tls-check?host=allowed.example.com&t=1', '/tls-check?host=denied.example.com']);
    await assert.rejects(policy.approve('/tls-check', 'x.example.com', cache(), null), /no service to ask/);
  });

  test('checks in flight are bounded: past the bound a name is refused at once, not queued', async () => {
    const policy = new OnDemandPolicy({ maxInFlight: 2, logger: quiet });
    const sent = app.requests;
    const first = policy.approve(url('/silent'), 'one.example.com', cache(), null).catch((e: Error) => e);
    const second = policy.approve(url('/silent'), 'two.example.com', cache(), null).catch((e: Error) => e);
    // Both checks have reached the server (in flight counts from the call).
    await waitFor(() => policy.inFlight === 2 && app.requests === sent + 2);
    const requests = app.requests;
    await assert.rejects(policy.approve(url('/check'), 'three.example.com', cache(), null), /2 checks already in flight/);
    assert.equal(app.requests, requests, 'the third was never sent');
    for (const release of hold.splice(0)) release();
    assert.equal(await first, undefined);
    assert.equal(await second, undefined);
    assert.equal(policy.inFlight, 0);
    await policy.approve(url('/check'), 'allowed.example.com', cache(), null);
  });

  test('through the ACME manager: one check per name however many handshakes ask; a denial is the handshake\'s error', async () => {
    const policy = new OnDemandPolicy({ logger: quiet });
    let checks = 0;
    const manager = new AcmeManager({
      cachePath: scratchDir('kn-ondemand-'),
      // Never reached: every name here is denied before an order.
      directoryUrl: `https://127.0.0.1:${await freePort()}/dir`,
      renewCheckIntervalMs: 0,
      logger: { info() {}, warn() {}, error() {} },
      hostPolicy: (host, c) => {
        checks++;
        return policy.approve(url('/check'), host, c, null).then(() => true);
      },
    });
    try {
      const requests = app.requests;
      const all = await Promise.allSettled(Array.from({ length: 20 }, () => manager.getSecureContext('denied.example.com')));
      assert.ok(all.every((r) => r.status === 'rejected' && /denied\.example\.com is not allowed to get a certificate \(status: 403/.test(String(r.reason))));
      assert.deepEqual([checks, app.requests - requests], [1, 1]);
      // Nothing remembered: the next handshake asks again, as kamal-proxy's does.
      await assert.rejects(manager.getSecureContext('Denied.Example.com.'), OnDemandDeniedError);
      assert.deepEqual([checks, app.requests - requests], [2, 2]);
      assert.equal(manager.loadedCertificate('denied.example.com'), null);
    } finally {
      manager.close();
    }
  });
});

async function waitFor(check: () => boolean): Promise<void> {
  const deadline = Date.now() + 5_000;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 10));
  }
}
