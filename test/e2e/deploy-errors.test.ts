// Every error `kamal-proxy deploy` can give, in kamal-proxy's wording and
// order: the real executable against a running proxy, as Kamal runs it. Rows
// with several things wrong pin which one is reported first. The order is
// kamal-proxy's: flag parsing, the argument count, the required flag, the
// certificate/key pair, the buffering limits, then the service options
// (client and server); on the server, target addresses, the health wait,
// host conflicts, then what building the service loads (automatic TLS,
// error pages).
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { startBackend } from '../helpers/backend.ts';
import type { Backend } from '../helpers/backend.ts';
import { cli, quietLogs, startTestProxy } from '../helpers/proxy.ts';
import type { TestProxy } from '../helpers/proxy.ts';

quietLogs();

const INVALID = 'Error: service options invalid: ';

describe('deploy errors, as kamal-proxy gives them', () => {
  let proxy: TestProxy;
  let app: Backend;
  let sick: Backend;
  let env: NodeJS.ProcessEnv;

  before(async () => {
    app = await startBackend('app');
    sick = await startBackend('sick', { healthy: false });
    proxy = await startTestProxy();
    env = { KAMAL_PROXY_SOCKET: proxy.socketPath, HOME: proxy.dir };
    const owner = await cli(['deploy', 'owner', `--target=${app.address}`, '--host=owned.example.com'], env);
    assert.deepEqual([owner.code, owner.stderr], [0, '']);
  });
  after(async () => {
    await proxy.stop();
    await app.close();
    await sick.close();
  });

  // [what is wrong, the arguments after `deploy`, stderr, exit code]
  type Row = [string, (t: { app: string; sick: string; missing: string }) => string[], string, number];
  const unhealthy = ['--deploy-timeout=300ms', '--health-check-interval=50ms'];
  const rows: Row[] = [
    // Before any of deploy's own checks.
    ['no service name', ({ app }) => [`--target=${app}`], 'Error: accepts 1 arg(s), received 0\n', 1],
    ['no service name and no target', () => [], 'Error: accepts 1 arg(s), received 0\n', 1],
    ['a bad duration, and no target', () => ['a', '--deploy-timeout=30'], 'Error: invalid argument "30" for "--deploy-timeout" flag: time: missing unit in duration "30"\n', 1],
    ['no target', () => ['a'], 'Error: required flag(s) "target" not set\n', 1],
    ['no target, a certificate without its key, --tls without a host', () => ['a', '--tls', '--tls-certificate-path=/c.pem'], 'Error: required flag(s) "target" not set\n', 1],
    [
      'a certificate without its key',
      ({ app }) => ['a', `--target=${app}`, '--host=a.example.com', '--tls', '--tls-certificate-path=/c.pem'],
      'Error: if any flags in the group [tls-certificate-path tls-private-key-path] are set they must all be set; missing [tls-private-key-path]\n',
      1,
    ],
    [
      'a key without its certificate, and a body limit without buffering',
      ({ app }) => ['a', `--target=${app}`, '--tls-private-key-path=/k.pem', '--max-request-body=10'],
      'Error: if any flags in the group [tls-certificate-path tls-private-key-path] are set they must all be set; missing [tls-certificate-path]\n',
      1,
    ],
    // Client-side, in deploy's pre-run.
    ['a request limit without request buffering', ({ app }) => ['a', `--target=${app}`, '--max-request-body=10'], 'Error: max-request-body can only be set when request buffering is enabled\n', 1],
    ['both limits without buffering', ({ app }) => ['a', `--target=${app}`, '--max-response-body=10', '--max-request-body=10'], 'Error: max-request-body can only be set when request buffering is enabled\n', 1],
    ['a response limit without response buffering', ({ app }) => ['a', `--target=${app}`, '--max-response-body=10'], 'Error: max-response-body can only be set when response buffering is enabled\n', 1],
    ['a limit without buffering, and --tls without a host', ({ app }) => ['a', `--target=${app}`, '--tls', '--max-response-body=10'], 'Error: max-response-body can only be set when response buffering is enabled\n', 1],
    // The service options, checked by the CLI (and again by the server).
    ['--tls without a host', ({ app }) => ['a', `--target=${app}`, '--tls'], `${INVALID}host must be set when using TLS\n`, 1],
    ['--tls with an empty host among others', ({ app }) => ['a', `--target=${app}`, '--tls', '--host=a.example.com,'], `${INVALID}host must be set when using TLS\n`, 1],
    ['--tls without a host, off the root path', ({ app }) => ['a', `--target=${app}`, '--tls', '--path-prefix=/api'], `${INVALID}host must be set when using TLS\n`, 1],
    [
      '--tls without a host, and an invalid target',
      () => ['a', '--target=/nope', '--tls'],
      `${INVALID}host must be set when using TLS\n`,
      1,
    ],
    ['--tls off the root path', ({ app }) => ['a', `--target=${app}`, '--tls', '--host=a.example.com', '--path-prefix=/api'], `${INVALID}TLS settings must be specified on the root path service\n`, 1],
    [
      '--tls off the root path, and a canonical host outside the hosts',
      ({ app }) => ['a', `--target=${app}`, '--tls', '--host=a.example.com', '--path-prefix=/api', '--canonical-host=b.example.com'],
      `${INVALID}TLS settings must be specified on the root path service\n`,
      1,
    ],
    [
      '--tls with a wildcard host, off the root path',
      ({ app }) => ['a', `--target=${app}`, '--tls', '--host=*.wild.example.com', '--path-prefix=/api'],
      `${INVALID}TLS settings must be specified on the root path service\n`,
      1,
    ],
    [
      'a canonical host outside the hosts',
      ({ app }) => ['a', `--target=${app}`, '--host=a.example.com', '--host=www.a.example.com', '--canonical-host=b.example.com'],
      `${INVALID}canonical-host 'b.example.com' must be present in the hosts list: [a.example.com www.a.example.com]\n`,
      1,
    ],
    [
      'a canonical host outside the hosts, and an invalid target',
      () => ['a', '--target=/nope', '--host=a.example.com', '--canonical-host=b.example.com'],
      `${INVALID}canonical-host 'b.example.com' must be present in the hosts list: [a.example.com]\n`,
      1,
    ],
    [
      'a canonical host outside the hosts, and a host conflict',
      ({ app }) => ['a', `--target=${app}`, '--host=owned.example.com', '--canonical-host=b.example.com'],
      `${INVALID}canonical-host 'b.example.com' must be present in the hosts list: [owned.example.com]\n`,
      1,
    ],
    ['an on-demand URL without --tls', ({ app }) => ['a', `--target=${app}`, '--tls-on-demand-url=/allow'], `${INVALID}TLS must be enabled to use a TLS on-demand URL\n`, 1],
    [
      'an on-demand URL without --tls, with hosts and a canonical host outside them',
      ({ app }) => ['a', `--target=${app}`, '--tls-on-demand-url=/allow', '--host=a.example.com', '--canonical-host=b.example.com'],
      `${INVALID}TLS must be enabled to use a TLS on-demand URL\n`,
      1,
    ],
    [
      'an on-demand URL with hosts and a custom certificate',
      ({ app }) => ['a', `--target=${app}`, '--tls', '--tls-on-demand-url=/allow', '--host=a.example.com', '--tls-certificate-path=/c.pem', '--tls-private-key-path=/k.pem'],
      `${INVALID}cannot set hosts when using a TLS on-demand URL\n`,
      1,
    ],
    [
      'an on-demand URL with a custom certificate and a canonical host',
      ({ app }) => ['a', `--target=${app}`, '--tls', '--tls-on-demand-url=/allow', '--tls-certificate-path=/c.pem', '--tls-private-key-path=/k.pem', '--canonical-host=a.example.com'],
      `${INVALID}cannot use a custom TLS certificate with a TLS on-demand URL\n`,
      1,
    ],
    [
      'an on-demand URL with a canonical host, off the root path',
      ({ app }) => ['a', `--target=${app}`, '--tls', '--tls-on-demand-url=/allow', '--canonical-host=a.example.com', '--path-prefix=/api'],
      `${INVALID}cannot set a canonical host when using a TLS on-demand URL\n`,
      1,
    ],
    [
      'an on-demand URL that is neither a path nor http(s), off the root path',
      ({ app }) => ['a', `--target=${app}`, '--tls', '--tls-on-demand-url=ftp://x.example.com/allow', '--path-prefix=/api'],
      `${INVALID}unsupported scheme "ftp" in tls-on-demand-url\n`,
      1,
    ],
    // The URL's own messages, as kamal-proxy's parseTLSOnDemandURL words them.
    ['an on-demand URL starting with //', ({ app }) => ['a', `--target=${app}`, '--tls', '--tls-on-demand-url=//x.example.com/allow'], `${INVALID}tls-on-demand-url must be a path or an absolute http(s) URL\n`, 1],
    ['an on-demand URL with an upper-case scheme it does not support', ({ app }) => ['a', `--target=${app}`, '--tls', '--tls-on-demand-url=FTP://x.example.com/'], `${INVALID}unsupported scheme "ftp" in tls-on-demand-url\n`, 1],
    ['an on-demand URL without a host', ({ app }) => ['a', `--target=${app}`, '--tls', '--tls-on-demand-url=http:allow'], `${INVALID}missing host in tls-on-demand-url\n`, 1],
    ['an on-demand URL that is neither a path nor a URL', ({ app }) => ['a', `--target=${app}`, '--tls', '--tls-on-demand-url=allow'], `${INVALID}unable to parse tls-on-demand-url: parse "allow": invalid URI for request\n`, 1],
    ['an on-demand URL without a scheme', ({ app }) => ['a', `--target=${app}`, '--tls', '--tls-on-demand-url=://x'], `${INVALID}unable to parse tls-on-demand-url: parse "://x": missing protocol scheme\n`, 1],
    ['an on-demand URL off the root path', ({ app }) => ['a', `--target=${app}`, '--tls', '--tls-on-demand-url=/allow', '--path-prefix=/api'], `${INVALID}TLS settings must be specified on the root path service\n`, 1],
    [
      'both nap runtimes (ours), and --tls without a host',
      ({ app }) => ['a', `--target=${app}`, '--tls', '--nap-command=sleep 1', '--nap-container=web'],
      `${INVALID}host must be set when using TLS\n`,
      1,
    ],
    // On the server: target addresses first.
    ['an invalid target', () => ['a', '--target=/nope'], 'Error: /nope :invalid host pattern\n', 1],
    ['an invalid read target', ({ app }) => ['a', `--target=${app}`, '--read-target=-bad'], 'Error: -bad :invalid host pattern\n', 1],
    ['an invalid target, and a host conflict', () => ['a', '--target=x', '--host=owned.example.com'], 'Error: x :invalid host pattern\n', 1],
    ['an invalid target, and missing error pages', ({ missing }) => ['a', '--target=/nope', `--error-pages=${missing}`], 'Error: /nope :invalid host pattern\n', 1],
    // Then the health wait.
    [
      'an unhealthy target, and a host conflict',
      ({ sick }) => ['a', `--target=${sick}`, '--host=owned.example.com', ...unhealthy],
      'Error: target failed to become healthy within configured timeout (300ms)\n',
      1,
    ],
    [
      'an unhealthy target, and a wildcard host with automatic TLS',
      ({ sick }) => ['a', `--target=${sick}`, '--tls', '--host=*.wild.example.com', ...unhealthy],
      'Error: target failed to become healthy within configured timeout (300ms)\n',
      1,
    ],
    // Then host conflicts.
    ['a host conflict', ({ app }) => ['a', `--target=${app}`, '--host=owned.example.com'], 'Error: host settings conflict with another service\n', 1],
    ['a host conflict, forced past an unhealthy target', ({ sick }) => ['a', `--target=${sick}`, '--host=owned.example.com', '--force'], 'Error: host settings conflict with another service\n', 1],
    [
      'a host conflict, and a wildcard host with automatic TLS',
      ({ app }) => ['a', `--target=${app}`, '--tls', '--host=owned.example.com', '--host=*.owned.example.com'],
      'Error: host settings conflict with another service\n',
      1,
    ],
    [
      'a host conflict, and missing error pages',
      ({ app, missing }) => ['a', `--target=${app}`, '--host=owned.example.com', `--error-pages=${missing}`],
      'Error: host settings conflict with another service\n',
      1,
    ],
    // Then what building the service loads: certificates, then error pages.
    ['a wildcard host with automatic TLS', ({ app }) => ['a', `--target=${app}`, '--tls', '--host=*.wild.example.com'], 'Error: automatic TLS does not support wildcards\n', 1],
    [
      'a wildcard host with automatic TLS, and missing error pages',
      ({ app, missing }) => ['a', `--target=${app}`, '--tls', '--host=*.wild.example.com', `--error-pages=${missing}`],
      'Error: automatic TLS does not support wildcards\n',
      1,
    ],
    ['missing error pages', ({ app, missing }) => ['a', `--target=${app}`, '--host=pages.example.com', `--error-pages=${missing}`], 'Error: unable to load error pages\n', 1],
  ];

  test('each deploy error, the first of several, with exit status 1', async () => {
    const ctx = { app: app.address, sick: sick.address, missing: join(proxy.dir, 'no-such-pages') };
    for (const [what, args, stderr, code] of rows) {
      const r = await cli(['deploy', ...args(ctx)], env);
      assert.deepEqual({ code: r.code, stderr: r.stderr }, { code, stderr }, what);
    }
    // None of them changed anything.
    const listed = await cli(['list'], env);
    assert.deepEqual(
      listed.stdout.replace(/\x1b\[[0-9;]*m/g, '').split('\n').slice(1).filter((l) => l.trim() !== '').map((l) => l.split(/\s+/)[0]),
      ['owner'],
    );
  });

  test('what kamal-proxy accepts: hosts are not case-folded before the canonical host check; no hosts means any canonical host', async () => {
    const accepted: string[][] = [
      ['mixed', `--target=${app.address}`, '--host=Mixed.example.com', '--canonical-host=Mixed.example.com'],
      ['anyhost', `--target=${app.address}`, '--path-prefix=/any', '--canonical-host=b.example.com'],
      // Not checked for hosts after an empty first one, as in kamal-proxy.
      ['emptyfirst', `--target=${app.address}`, '--host=,first.example.com', '--path-prefix=/empty', '--canonical-host=c.example.com'],
    ];
    for (const args of accepted) {
      const r = await cli(['deploy', ...args], env);
      assert.deepEqual({ code: r.code, stderr: r.stderr }, { code: 0, stderr: '' }, args.join(' '));
      assert.equal((await cli(['remove', args[0]!], env)).code, 0);
    }
  });
});
