// The real executable with KAMAL_NAPPER_UPSTREAM_CLIENT=undici, the way back
// for a Node whose internals our own client and the HTTP/1.1 fast path run
// on are gone: proxied requests go through undici's Pool, every plain-HTTP
// request through node:http (src/upstream/client-choice.ts), and the proxy
// says so once at start. Without the variable it says nothing of it.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { test, type TestContext } from 'node:test';
import { request } from 'undici';
import { startBackend } from '../helpers/backend.ts';
import { freePort } from '../helpers/free-port.ts';
import { cli, spawnProxy } from '../helpers/proxy.ts';
import { scratchDir } from '../helpers/scratch-dir.ts';

const HOST = 'fallback.example.com';
const FALLBACK_LINE = /"msg":"Using undici for upstream requests".*"reason":"KAMAL_NAPPER_UPSTREAM_CLIENT=undici"/;

async function environment() {
  const home = scratchDir('kn-home-');
  const port = await freePort();
  const env = { HOME: home, KAMAL_PROXY_SOCKET: join(home, 'kamal-proxy.sock'), KAMAL_PROXY_HTTPS_PORT: String(await freePort()) };
  return { port, env };
}

// An app that answers GETs with its name and echoes what a POST sent, with
// the framing it came in.
async function echoBackend(t: TestContext) {
  const backend = await startBackend('web', {
    route: (req, res) => {
      if (req.method !== 'POST') return false;
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const body = Buffer.concat(chunks);
        res.end(JSON.stringify({ bytes: body.length, sum: body.reduce((a, b) => (a + b) % 65521, 0), chunked: req.headers['transfer-encoding'] === 'chunked' }));
      });
      return true;
    },
  });
  t.after(() => backend.close());
  return backend;
}

test('KAMAL_NAPPER_UPSTREAM_CLIENT=undici: GETs and POSTs are proxied, and one line says which client is in use', async (t) => {
  const { port, env } = await environment();
  const backend = await echoBackend(t);
  const proxy = await spawnProxy([`--http-port=${port}`], { ...env, KAMAL_NAPPER_UPSTREAM_CLIENT: 'undici' }, t);
  const deployed = await cli(['deploy', 'web', `--target=${backend.address}`, `--host=${HOST}`], env);
  assert.deepEqual([deployed.code, deployed.stderr], [0, '']);

  const url = `http://127.0.0.1:${port}/`;
  for (let i = 0; i < 3; i++) {
    const res = await request(`${url}page/${i}?q=${i}`, { headers: { host: HOST } });
    assert.deepEqual([res.statusCode, await res.body.text()], [200, 'web']);
    assert.equal(backend.lastUrl, `/page/${i}?q=${i}`);
  }

  const body = Buffer.alloc(300_000, 'a');
  body[0] = 0x7a;
  const expected = { bytes: body.length, sum: body.reduce((a, b) => (a + b) % 65521, 0) };
  const sized = await request(url, { method: 'POST', headers: { host: HOST, 'content-type': 'application/octet-stream' }, body });
  assert.equal(sized.statusCode, 200);
  assert.deepEqual(await sized.body.json(), { ...expected, chunked: false });
  // A body of unknown length goes on chunked.
  const streamed = await request(url, { method: 'POST', headers: { host: HOST }, body: Readable.from([body.subarray(0, 1000), body.subarray(1000)]) });
  assert.equal(streamed.statusCode, 200);
  assert.deepEqual(await streamed.body.json(), { ...expected, chunked: true });

  // An app that went away: the same 502 as with our own client.
  const gone = await startBackend('gone');
  assert.equal((await cli(['deploy', 'gone', `--target=${gone.address}`, '--host=gone.example.com'], env)).code, 0);
  await gone.close();
  const refused = await request(url, { headers: { host: 'gone.example.com' } });
  assert.equal(refused.statusCode, 502);
  await refused.body.dump();

  const lines = proxy.output().split('\n').filter((l) => FALLBACK_LINE.test(l));
  assert.equal(lines.length, 1, proxy.output());
  assert.match(lines[0]!, /"level":"INFO"/);
  proxy.child.kill('SIGTERM');
});

test('without the variable the proxy uses its own client and logs nothing about it', async (t) => {
  const { port, env } = await environment();
  const backend = await echoBackend(t);
  const proxy = await spawnProxy([`--http-port=${port}`], env, t);
  assert.equal((await cli(['deploy', 'web', `--target=${backend.address}`, `--host=${HOST}`], env)).code, 0);
  const res = await request(`http://127.0.0.1:${port}/`, { headers: { host: HOST } });
  assert.deepEqual([res.statusCode, await res.body.text()], [200, 'web']);
  assert.doesNotMatch(proxy.output(), /undici|Node internals/);
  proxy.child.kill('SIGTERM');
});
