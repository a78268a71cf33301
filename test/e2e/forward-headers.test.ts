// What a client may say about where its request came from. Without
// --forward-headers (the default with TLS) the proxy drops it all: the
// X-Forwarded-* it sets itself, and the others apps trust (Rack's
// X-Forwarded-Ssl/-Scheme/-Port, Rails' Client-IP, X-Real-IP), in any
// spelling a CGI-style server (Rack) reads as the same header: `_` for `-`.
// With --forward-headers they pass, as the trusted proxy in front sent them.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startBackend } from '../helpers/backend.ts';
import type { Backend } from '../helpers/backend.ts';
import { deployParams, quietLogs, startTestProxy } from '../helpers/proxy.ts';
import type { TestProxy } from '../helpers/proxy.ts';
import { rawExchange } from '../helpers/raw-http.ts';

quietLogs();

const SPOOFED: [string, string][] = [
  ['X-Forwarded-Ssl', 'on'],
  ['X-Forwarded-Scheme', 'https'],
  ['X-Forwarded-Port', '443'],
  ['X-Real-IP', '10.0.0.1'],
  ['Client-IP', '10.0.0.2'],
  ['X_Forwarded_Host', 'evil.test'],
  ['X-Forwarded_Proto', 'https'],
  ['x_forwarded-for', '10.0.0.3'],
  ['X_REAL_IP', '10.0.0.4'],
  ['Client_IP', '10.0.0.5'],
  ['X_Forwarded_Ssl', 'on'],
];

describe('client forwarding headers', () => {
  let proxy: TestProxy;
  let app: Backend;
  let raw: string[] = [];

  before(async () => {
    app = await startBackend('app', {
      route: (req, res) => {
        raw = req.rawHeaders;
        res.end('ok');
        return true;
      },
    });
    proxy = await startTestProxy();
    await proxy.router.deploy(deployParams('untrusted', [app.address], { options: { hosts: ['untrusted.test'] }, target: { forwardHeaders: false } }));
    await proxy.router.deploy(deployParams('trusted', [app.address], { options: { hosts: ['trusted.test'] }, target: { forwardHeaders: true } }));
  });
  after(async () => {
    await proxy.stop();
    await app.close();
  });

  // The app's raw header list for a request with the spoofed headers, as pairs.
  async function forwarded(host: string): Promise<[string, string][]> {
    raw = [];
    const lines = SPOOFED.map(([n, v]) => `${n}: ${v}\r\n`).join('');
    const r = await rawExchange(proxy.httpPort, `GET / HTTP/1.1\r\nHost: ${host}\r\nX-Kept: yes\r\n${lines}Connection: close\r\n\r\n`);
    assert.match(r, /^HTTP\/1\.1 200 /);
    return raw.flatMap((name, i) => (i % 2 === 0 ? [[name, raw[i + 1]!] as [string, string]] : []));
  }

  test('without --forward-headers, none reaches the app; the proxy sets its own X-Forwarded-*', async () => {
    const headers = await forwarded('untrusted.test');
    const names = headers.map(([n]) => n.toLowerCase());
    for (const [name] of SPOOFED) assert.equal(names.includes(name.toLowerCase()), false, `${name} reached the app`);
    assert.ok(names.includes('x-kept'));
    const get = (n: string) => headers.filter(([k]) => k.toLowerCase() === n).map(([, v]) => v);
    assert.deepEqual(get('x-forwarded-for'), ['127.0.0.1']);
    assert.deepEqual(get('x-forwarded-host'), ['untrusted.test']);
    assert.deepEqual(get('x-forwarded-proto'), ['http']);
  });

  test('with --forward-headers, they pass as sent', async () => {
    const headers = await forwarded('trusted.test');
    for (const [name, value] of SPOOFED) assert.ok(headers.some(([n, v]) => n === name && v === value), `${name} was dropped`);
  });
});
