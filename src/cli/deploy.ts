// `kamal-proxy deploy <service>`: flags, defaults and client-side checks as in
// kamal-proxy's internal/cmd/deploy.go.
import { join } from 'node:path';
import * as d from '../config/defaults.ts';
import { dataDir, socketPath } from '../config/paths.ts';
import { call } from '../control/client.ts';
import type { DeployParams } from '../control/protocol.ts';
import { NAP_FLAGS } from '../nap/nap-flags.ts';
import type { NapFlags } from '../config/nap-options.ts';
import { defaultServiceOptions, defaultTargetOptions } from '../config/service-options.ts';
import { validateServiceOptions } from '../service/validate.ts';
import { UsageError } from './command.ts';
import type { Command } from './command.ts';
import type { FlagSpec, ParsedFlags } from './flags.ts';

export const deployFlags: FlagSpec[] = [
  { name: 'target', type: 'stringSlice', default: [], usage: 'Target host(s) to deploy (required)' },
  { name: 'read-target', type: 'stringSlice', default: [], usage: 'Read-only target host(s) to deploy' },
  { name: 'host', type: 'stringSlice', default: [], usage: 'Host(s) to serve this target on (empty for wildcard)' },
  { name: 'path-prefix', type: 'stringSlice', default: [], usage: 'Deploy the service below the specified path(s)' },
  { name: 'strip-path-prefix', type: 'bool', default: true, usage: 'With --path-prefix, strip prefix from request before forwarding' },
  { name: 'tls', type: 'bool', default: false, usage: 'Configure TLS for this target (requires a non-empty host)' },
  { name: 'tls-on-demand-url', type: 'string', default: '', usage: 'Will make an HTTP request to the given URL, asking whether a host is allowed to have a certificate issued (accepted and saved, not built yet)' },
  { name: 'tls-staging', type: 'bool', default: false, usage: "Use Let's Encrypt staging environment for certificate provisioning" },
  { name: 'tls-certificate-path', type: 'string', default: '', usage: 'Configure custom TLS certificate path (PEM format)' },
  { name: 'tls-private-key-path', type: 'string', default: '', usage: 'Configure custom TLS private key path (PEM format)' },
  { name: 'tls-acme-cache-path', type: 'string', default: '', usage: 'Location to store ACME certificates (default <data dir>/certs)' },
  { name: 'tls-redirect', type: 'bool', default: true, usage: 'Redirect HTTP traffic to HTTPS' },
  { name: 'tls-acme-directory', type: 'string', default: '', usage: "ACME directory URL of another CA (default: Let's Encrypt, or ACME_DIRECTORY of the server)" },
  { name: 'canonical-host', type: 'string', default: '', usage: 'Redirect all requests to this host' },
  { name: 'deploy-timeout', type: 'duration', default: d.DEFAULT_DEPLOY_TIMEOUT_MS, usage: 'Maximum time to wait for the new target to become healthy' },
  { name: 'drain-timeout', type: 'duration', default: d.DEFAULT_DRAIN_TIMEOUT_MS, usage: 'Maximum time to allow existing connections to drain before removing old target' },
  { name: 'force', type: 'bool', default: false, usage: 'Skip waiting for the target to become healthy' },
  { name: 'health-check-interval', type: 'duration', default: d.DEFAULT_HEALTH_CHECK_INTERVAL_MS, usage: 'Interval between health checks' },
  { name: 'health-check-timeout', type: 'duration', default: d.DEFAULT_HEALTH_CHECK_TIMEOUT_MS, usage: 'Time each health check must complete in' },
  { name: 'health-check-path', type: 'string', default: d.DEFAULT_HEALTH_CHECK_PATH, usage: 'Path to check for health' },
  { name: 'health-check-port', type: 'int', default: 0, usage: "Port to use for health checks (default: target's port)" },
  { name: 'health-check-host', type: 'string', default: '', usage: 'Host header to send with health checks' },
  { name: 'writer-affinity-timeout', type: 'duration', default: d.DEFAULT_WRITER_AFFINITY_TIMEOUT_MS, usage: 'Time after a write before read requests will be routed to readers' },
  { name: 'read-target-websockets', type: 'bool', default: false, usage: 'Route WebSocket traffic to read targets' },
  { name: 'target-timeout', type: 'duration', default: d.DEFAULT_TARGET_TIMEOUT_MS, usage: 'Maximum time to wait for the target to respond to a request' },
  { name: 'buffer-requests', type: 'bool', default: false, usage: 'Enable request buffering' },
  { name: 'buffer-responses', type: 'bool', default: false, usage: 'Enable response buffering' },
  { name: 'buffer-memory', type: 'int64', default: d.DEFAULT_BUFFER_MEMORY_BYTES, usage: 'Max size of memory buffer' },
  { name: 'max-request-body', type: 'int64', default: d.DEFAULT_MAX_REQUEST_BODY_BYTES, usage: 'Max size of request body when buffering (default of 0 means unlimited)' },
  { name: 'max-response-body', type: 'int64', default: d.DEFAULT_MAX_RESPONSE_BODY_BYTES, usage: 'Max size of response body when buffering (default of 0 means unlimited)' },
  { name: 'error-pages', type: 'string', default: '', usage: 'Path to custom error pages' },
  { name: 'log-request-header', type: 'stringSlice', default: [], usage: 'Additional request header to log (may be specified multiple times)' },
  { name: 'log-response-header', type: 'stringSlice', default: [], usage: 'Additional response header to log (may be specified multiple times)' },
  { name: 'exclude-metrics-path', type: 'stringSlice', default: [], usage: 'Exact request paths to exclude from metrics (accepted and saved, not built yet)' },
  { name: 'forward-headers', type: 'bool', default: false, usage: 'Forward X-Forwarded headers to target (default false if TLS enabled; otherwise true)' },
  { name: 'client-ip-header', type: 'string', default: '', usage: 'Header to read the client IP from (replaces X-Forwarded-For; accepted and saved, not built yet)' },
  { name: 'scope-cookie-paths', type: 'bool', default: false, usage: 'Scope cookie paths to the path prefix' },
  // Ours (src/nap/nap-flags.ts): any nap flag turns napping on for the service.
  ...NAP_FLAGS.map(({ name, type, default: value, usage }) => ({ name, type, default: value, usage })),
];

export function buildDeployParams(service: string, f: ParsedFlags, env: NodeJS.ProcessEnv = process.env): DeployParams {
  const v = f.values;
  const given = f.given;
  if (!given.has('target')) throw new UsageError('required flag(s) "target" not set');
  const certGiven = given.has('tls-certificate-path');
  const keyGiven = given.has('tls-private-key-path');
  if (certGiven !== keyGiven) {
    const missing = certGiven ? 'tls-private-key-path' : 'tls-certificate-path';
    throw new UsageError(
      `if any flags in the group [tls-certificate-path tls-private-key-path] are set they must all be set; missing [${missing}]`,
    );
  }
  // As in kamal-proxy, what counts is whether the flag was given, not its value.
  if (given.has('max-request-body') && !given.has('buffer-requests')) {
    throw new UsageError('max-request-body can only be set when request buffering is enabled');
  }
  if (given.has('max-response-body') && !given.has('buffer-responses')) {
    throw new UsageError('max-response-body can only be set when response buffering is enabled');
  }

  const tls = v.tls as boolean;
  const serviceOptions = {
    ...defaultServiceOptions(),
    hosts: v.host as string[],
    pathPrefixes: v['path-prefix'] as string[],
    tlsEnabled: tls,
    tlsCertificatePath: v['tls-certificate-path'] as string,
    tlsPrivateKeyPath: v['tls-private-key-path'] as string,
    tlsOnDemandUrl: v['tls-on-demand-url'] as string,
    tlsRedirect: v['tls-redirect'] as boolean,
    canonicalHost: v['canonical-host'] as string,
    acmeDirectory: (v['tls-acme-directory'] as string) || ((v['tls-staging'] as boolean) ? LETS_ENCRYPT_STAGING_URL : ''),
    acmeCachePath: (v['tls-acme-cache-path'] as string) || join(dataDir(env), 'certs'),
    errorPagePath: v['error-pages'] as string,
    stripPrefix: v['strip-path-prefix'] as boolean,
    writerAffinityTimeoutMs: v['writer-affinity-timeout'] as number,
    readTargetsAcceptWebsockets: v['read-target-websockets'] as boolean,
    excludeMetricsPaths: v['exclude-metrics-path'] as string[],
    clientIpHeader: v['client-ip-header'] as string,
  };
  const targetOptions = {
    ...defaultTargetOptions(),
    healthCheck: {
      path: v['health-check-path'] as string,
      port: v['health-check-port'] as number,
      intervalMs: v['health-check-interval'] as number,
      timeoutMs: v['health-check-timeout'] as number,
      host: v['health-check-host'] as string,
    },
    responseTimeoutMs: v['target-timeout'] as number,
    bufferRequests: v['buffer-requests'] as boolean,
    bufferResponses: v['buffer-responses'] as boolean,
    maxMemoryBufferBytes: v['buffer-memory'] as number,
    maxRequestBodyBytes: v['max-request-body'] as number,
    maxResponseBodyBytes: v['max-response-body'] as number,
    logRequestHeaders: v['log-request-header'] as string[],
    logResponseHeaders: v['log-response-header'] as string[],
    // Unless given, trust incoming X-Forwarded-* only for non-TLS services.
    forwardHeaders: given.has('forward-headers') ? (v['forward-headers'] as boolean) : !tls,
    scopeCookiePaths: v['scope-cookie-paths'] as boolean,
  };
  validateServiceOptions(serviceOptions);
  const nap = givenNapFlagsOf(f);
  if (nap !== null && nap.command && nap.container) {
    throw new UsageError('--nap-command and --nap-container are mutually exclusive: an app is a process or a container');
  }
  return {
    service,
    targets: v.target as string[],
    readers: v['read-target'] as string[],
    deployTimeoutMs: v['deploy-timeout'] as number,
    drainTimeoutMs: v['drain-timeout'] as number,
    force: v.force as boolean,
    serviceOptions,
    targetOptions,
    nap,
  };
}

// The nap flags given on the command line, or null when none was: then
// labels and the proxy's defaults decide whether the service naps.
function givenNapFlagsOf(f: ParsedFlags): NapFlags | null {
  const given = NAP_FLAGS.filter((spec) => f.given.has(spec.name));
  if (given.length === 0) return null;
  return Object.fromEntries(given.map((spec) => [spec.key, f.values[spec.name]])) as NapFlags;
}

export const LETS_ENCRYPT_STAGING_URL = 'https://acme-staging-v02.api.letsencrypt.org/directory';

export const deployCommand: Command = {
  name: 'deploy',
  summary: 'Deploy a target host',
  usage: 'deploy <service>',
  args: 1,
  flags: deployFlags,
  async action(f) {
    await call(socketPath(), 'deploy', buildDeployParams(f.args[0]!, f));
    return 0;
  },
};
