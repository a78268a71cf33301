// Contract: every line Kamal 2.12 runs against the proxy is accepted verbatim
// and means what kamal-proxy takes it to mean. Lines are Kamal's own output
// (test/commands/app_test.rb and the flag table of its proxy configuration),
// replayed through a shell-style split, then our parser.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { buildDeployParams, deployFlags } from '../../src/cli/deploy.ts';
import { parseFlags } from '../../src/cli/flags.ts';
import { shellSplit } from '../helpers/shell.ts';

function deploy(line: string) {
  const words = shellSplit(line);
  assert.deepEqual(words.slice(0, 5), ['docker', 'exec', 'kamal-proxy', 'kamal-proxy', 'deploy']);
  const parsed = parseFlags(words.slice(5), deployFlags);
  assert.equal(parsed.args.length, 1);
  return buildDeployParams(parsed.args[0]!, parsed, { HOME: '/home/kamal-proxy' });
}

test('the default Kamal deploy line', () => {
  const p = deploy(
    'docker exec kamal-proxy kamal-proxy deploy app-web --target="123abc456def:3000" --host="example.com" --tls ' +
      '--deploy-timeout="30s" --drain-timeout="30s" --buffer-requests --buffer-responses ' +
      '--log-request-header="Cache-Control" --log-request-header="Last-Modified" --log-request-header="User-Agent"',
  );
  assert.equal(p.service, 'app-web');
  assert.deepEqual(p.targets, ['123abc456def:3000']);
  assert.deepEqual(p.serviceOptions.hosts, ['example.com']);
  assert.equal(p.serviceOptions.tlsEnabled, true);
  assert.equal(p.serviceOptions.tlsRedirect, true);
  assert.equal(p.serviceOptions.acmeCachePath, '/home/kamal-proxy/.config/kamal-proxy/certs');
  assert.equal(p.deployTimeoutMs, 30_000);
  assert.equal(p.drainTimeoutMs, 30_000);
  assert.equal(p.targetOptions.bufferRequests, true);
  assert.equal(p.targetOptions.bufferResponses, true);
  assert.deepEqual(p.targetOptions.logRequestHeaders, ['Cache-Control', 'Last-Modified', 'User-Agent']);
  assert.equal(p.targetOptions.forwardHeaders, false, 'TLS services do not trust X-Forwarded-* by default');
});

test('a Kamal line with a custom certificate', () => {
  const p = deploy(
    'docker exec kamal-proxy kamal-proxy deploy app-web-staging --target="172.1.0.2:80" --host="a.example.com" ' +
      '--tls --tls-certificate-path="/home/kamal-proxy/.apps-config/app-staging/tls/web/cert.pem" ' +
      '--tls-private-key-path="/home/kamal-proxy/.apps-config/app-staging/tls/web/key.pem" --deploy-timeout="30s" --drain-timeout="30s"',
  );
  assert.equal(p.serviceOptions.tlsCertificatePath, '/home/kamal-proxy/.apps-config/app-staging/tls/web/cert.pem');
  assert.equal(p.serviceOptions.tlsPrivateKeyPath, '/home/kamal-proxy/.apps-config/app-staging/tls/web/key.pem');
});

test('a Kamal line with every other proxy setting of deploy.yml, in Kamal\'s flag order', () => {
  const p = deploy(
    'docker exec kamal-proxy kamal-proxy deploy app-web-staging --target="172.1.0.2:80" --host="a.example.com" --host="b.example.com" ' +
      '--deploy-timeout="60s" --drain-timeout="10s" --health-check-interval="3s" --health-check-timeout="2s" ' +
      '--health-check-path="/health" --target-timeout="45s" --buffer-requests --buffer-responses ' +
      '--buffer-memory="2000000" --max-request-body="40000000" --max-response-body="0" ' +
      '--path-prefix="/api" --path-prefix="/admin" --strip-path-prefix="false" --forward-headers="true" --tls-redirect="false" ' +
      '--log-request-header="Cache-Control" --log-response-header="X-Request-Id" ' +
      '--error-pages="/home/kamal-proxy/.apps-config/app-staging/error_pages/abc123"',
  );
  assert.deepEqual(p.serviceOptions.hosts, ['a.example.com', 'b.example.com']);
  assert.equal(p.deployTimeoutMs, 60_000);
  assert.equal(p.drainTimeoutMs, 10_000);
  assert.deepEqual(p.targetOptions.healthCheck, { path: '/health', port: 0, intervalMs: 3_000, timeoutMs: 2_000, host: '' });
  assert.equal(p.targetOptions.responseTimeoutMs, 45_000);
  assert.equal(p.targetOptions.maxMemoryBufferBytes, 2_000_000);
  assert.equal(p.targetOptions.maxRequestBodyBytes, 40_000_000);
  assert.equal(p.targetOptions.maxResponseBodyBytes, 0);
  assert.deepEqual(p.serviceOptions.pathPrefixes, ['/api', '/admin']);
  assert.equal(p.serviceOptions.stripPrefix, false);
  assert.equal(p.targetOptions.forwardHeaders, true);
  assert.equal(p.serviceOptions.tlsRedirect, false);
  assert.deepEqual(p.targetOptions.logResponseHeaders, ['X-Request-Id']);
  assert.equal(p.serviceOptions.errorPagePath, '/home/kamal-proxy/.apps-config/app-staging/error_pages/abc123');
});

test('path prefixes with TLS are refused as kamal-proxy refuses them', () => {
  assert.throws(() => deploy('docker exec kamal-proxy kamal-proxy deploy app-web --target="a1:80" --host="x.com" --tls --path-prefix="/api"'), {
    message: 'service options invalid: TLS settings must be specified on the root path service',
  });
});

test('accessory and non-TLS lines, hosts given comma-separated', () => {
  const p = deploy('docker exec kamal-proxy kamal-proxy deploy app-mysql --target="mysql-host:3306" --host="db.example.com,db2.example.com" --deploy-timeout="30s" --drain-timeout="30s"');
  assert.deepEqual(p.serviceOptions.hosts, ['db.example.com', 'db2.example.com']);
  assert.equal(p.targetOptions.forwardHeaders, true, 'non-TLS services trust X-Forwarded-* by default');
  assert.equal(p.serviceOptions.tlsEnabled, false);
});

test('client-side checks kamal-proxy makes before calling the server', () => {
  assert.throws(() => deploy('docker exec kamal-proxy kamal-proxy deploy a --target=x1:80 --max-request-body=10'), {
    message: 'max-request-body can only be set when request buffering is enabled',
  });
  assert.throws(() => deploy('docker exec kamal-proxy kamal-proxy deploy a --target=x1:80 --max-response-body=10'), {
    message: 'max-response-body can only be set when response buffering is enabled',
  });
  // What counts is that the flag was given, not its value, as in kamal-proxy.
  assert.doesNotThrow(() => deploy('docker exec kamal-proxy kamal-proxy deploy a --target=x1:80 --buffer-responses=false --max-response-body=10'));
  assert.throws(() => deploy('docker exec kamal-proxy kamal-proxy deploy a --host=x.com'), { message: 'required flag(s) "target" not set' });
  assert.throws(() => deploy('docker exec kamal-proxy kamal-proxy deploy a --target=x1:80 --tls'), {
    message: 'service options invalid: host must be set when using TLS',
  });
  assert.throws(() => deploy('docker exec kamal-proxy kamal-proxy deploy a --target=x1:80 --host=a.com --canonical-host=b.com'), {
    message: "service options invalid: canonical-host 'b.com' must be present in the hosts list: [a.com]",
  });
  // Not a client-side check in kamal-proxy: its server refuses wildcards for
  // automatic TLS once the targets are healthy (test/e2e/deploy-errors.test.ts).
  assert.doesNotThrow(() => deploy('docker exec kamal-proxy kamal-proxy deploy a --target=x1:80 --host=*.a.com --tls'));
  assert.throws(() => deploy('docker exec kamal-proxy kamal-proxy deploy a --target=x1:80 --tls-certificate-path=/c.pem'), {
    message: 'if any flags in the group [tls-certificate-path tls-private-key-path] are set they must all be set; missing [tls-private-key-path]',
  });
});
