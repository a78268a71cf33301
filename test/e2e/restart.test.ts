// The real executable as a process: state survives SIGKILL, a state file
// written by kamal-proxy itself loads, and SIGTERM shuts down gracefully.
import assert from 'node:assert/strict';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { request } from 'undici';
import { startBackend, type Backend } from '../helpers/backend.ts';
import { freePort } from '../helpers/free-port.ts';
import { cli, ROOT, spawnProxy } from '../helpers/proxy.ts';
import { selfSigned, tempDir } from '../tls/openssl.ts';
import { napApp } from '../helpers/nap.ts';
import { scratchDir } from '../helpers/scratch-dir.ts';

async function environment() {
  const home = scratchDir('kn-home-');
  const port = await freePort();
  const env = { HOME: home, KAMAL_PROXY_SOCKET: join(home, 'kamal-proxy.sock'), KAMAL_PROXY_HTTPS_PORT: String(await freePort()) };
  return { home, port, env, stateDir: join(home, '.config', 'kamal-proxy') };
}

// Backends close when the test ends, failed or not: an open server would keep
// this file's process (and the whole test run) waiting.
const closeAfter = (t: TestContext, ...backends: Backend[]) => t.after(() => Promise.all(backends.map((b) => b.close())));

const get = async (port: number, host: string, path = '/') => {
  const res = await request(`http://127.0.0.1:${port}${path}`, { headers: { host } });
  return { status: res.statusCode, body: await res.body.text() };
};

test('SIGKILL and a restart keep every service', async (t) => {
  const { port, env, stateDir } = await environment();
  const web = await startBackend('web');
  const api = await startBackend('api', { route: (req, res) => (res.end(`api:${req.url}`), true) });
  closeAfter(t, web, api);
  const first = await spawnProxy([`--http-port=${port}`], env, t);
  assert.match(first.output(), /"msg":"No previous state to restore"/);

  for (const args of [
    ['deploy', 'web', `--target=${web.address}`, '--host=kill.example.com'],
    ['deploy', 'api', `--target=${api.address}`, '--host=kill.example.com', '--path-prefix=/api'],
  ]) {
    const r = await cli(args, env);
    assert.deepEqual([r.code, r.stderr], [0, '']);
  }
  first.child.kill('SIGKILL');
  await new Promise((r) => first.child.once('exit', r));

  const second = await spawnProxy([`--http-port=${port}`], env, t);
  assert.match(second.output(), /"msg":"Restored saved state"/);
  assert.deepEqual(await get(port, 'kill.example.com'), { status: 200, body: 'web' });
  assert.deepEqual(await get(port, 'kill.example.com', '/api/v1'), { status: 200, body: 'api:/v1' });
  const listed = await cli(['list'], env);
  assert.match(listed.stdout, /api.*kill\.example\.com.*\/api/);
  // Written atomically: only the state file, never a leftover temp file.
  assert.deepEqual(readdirSync(stateDir), ['kamal-proxy.state']);

  second.child.kill('SIGKILL');
});

test('a state file written by kamal-proxy loads; a broken service is skipped, not fatal', async (t) => {
  const { port, env, stateDir } = await environment();
  const webApp = await startBackend('web');
  const api = await startBackend('api', { route: (req, res) => (res.end(`api:${req.url}`), true) });
  const blog = await startBackend('blog');
  closeAfter(t, webApp, api, blog);
  const fixture = JSON.parse(readFileSync(join(ROOT, 'test/fixtures/kamal-proxy.state'), 'utf8')) as Record<string, any>[];
  const [webState, apiState, blogState] = fixture;
  webState!.active_targets = [webApp.address];
  webState!.rollout_targets = null;
  webState!.rollout_controller = null;
  webState!.options.error_page_path = ''; // the fixture's directory does not exist here
  apiState!.active_targets = [api.address];
  apiState!.active_readers = [];
  const cert = selfSigned(tempDir(), 'example', ['example.com']);
  apiState!.options.tls_certificate_path = cert.certPath;
  apiState!.options.tls_private_key_path = cert.keyPath;
  blogState!.active_targets = [blog.address];
  // A fourth service whose error pages are missing: kamal-proxy would drop
  // every service over it; we drop only this one.
  const broken = structuredClone(blogState!);
  broken.name = 'broken';
  broken.options.hosts = ['broken.example.com'];
  broken.options.error_page_path = '/nonexistent/error_pages';
  mkdirSync(stateDir, { recursive: true });
  writeFileSync(join(stateDir, 'kamal-proxy.state'), JSON.stringify([...fixture, broken]));

  const proxy = await spawnProxy([`--http-port=${port}`], env, t);
  assert.match(proxy.output(), /"msg":"Restored saved state"/);
  // A TLS service: plain HTTP is redirected to HTTPS (and www to the canonical host), as kamal-proxy does.
  const web = await get(port, 'www.example.com', '/x?y=1');
  assert.equal(web.status, 301);
  assert.match(web.body, /https:\/\/example\.com\/x\?y=1/);
  const blogPage = await get(port, 'blog.example.org', '/');
  assert.equal(blogPage.status, 503, 'the stopped catch-all shows its maintenance page');
  assert.match(blogPage.body, /Service Temporarily Unavailable/);
  const listed = (await cli(['list'], env)).stdout.replace(/\x1b\[[0-9;]*m/g, '');
  assert.match(listed, /^blog-web\s+\*\s+\/\s+\S+\s+stopped\s+no$/m);
  assert.match(listed, /^myapp-api-production\s+example\.com\s+\/api\s+\S+\s+paused\s+yes$/m);
  assert.match(listed, /^myapp-web-production\s+example\.com,www\.example\.com\s+\/\s+\S+\s+running\s+yes$/m);
  assert.doesNotMatch(listed, /broken/);
  assert.match(proxy.output(), /"msg":"Failed to restore service".*"service":"broken"/);
  proxy.child.kill('SIGKILL');
});

test('SIGTERM lets in-flight requests finish, then exits 0', async (t) => {
  const { port, env } = await environment();
  const slow = await startBackend('slow', {
    route: (req, res) => {
      if (req.url !== '/slow') return false;
      setTimeout(() => res.end('finished'), 500);
      return true;
    },
  });
  closeAfter(t, slow);
  const proxy = await spawnProxy([`--http-port=${port}`], env, t);
  assert.equal((await cli(['deploy', 'slow', `--target=${slow.address}`], env)).code, 0);
  const inFlight = get(port, 'anything.example.com', '/slow');
  await new Promise((r) => setTimeout(r, 150));
  const exited = new Promise<number | null>((r) => proxy.child.once('exit', (code) => r(code)));
  proxy.child.kill('SIGTERM');
  assert.deepEqual(await inFlight, { status: 200, body: 'finished' });
  assert.equal(await exited, 0);
  assert.match(proxy.output(), /"msg":"Server stopped"/);
  await assert.rejects(get(port, 'anything.example.com'), 'no longer accepting connections');
});

test("an app started by --nap-command gets the operator's environment, not the settings bin/kamal-proxy made for itself", async (t) => {
  const { home, port, env } = await environment();
  const app = await napApp(home, 'env-app');
  const dump = join(home, 'app-env.txt');
  // An operator's own value must reach the app; ours (compile cache, malloc
  // arenas, the list of them) must not.
  const proxy = await spawnProxy([`--http-port=${port}`], { ...env, KAMAL_NAPPER_TEST_OPERATOR_VAR: 'kept' }, t);
  const deployed = await cli(['deploy', 'env-app', `--target=${app.address}`, '--idle-timeout=0', `--nap-command=env > ${dump}; ${app.command}`], env);
  assert.deepEqual([deployed.code, deployed.stderr], [0, '']);
  const names = readFileSync(dump, 'utf8').split('\n').map((line) => line.split('=')[0]);
  assert.ok(names.includes('KAMAL_NAPPER_TEST_OPERATOR_VAR'), 'the environment reaches the app');
  for (const ours of ['NODE_COMPILE_CACHE', 'MALLOC_ARENA_MAX', 'KAMAL_NAPPER_SET_ENV']) assert.ok(!names.includes(ours), `${ours} is not passed on`);
  assert.equal((await cli(['remove', 'env-app'], env)).code, 0);
  proxy.child.kill('SIGTERM');
});
