import assert from 'node:assert/strict';
import { chmod, mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { ServiceState } from '../../src/config/service-options.ts';
import {
  defaultPauseState,
  defaultServiceOptions,
  defaultTargetOptions,
} from '../../src/config/service-options.ts';
import { decodeState, encodeState, loadStateFile, saveStateFile } from '../../src/state/state-file.ts';

const FIXTURE = new URL('../fixtures/kamal-proxy.state', import.meta.url);
const LEGACY_FIXTURE = new URL('../fixtures/kamal-proxy-legacy.state', import.meta.url);

// Every field differs from its default, so a field dropped on either side shows.
function fullService(): ServiceState {
  return {
    name: 'app-web',
    options: {
      hosts: ['app.example.com', '*.example.org'],
      pathPrefixes: ['/api', '/admin'],
      tlsEnabled: true,
      tlsCertificatePath: '/certs/cert.pem',
      tlsPrivateKeyPath: '/certs/key.pem',
      tlsOnDemandUrl: 'http://app-web:3000/allow',
      tlsRedirect: false,
      canonicalHost: 'app.example.com',
      acmeDirectory: 'https://acme-staging-v02.api.letsencrypt.org/directory',
      acmeCachePath: '/data/certs',
      errorPagePath: '/data/pages',
      stripPrefix: false,
      writerAffinityTimeoutMs: 2_500,
      readTargetsAcceptWebsockets: true,
      excludeMetricsPaths: ['/up', '/cable'],
      clientIpHeader: 'CF-Connecting-IP',
    },
    targetOptions: {
      healthCheck: { path: '/health', port: 9000, intervalMs: 1_500, timeoutMs: 750, host: 'internal.example' },
      responseTimeoutMs: 45_000,
      bufferRequests: true,
      bufferResponses: true,
      maxMemoryBufferBytes: 123,
      maxRequestBodyBytes: 456,
      maxResponseBodyBytes: 789,
      logRequestHeaders: ['User-Agent'],
      logResponseHeaders: ['Content-Type', 'X-Runtime'],
      forwardHeaders: true,
      scopeCookiePaths: true,
      httpCache: true,
      httpCacheSizeBytes: 2_000_000,
      httpCacheMaxItemBytes: 20_000,
      compress: true,
      xSendfileRoots: ['/srv/app/storage'],
    },
    activeTargets: ['web-1:3000', 'web-2:3000'],
    activeReaders: ['reader-1:3000'],
    rolloutTargets: ['web-3:3000'],
    rolloutReaders: ['reader-2:3000'],
    pause: { state: 'stopped', stopMessage: 'Back <soon> & "well"', failAfterMs: 12_000 },
    rollout: { percentage: 20, percentageSplitPoint: 4294967295 * 0.2, allowlist: ['first'] },
  };
}

function plainService(name: string): ServiceState {
  return {
    name,
    options: { ...defaultServiceOptions(), hosts: [''], pathPrefixes: ['/'] },
    targetOptions: defaultTargetOptions(),
    activeTargets: [`${name}:80`],
    activeReaders: [],
    rolloutTargets: [],
    rolloutReaders: [],
    pause: defaultPauseState(),
    rollout: null,
  };
}

function entry(name: string, extra: object = {}): object {
  return { name, active_targets: [`${name}:80`], ...extra };
}

describe('encodeState / decodeState', () => {
  test('every field round-trips', () => {
    const paused: ServiceState = {
      ...plainService('paused'),
      pause: { state: 'paused', stopMessage: '', failAfterMs: 30_000 },
    };
    const services = [fullService(), plainService('plain'), paused];
    const decoded = decodeState(encodeState(services));
    assert.deepEqual(decoded.errors, []);
    assert.deepEqual(decoded.services, services);
  });

  test('writes kamal-proxy names, nanoseconds and numeric pause states', () => {
    const [wire] = JSON.parse(encodeState([fullService()]));
    assert.equal(wire.target_options.response_timeout, 45_000_000_000);
    assert.equal(wire.target_options.health_check_config.interval, 1_500_000_000);
    assert.equal(wire.target_options.health_check_config.timeout, 750_000_000);
    assert.equal(wire.options.writer_affinity_timeout, 2_500_000_000);
    assert.equal(wire.pause_controller.state, 2);
    assert.equal(wire.pause_controller.fail_after, 12_000_000_000);
    assert.equal(wire.target_options.max_memory_buffer_size, 123);
    assert.deepEqual(wire.rollout_controller, { percentage: 20, percentage_split_point: 858993459, allowlist: ['first'] });
    assert.deepEqual(Object.keys(wire), [
      'name', 'options', 'target_options', 'active_targets', 'active_readers',
      'rollout_targets', 'rollout_readers', 'pause_controller', 'rollout_controller',
    ]);
  });

  test('writes empty lists the way Go does', () => {
    const [wire] = JSON.parse(encodeState([plainService('plain')]));
    assert.deepEqual(wire.active_readers, []); // built with make(), never nil
    assert.equal(wire.rollout_targets, null); // no rollout balancer
    assert.equal(wire.rollout_readers, null);
    assert.equal(wire.options.exclude_metrics_paths, null); // unset flag: nil slice
    assert.equal(wire.target_options.log_request_headers, null);
    assert.equal(wire.rollout_controller, null);
  });

  test('escapes HTML characters like Go and ends with a newline', () => {
    const text = encodeState([fullService()]);
    assert.ok(text.includes('"stop_message":"Back \\u003csoon\\u003e \\u0026 \\"well\\""'), text);
    assert.ok(text.endsWith('}]\n'));
    assert.equal(text.indexOf('\n'), text.length - 1);
  });

  test('refuses to encode a duration that JSON cannot hold', () => {
    const service = plainService('bad');
    service.targetOptions.responseTimeoutMs = Number.POSITIVE_INFINITY;
    assert.throws(() => encodeState([service]), RangeError);
  });

  test('missing fields take our defaults, nulls become empty lists, unknown fields are ignored', () => {
    const { services, errors } = decodeState(JSON.stringify([
      { name: 'bare', some_future_field: { x: 1 } },
      {
        name: 'nulls',
        options: { hosts: null, exclude_metrics_paths: null, tls_redirect: null },
        target_options: { log_request_headers: null, health_check_config: null },
        active_targets: null,
        rollout_targets: null,
        pause_controller: null,
        rollout_controller: null,
      },
    ]));
    assert.deepEqual(errors, []);
    const expected = (name: string): ServiceState => ({ ...plainService(name), activeTargets: [] });
    assert.deepEqual(services, [expected('bare'), expected('nulls')]);
  });

  test('normalizes hosts and path prefixes on load, as kamal-proxy does', () => {
    const { services } = decodeState(JSON.stringify([
      entry('a', { options: { hosts: [], path_prefixes: ['api/', '//admin//', '/'] } }),
    ]));
    assert.deepEqual(services[0]!.options.hosts, ['']);
    assert.deepEqual(services[0]!.options.pathPrefixes, ['/api', '/admin', '/']);
  });

  test('works out a missing rollout split point from the percentage', () => {
    const { services } = decodeState(JSON.stringify([entry('a', { rollout_controller: { percentage: 50 } })]));
    assert.deepEqual(services[0]!.rollout, { percentage: 50, percentageSplitPoint: 2147483647.5, allowlist: [] });
  });

  test('current fields win over legacy ones', () => {
    const { services } = decodeState(JSON.stringify([{
      name: 'a',
      active_targets: ['new:80'],
      active_target: 'old:80',
      rollout_targets: ['new-rollout:80'],
      rollout_target: 'old-rollout:80',
      hosts: ['old.example.com'],
      path_prefixes: ['/old'],
      options: { hosts: ['new.example.com'], path_prefixes: ['/new'] },
    }]));
    const s = services[0]!;
    assert.deepEqual(s.activeTargets, ['new:80']);
    assert.deepEqual(s.rolloutTargets, ['new-rollout:80']);
    assert.deepEqual(s.options.hosts, ['new.example.com']);
    assert.deepEqual(s.options.pathPrefixes, ['/new']);
  });

  test('legacy top-level path_prefixes are used when options has none', () => {
    const { services } = decodeState(JSON.stringify([{ name: 'a', active_target: 'a:80', path_prefixes: ['/blog'] }]));
    assert.deepEqual(services[0]!.options.pathPrefixes, ['/blog']);
    assert.deepEqual(services[0]!.activeTargets, ['a:80']);
  });

  test('a bad entry is reported and the others still load', () => {
    const text = JSON.stringify([
      entry('first'),
      entry('wrong-type', { target_options: { response_timeout: '30s' } }),
      42,
      entry('fraction', { options: { writer_affinity_timeout: 1.5 } }),
      entry('bad-pause', { pause_controller: { state: 7 } }),
      entry('bad-list', { active_readers: ['ok:80', 3] }),
      { active_targets: ['nameless:80'] },
      entry('bad-options', { options: [] }),
      entry('last'),
    ]);
    const { services, errors } = decodeState(text);
    assert.deepEqual(services.map((s) => s.name), ['first', 'last']);
    assert.deepEqual(errors.map((e) => [e.index, e.name]), [
      [1, 'wrong-type'], [2, ''], [3, 'fraction'], [4, 'bad-pause'], [5, 'bad-list'], [6, ''], [7, 'bad-options'],
    ]);
    assert.match(errors[0]!.message, /^target_options\.response_timeout: expected integer nanoseconds, got string "30s"$/);
    assert.match(errors[1]!.message, /expected an object, got number 42/);
    assert.match(errors[2]!.message, /^options\.writer_affinity_timeout: .*1\.5/);
    assert.match(errors[3]!.message, /^pause_controller\.state: expected 0, 1 or 2, got 7$/);
    assert.match(errors[4]!.message, /^active_readers\[1\]: expected a string, got number 3$/);
    assert.match(errors[5]!.message, /^name: missing$/);
    assert.match(errors[6]!.message, /^options: expected an object, got a list$/);
  });

  test('text that is not a JSON array throws', () => {
    assert.throws(() => decodeState('{"name":"a"}'), /not a JSON array \(found an object\)/);
    assert.throws(() => decodeState('null'), /not a JSON array/);
    assert.throws(() => decodeState('[{"name":"a"'), /not valid JSON/);
    assert.throws(() => decodeState(''), /not valid JSON/);
  });

  test('an empty array is no services and no errors', () => {
    assert.deepEqual(decodeState('[]\n'), { services: [], errors: [] });
  });
});

describe('kamal-proxy v0.9 state file', () => {
  let text: string;
  let decoded: ReturnType<typeof decodeState>;
  before(async () => {
    text = await readFile(FIXTURE, 'utf8');
    decoded = decodeState(text);
  });

  test('decodes all three services', () => {
    assert.deepEqual(decoded.errors, []);
    assert.deepEqual(decoded.services.map((s) => s.name), ['myapp-web-production', 'myapp-api-production', 'blog-web']);
  });

  test('the TLS service with a rollout split', () => {
    const web = decoded.services[0]!;
    assert.deepEqual(web.options.hosts, ['example.com', 'www.example.com']);
    assert.equal(web.options.tlsEnabled, true);
    assert.equal(web.options.canonicalHost, 'example.com');
    assert.equal(web.options.acmeDirectory, 'https://acme-v02.api.letsencrypt.org/directory');
    assert.equal(web.options.writerAffinityTimeoutMs, 3_000);
    assert.equal(web.targetOptions.responseTimeoutMs, 30_000); // 30000000000 ns
    assert.deepEqual(web.targetOptions.healthCheck, { path: '/up', port: 0, intervalMs: 1_000, timeoutMs: 5_000, host: '' });
    assert.equal(web.targetOptions.maxRequestBodyBytes, 1_073_741_824);
    assert.deepEqual(web.targetOptions.logResponseHeaders, []);
    assert.equal(web.pause.state, 'running');
    assert.deepEqual(web.rolloutTargets, ['myapp-web-production-9f8e7d6c5b4a39281706f5e4d3c2b1a098765432:80']);
    assert.deepEqual(web.rolloutReaders, []);
    assert.deepEqual(web.rollout, { percentage: 20, percentageSplitPoint: 858993459, allowlist: ['1001', '1002'] });
  });

  test('the paused /api service', () => {
    const api = decoded.services[1]!;
    assert.deepEqual(api.options.pathPrefixes, ['/api']);
    assert.equal(api.options.stripPrefix, false);
    assert.equal(api.options.tlsRedirect, false);
    assert.equal(api.options.tlsCertificatePath, '/home/kamal-proxy/.apps-config/myapp-api/tls/cert.pem');
    assert.equal(api.options.clientIpHeader, 'CF-Connecting-IP');
    assert.equal(api.options.readTargetsAcceptWebsockets, true);
    assert.deepEqual(api.targetOptions.healthCheck, {
      path: '/health', port: 3001, intervalMs: 2_000, timeoutMs: 10_000, host: 'api.internal',
    });
    assert.equal(api.targetOptions.responseTimeoutMs, 60_000);
    assert.equal(api.targetOptions.scopeCookiePaths, true);
    assert.equal(api.activeReaders.length, 1);
    assert.deepEqual(api.rolloutTargets, []); // null in the file
    assert.deepEqual(api.pause, { state: 'paused', stopMessage: '', failAfterMs: 30_000 });
    assert.equal(api.rollout, null);
  });

  test('the stopped catch-all service', () => {
    const blog = decoded.services[2]!;
    assert.deepEqual(blog.options.hosts, ['']);
    assert.deepEqual(blog.options.pathPrefixes, ['/']);
    assert.deepEqual(blog.pause, {
      state: 'stopped', stopMessage: 'Down for maintenance & upgrades <back at 14:00 UTC>', failAfterMs: 0,
    });
  });

  test('re-encodes to the same bytes kamal-proxy wrote', () => {
    assert.equal(encodeState(decoded.services), text);
  });
});

describe('legacy kamal-proxy state file', () => {
  test('loads single targets, top-level hosts and the default path', async () => {
    const result = await loadStateFile(fileURLToPath(LEGACY_FIXTURE));
    assert.ok(result);
    assert.deepEqual(result.errors, []);
    const [app, other] = result.services;
    assert.equal(app!.name, 'my-app');
    assert.deepEqual(app!.activeTargets, ['localhost:3000']);
    assert.deepEqual(app!.rolloutTargets, []); // "rollout_target": ""
    assert.deepEqual(app!.options.hosts, ['app.example.com']);
    assert.deepEqual(app!.options.pathPrefixes, ['/']);
    assert.equal(app!.targetOptions.responseTimeoutMs, 3_000);
    assert.equal(app!.targetOptions.forwardHeaders, true);
    // Fields the old format lacks take our defaults.
    assert.equal(app!.options.tlsRedirect, true);
    assert.equal(app!.options.stripPrefix, true);
    assert.equal(app!.targetOptions.healthCheck.port, 0);

    assert.deepEqual(other!.activeTargets, ['localhost:4000']);
    assert.deepEqual(other!.rolloutTargets, ['localhost:4001']);
    assert.deepEqual(other!.options.hosts, ['other.example.com', 'www.other.example.com']);
    assert.deepEqual(other!.rollout, { percentage: 50, percentageSplitPoint: 2147483647.5, allowlist: [] });
  });
});

describe('saveStateFile / loadStateFile', () => {
  let root: string;
  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'state-file-test-'));
  });
  after(async () => {
    await rm(root, { recursive: true, force: true });
  });

  test('creates the directory 0700, writes the file 0600, leaves no temp file', async () => {
    const dir = join(root, 'fresh', 'kamal-proxy');
    const path = join(dir, 'kamal-proxy.state');
    const services = [fullService(), plainService('plain')];
    await saveStateFile(path, services);

    assert.equal((await stat(dir)).mode & 0o777, 0o700);
    assert.equal((await stat(path)).mode & 0o777, 0o600);
    assert.deepEqual(await readdir(dir), ['kamal-proxy.state']);
    assert.equal(await readFile(path, 'utf8'), encodeState(services));
    assert.deepEqual(await loadStateFile(path), { services, errors: [] });
  });

  test('replaces an existing file and its permissions', async () => {
    const path = join(root, 'replace.state');
    await writeFile(path, 'old contents');
    await chmod(path, 0o644);
    await saveStateFile(path, [plainService('new')]);
    assert.equal((await stat(path)).mode & 0o777, 0o600);
    assert.deepEqual((await loadStateFile(path))!.services.map((s) => s.name), ['new']);
  });

  test('concurrent saves end with the last call\'s content', async () => {
    const dir = join(root, 'concurrent');
    const path = join(dir, 'kamal-proxy.state');
    // Large snapshots first, a tiny one last: unordered writes would let the
    // tiny one land first and a large one overwrite it.
    const large = Array.from({ length: 2_000 }, () => fullService()).map((s, i) => ({ ...s, name: `svc-${i}` }));
    const saves = Array.from({ length: 10 }, () => saveStateFile(path, large));
    saves.push(saveStateFile(path, [plainService('last')]));
    await Promise.all(saves);
    assert.equal(await readFile(path, 'utf8'), encodeState([plainService('last')]));
    assert.deepEqual(await readdir(dir), ['kamal-proxy.state']);
  });

  test('a save takes its snapshot at call time', async () => {
    const path = join(root, 'snapshot.state');
    const services = [plainService('before')];
    const saved = saveStateFile(path, services);
    services[0]!.name = 'after';
    await saved;
    assert.deepEqual((await loadStateFile(path))!.services.map((s) => s.name), ['before']);
  });

  test('a failed save rejects, cleans up, and does not block the next one', async () => {
    const parent = join(root, 'blocked');
    await writeFile(parent, 'a file where the directory should be');
    const path = join(parent, 'kamal-proxy.state');
    await assert.rejects(saveStateFile(path, [plainService('a')]), { code: 'EEXIST' }); // mkdir finds a file
    const queued = saveStateFile(path, [plainService('b')]);
    await assert.rejects(queued);

    await rm(parent);
    await mkdir(parent);
    await saveStateFile(path, [plainService('c')]);
    assert.deepEqual((await loadStateFile(path))!.services.map((s) => s.name), ['c']);
    assert.deepEqual(await readdir(parent), ['kamal-proxy.state']);
  });

  test('load returns null when there is no file', async () => {
    assert.equal(await loadStateFile(join(root, 'missing', 'kamal-proxy.state')), null);
  });

  test('load throws on other I/O errors and on non-array JSON', async () => {
    await assert.rejects(loadStateFile(root), { code: 'EISDIR' });
    const path = join(root, 'object.state');
    await writeFile(path, '{"services":[]}');
    await assert.rejects(loadStateFile(path), /not a JSON array/);
  });

  test('load reports bad entries alongside the good ones', async () => {
    const path = join(root, 'mixed.state');
    await writeFile(path, JSON.stringify([entry('good'), entry('bad', { options: { tls_enabled: 'yes' } })]));
    const result = await loadStateFile(path);
    assert.deepEqual(result!.services.map((s) => s.name), ['good']);
    assert.deepEqual(result!.errors, [
      { index: 1, name: 'bad', message: 'options.tls_enabled: expected true or false, got string "yes"' },
    ]);
  });
});
