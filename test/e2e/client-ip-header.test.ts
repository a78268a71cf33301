// --client-ip-header: a trusted front (Cloudflare's CF-Connecting-IP, a load
// balancer's True-Client-IP) names the client in its own header. As in
// kamal-proxy, that header's value replaces the client's X-Forwarded-For
// before the request is logged and proxied: the app sees `<value>, <peer>`
// with --forward-headers and the peer alone without (X-Forwarded-For is then
// not trusted), and the log's remote_addr is the value either way. A request
// without the header (or with it empty) is treated as if the flag were unset.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { startBackend } from '../helpers/backend.ts';
import type { Backend } from '../helpers/backend.ts';
import { cli, deployParams, quietLogs, requestLogLine, startTestProxy } from '../helpers/proxy.ts';
import type { TestProxy } from '../helpers/proxy.ts';
import { rawExchange } from '../helpers/raw-http.ts';

const logFile = quietLogs();

const remoteAddrOf = async (requestId: string) => (await requestLogLine(logFile, requestId))?.remote_addr;

describe('--client-ip-header', () => {
  let proxy: TestProxy;
  let app: Backend;
  const seen = new Map<string, string[]>();

  before(async () => {
    app = await startBackend('app', {
      route: (req, res) => {
        const values: string[] = [];
        for (let i = 0; i < req.rawHeaders.length; i += 2) if (req.rawHeaders[i]!.toLowerCase() === 'x-forwarded-for') values.push(req.rawHeaders[i + 1]!);
        seen.set(String(req.headers['x-request-id']), values);
        res.end('ok');
        return true;
      },
    });
    proxy = await startTestProxy();
    const options = (host: string) => ({ hosts: [host], clientIpHeader: 'CF-Connecting-IP' });
    await proxy.router.deploy(deployParams('trusting', [app.address], { options: options('trusting.test'), target: { forwardHeaders: true } }));
    await proxy.router.deploy(deployParams('untrusting', [app.address], { options: options('untrusting.test'), target: { forwardHeaders: false } }));
    await proxy.router.deploy(deployParams('plain', [app.address], { options: { hosts: ['plain.test'] }, target: { forwardHeaders: true } }));
  });
  after(async () => {
    await proxy.stop();
    await app.close();
  });

  async function send(host: string, id: string, headers: string[]): Promise<{ upstream: string[]; logged: unknown }> {
    const reply = await rawExchange(proxy.httpPort, `GET / HTTP/1.1\r\nHost: ${host}\r\nX-Request-ID: ${id}\r\n${headers.map((h) => `${h}\r\n`).join('')}Connection: close\r\n\r\n`);
    assert.match(reply, /^HTTP\/1\.1 200 /);
    return { upstream: seen.get(id)!, logged: await remoteAddrOf(id) };
  }

  const cases: { name: string; host: string; headers: string[]; upstream: string[]; logged: string }[] = [
    { name: 'with --forward-headers: the value, then the peer', host: 'trusting.test', headers: ['X-Forwarded-For: 6.6.6.6', 'CF-Connecting-IP: 203.0.113.9'], upstream: ['203.0.113.9, 127.0.0.1'], logged: '203.0.113.9' },
    { name: 'the header matched in any case, its first value only', host: 'trusting.test', headers: ['cf-connecting-ip: 203.0.113.7', 'CF-Connecting-IP: 198.51.100.1'], upstream: ['203.0.113.7, 127.0.0.1'], logged: '203.0.113.7' },
    { name: 'without --forward-headers: the peer upstream, the value in the log', host: 'untrusting.test', headers: ['X-Forwarded-For: 6.6.6.6', 'CF-Connecting-IP: 203.0.113.9'], upstream: ['127.0.0.1'], logged: '203.0.113.9' },
    { name: 'absent: X-Forwarded-For as without the flag (trusted)', host: 'trusting.test', headers: ['X-Forwarded-For: 6.6.6.6'], upstream: ['6.6.6.6, 127.0.0.1'], logged: '6.6.6.6' },
    { name: 'absent: X-Forwarded-For as without the flag (untrusted)', host: 'untrusting.test', headers: ['X-Forwarded-For: 6.6.6.6'], upstream: ['127.0.0.1'], logged: '6.6.6.6' },
    { name: 'empty: as if absent', host: 'trusting.test', headers: ['CF-Connecting-IP: ', 'X-Forwarded-For: 6.6.6.6'], upstream: ['6.6.6.6, 127.0.0.1'], logged: '6.6.6.6' },
    { name: 'a service without the flag ignores the header', host: 'plain.test', headers: ['CF-Connecting-IP: 203.0.113.9'], upstream: ['127.0.0.1'], logged: '127.0.0.1' },
  ];
  for (const c of cases) {
    test(c.name, async () => {
      const id = `cip-${cases.indexOf(c)}`;
      const { upstream, logged } = await send(c.host, id, c.headers);
      assert.deepEqual(upstream, c.upstream, 'X-Forwarded-For at the app');
      assert.equal(logged, c.logged, 'remote_addr in the request log');
    });
  }

  test('deployed through bin/kamal-proxy with the flag, and kept in the state file', async () => {
    const env = { KAMAL_PROXY_SOCKET: proxy.socketPath, HOME: proxy.dir };
    const deployed = await cli(['deploy', 'cli-cip', `--target=${app.address}`, '--host=cli-cip.test', '--forward-headers', '--client-ip-header=True-Client-IP'], env);
    assert.deepEqual([deployed.code, deployed.stderr], [0, '']);
    const { upstream, logged } = await send('cli-cip.test', 'cip-cli', ['X-Forwarded-For: 6.6.6.6', 'True-Client-IP: 203.0.113.5']);
    assert.deepEqual(upstream, ['203.0.113.5, 127.0.0.1']);
    assert.equal(logged, '203.0.113.5');
    const state = JSON.parse(readFileSync(proxy.statePath, 'utf8')) as { name: string; options: Record<string, unknown> }[];
    assert.equal(state.find((s) => s.name === 'cli-cip')?.options.client_ip_header, 'True-Client-IP');
  });
});
