// Every `deploy` option, declared once: its flag, type, default and help text
// (kamal-proxy's wording for its own flags, as `--help` prints them), where
// its value lives, its kamal-proxy JSON name in the state file, and whether a
// Kamal app container may set it with a label `kamal-napper.<flag>`.
//
// From this table come the `deploy` flag list and the options it builds
// (src/cli/deploy.ts), the defaults (service-options.ts), the option fields of
// the state file (src/state/state-codec.ts) and the label reader
// (src/nap/nap-labels.ts). The options interfaces are checked against it
// where they are declared, so a field without a row, or a row without a field,
// does not compile.
//
// Where a value lives:
//   service      ServiceOptions, state file `options`
//   target       TargetOptions, `target_options`
//   healthCheck  TargetOptions.healthCheck, `target_options.health_check_config`
//   nap          NapSettings (ours), `napper`
//   deploy       the deploy command itself (DeployParams); not stored
//   rule         read only by a rule in deploy.ts that sets another option; not stored
//
// The wire form follows the type: durations are integer nanoseconds (Go's
// time.Duration; ours are milliseconds), and an empty list is null (Go's nil
// slice, which an unset flag leaves).
import * as d from './defaults.ts';

// The flag types of src/cli/flags.ts.
export type OptionType = 'bool' | 'string' | 'int' | 'int64' | 'duration' | 'stringSlice';

// Our value of each type: durations in ms, int64 sizes in bytes.
export interface OptionTypeValues {
  bool: boolean;
  string: string;
  int: number;
  int64: number;
  duration: number;
  stringSlice: readonly string[];
}

// The state file's value of each type.
export interface OptionWireValues {
  bool: boolean;
  string: string;
  int: number;
  int64: number;
  duration: number; // nanoseconds
  stringSlice: string[] | null;
}

export type StoredWhere = 'service' | 'target' | 'healthCheck' | 'nap';
export type OptionWhere = StoredWhere | 'deploy' | 'rule';

interface Common<T extends OptionType> {
  flag: string; // without `--`
  type: T;
  default: OptionTypeValues[T]; // the flag's, as `--help` shows it
  usage: string;
}

type Placement<T extends OptionType> =
  // `label`: as for nap rows (ours only: Kamal sends kamal-proxy's own flags).
  | { where: 'service' | 'target' | 'healthCheck'; key: string; wire: string; label?: boolean }
  // `stateDefault`: what a napper section without this key means, when not
  // the flag's default. `label`: a container label may set it (not the flags
  // that name another app to run).
  | { where: 'nap'; key: string; wire: string; label: boolean; stateDefault?: OptionTypeValues[T] }
  | { where: 'deploy'; key: string }
  | { where: 'rule' };

export type OptionRow = { [T in OptionType]: Common<T> & Placement<T> }[OptionType];

export const DEPLOY_OPTIONS = [
  // The deploy itself
  { flag: 'target', type: 'stringSlice', default: [], where: 'deploy', key: 'targets', usage: 'Target host(s) to deploy (required)' },
  { flag: 'read-target', type: 'stringSlice', default: [], where: 'deploy', key: 'readers', usage: 'Read-only target host(s) to deploy' },
  { flag: 'deploy-timeout', type: 'duration', default: d.DEFAULT_DEPLOY_TIMEOUT_MS, where: 'deploy', key: 'deployTimeoutMs', usage: 'Maximum time to wait for the new target to become healthy' },
  { flag: 'drain-timeout', type: 'duration', default: d.DEFAULT_DRAIN_TIMEOUT_MS, where: 'deploy', key: 'drainTimeoutMs', usage: 'Maximum time to allow existing connections to drain before removing old target' },
  { flag: 'force', type: 'bool', default: false, where: 'deploy', key: 'force', usage: 'Skip waiting for the target to become healthy' },

  // Service options, in the state file's order
  { flag: 'host', type: 'stringSlice', default: [], where: 'service', key: 'hosts', wire: 'hosts', usage: 'Host(s) to serve this target on (empty for wildcard)' },
  { flag: 'path-prefix', type: 'stringSlice', default: [], where: 'service', key: 'pathPrefixes', wire: 'path_prefixes', usage: 'Deploy the service below the specified path(s)' },
  { flag: 'tls', type: 'bool', default: false, where: 'service', key: 'tlsEnabled', wire: 'tls_enabled', usage: 'Configure TLS for this target (requires a non-empty host)' },
  { flag: 'tls-certificate-path', type: 'string', default: '', where: 'service', key: 'tlsCertificatePath', wire: 'tls_certificate_path', usage: 'Configure custom TLS certificate path (PEM format)' },
  { flag: 'tls-private-key-path', type: 'string', default: '', where: 'service', key: 'tlsPrivateKeyPath', wire: 'tls_private_key_path', usage: 'Configure custom TLS private key path (PEM format)' },
  { flag: 'tls-on-demand-url', type: 'string', default: '', where: 'service', key: 'tlsOnDemandUrl', wire: 'tls_on_demand_url', usage: 'Will make an HTTP request to the given URL, asking whether a host is allowed to have a certificate issued' },
  { flag: 'tls-redirect', type: 'bool', default: true, where: 'service', key: 'tlsRedirect', wire: 'tls_redirect', usage: 'Redirect HTTP traffic to HTTPS' },
  { flag: 'canonical-host', type: 'string', default: '', where: 'service', key: 'canonicalHost', wire: 'canonical_host', usage: 'Redirect all requests to this host' },
  { flag: 'tls-acme-directory', type: 'string', default: '', where: 'service', key: 'acmeDirectory', wire: 'acme_directory', usage: "ACME directory URL of another CA (default: Let's Encrypt, or ACME_DIRECTORY of the server)" },
  { flag: 'tls-acme-cache-path', type: 'string', default: '', where: 'service', key: 'acmeCachePath', wire: 'acme_cache_path', usage: 'Location to store ACME certificates (default <data dir>/certs)' },
  { flag: 'error-pages', type: 'string', default: '', where: 'service', key: 'errorPagePath', wire: 'error_page_path', usage: 'Path to custom error pages' },
  { flag: 'strip-path-prefix', type: 'bool', default: true, where: 'service', key: 'stripPrefix', wire: 'strip_prefix', usage: 'With --path-prefix, strip prefix from request before forwarding' },
  { flag: 'writer-affinity-timeout', type: 'duration', default: d.DEFAULT_WRITER_AFFINITY_TIMEOUT_MS, where: 'service', key: 'writerAffinityTimeoutMs', wire: 'writer_affinity_timeout', usage: 'Time after a write before read requests will be routed to readers' },
  { flag: 'read-target-websockets', type: 'bool', default: false, where: 'service', key: 'readTargetsAcceptWebsockets', wire: 'read_targets_accept_websockets', usage: 'Route WebSocket traffic to read targets' },
  { flag: 'exclude-metrics-path', type: 'stringSlice', default: [], where: 'service', key: 'excludeMetricsPaths', wire: 'exclude_metrics_paths', usage: 'Request path(s) to exclude from Prometheus metrics, as the target sees them (may be specified multiple times)' },
  { flag: 'client-ip-header', type: 'string', default: '', where: 'service', key: 'clientIpHeader', wire: 'client_ip_header', usage: 'Header to read the client IP from (replaces X-Forwarded-For)' },
  // Sets acmeDirectory when --tls-acme-directory is not given (deploy.ts).
  { flag: 'tls-staging', type: 'bool', default: false, where: 'rule', usage: "Use Let's Encrypt staging environment for certificate provisioning" },

  // Health checks, in the state file's order
  { flag: 'health-check-path', type: 'string', default: d.DEFAULT_HEALTH_CHECK_PATH, where: 'healthCheck', key: 'path', wire: 'path', usage: 'Path to check for health' },
  { flag: 'health-check-port', type: 'int', default: 0, where: 'healthCheck', key: 'port', wire: 'port', usage: "Port to use for health checks (default: target's port)" },
  { flag: 'health-check-interval', type: 'duration', default: d.DEFAULT_HEALTH_CHECK_INTERVAL_MS, where: 'healthCheck', key: 'intervalMs', wire: 'interval', usage: 'Interval between health checks' },
  { flag: 'health-check-timeout', type: 'duration', default: d.DEFAULT_HEALTH_CHECK_TIMEOUT_MS, where: 'healthCheck', key: 'timeoutMs', wire: 'timeout', usage: 'Time each health check must complete in' },
  { flag: 'health-check-host', type: 'string', default: '', where: 'healthCheck', key: 'host', wire: 'host', usage: 'Host header to send with health checks' },

  // Target options, in the state file's order (after health_check_config)
  { flag: 'target-timeout', type: 'duration', default: d.DEFAULT_TARGET_TIMEOUT_MS, where: 'target', key: 'responseTimeoutMs', wire: 'response_timeout', usage: 'Maximum time to wait for the target to respond to a request' },
  { flag: 'buffer-requests', type: 'bool', default: false, where: 'target', key: 'bufferRequests', wire: 'buffer_requests', usage: 'Enable request buffering' },
  { flag: 'buffer-responses', type: 'bool', default: false, where: 'target', key: 'bufferResponses', wire: 'buffer_responses', usage: 'Enable response buffering' },
  { flag: 'buffer-memory', type: 'int64', default: d.DEFAULT_BUFFER_MEMORY_BYTES, where: 'target', key: 'maxMemoryBufferBytes', wire: 'max_memory_buffer_size', usage: 'Max size of memory buffer' },
  { flag: 'max-request-body', type: 'int64', default: d.DEFAULT_MAX_REQUEST_BODY_BYTES, where: 'target', key: 'maxRequestBodyBytes', wire: 'max_request_body_size', usage: 'Max size of request body when buffering (default of 0 means unlimited)' },
  { flag: 'max-response-body', type: 'int64', default: d.DEFAULT_MAX_RESPONSE_BODY_BYTES, where: 'target', key: 'maxResponseBodyBytes', wire: 'max_response_body_size', usage: 'Max size of response body when buffering (default of 0 means unlimited)' },
  { flag: 'log-request-header', type: 'stringSlice', default: [], where: 'target', key: 'logRequestHeaders', wire: 'log_request_headers', usage: 'Additional request header to log (may be specified multiple times)' },
  { flag: 'log-response-header', type: 'stringSlice', default: [], where: 'target', key: 'logResponseHeaders', wire: 'log_response_headers', usage: 'Additional response header to log (may be specified multiple times)' },
  // Unless given, !tls (deploy.ts).
  { flag: 'forward-headers', type: 'bool', default: false, where: 'target', key: 'forwardHeaders', wire: 'forward_headers', usage: 'Forward X-Forwarded headers to target (default false if TLS enabled; otherwise true)' },
  { flag: 'scope-cookie-paths', type: 'bool', default: false, where: 'target', key: 'scopeCookiePaths', wire: 'scope_cookie_paths', usage: 'Scope cookie paths to the path prefix' },
  // Ours, after kamal-proxy's: acceleration (issue #18).
  { flag: 'http-cache', type: 'bool', default: false, where: 'target', key: 'httpCache', wire: 'http_cache', label: true, usage: 'Cache cacheable responses in memory (RFC 9111, shared cache)' },
  { flag: 'http-cache-size', type: 'int64', default: d.DEFAULT_HTTP_CACHE_SIZE_BYTES, where: 'target', key: 'httpCacheSizeBytes', wire: 'http_cache_size', label: true, usage: 'Memory for the HTTP cache, headers and bodies, in bytes' },
  { flag: 'http-cache-max-item', type: 'int64', default: d.DEFAULT_HTTP_CACHE_MAX_ITEM_BYTES, where: 'target', key: 'httpCacheMaxItemBytes', wire: 'http_cache_max_item', label: true, usage: 'Largest response the HTTP cache keeps, in bytes' },
  { flag: 'compress', type: 'bool', default: false, where: 'target', key: 'compress', wire: 'compress', label: true, usage: 'Compress responses with gzip, brotli or zstd, as the client accepts' },
  // Unset: X-Sendfile passes through untouched, as in kamal-proxy.
  { flag: 'x-sendfile-root', type: 'stringSlice', default: [], where: 'target', key: 'xSendfileRoots', wire: 'x_sendfile_roots', label: true, usage: 'Serve the file an app names in X-Sendfile when it lies inside this directory (may be specified multiple times)' },

  // Ours: any nap flag turns napping on for the service; one not given
  // defers to the container's labels, then the proxy's napping config.
  { flag: 'idle-timeout', type: 'duration', default: 0, where: 'nap', key: 'idleTimeoutMs', wire: 'idle_timeout', label: true, stateDefault: d.DEFAULT_NAP_IDLE_TIMEOUT_MS, usage: 'Stop the app after this long without requests (0: never; default: the napping config, 15m)' },
  { flag: 'wake-timeout', type: 'duration', default: d.DEFAULT_NAP_WAKE_TIMEOUT_MS, where: 'nap', key: 'wakeTimeoutMs', wire: 'wake_timeout', label: true, usage: 'Longest wait for a napping app to start and become healthy' },
  { flag: 'nap-container', type: 'string', default: '', where: 'nap', key: 'container', wire: 'container', label: false, usage: "Container to stop and start (default: each target's host, a container ID under Kamal)" },
  { flag: 'nap-command', type: 'string', default: '', where: 'nap', key: 'command', wire: 'command', label: false, usage: 'Shell command that runs the app as a local process (stopped with SIGTERM)' },
  { flag: 'nap-group', type: 'bool', default: false, where: 'nap', key: 'group', wire: 'group', label: true, usage: "Also stop and start the other roles' containers of the same Kamal service and destination" },
] as const satisfies readonly OptionRow[];

export type DeployOption = (typeof DEPLOY_OPTIONS)[number];
export type OptionFlag = DeployOption['flag'];
export type OptionsAt<W extends OptionWhere> = Extract<DeployOption, { where: W }>;
export type OptionByFlag<F extends OptionFlag> = Extract<DeployOption, { flag: F }>;

// Our value of one row.
export type OptionValue<R extends { type: OptionType }> = R['type'] extends 'stringSlice' ? string[] : OptionTypeValues[R['type']];

// The options object a table section makes: one field per row, named by its key.
export type OptionValues<W extends OptionWhere> = { [R in OptionsAt<W> as R extends { key: string } ? R['key'] : never]: OptionValue<R> };

// The same section in the state file: one field per row, named by its JSON name.
export type OptionWire<W extends StoredWhere> = { [R in OptionsAt<W> as R['wire']]: OptionWireValues[R['type']] };

// Is A exactly B (each assignable to the other)? Used where each options
// interface is declared: `true satisfies SameFields<ServiceOptions, OptionValues<'service'>>`.
export type SameFields<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;

export type KeyedOption = Extract<DeployOption, { key: string }>;
export type StoredOption = Extract<DeployOption, { wire: string }>;

export function optionsAt<W extends OptionWhere>(where: W): readonly OptionsAt<W>[] {
  return DEPLOY_OPTIONS.filter((row): row is OptionsAt<W> => row.where === where);
}

export function storedAt(where: StoredWhere): readonly StoredOption[] {
  return DEPLOY_OPTIONS.filter((row): row is StoredOption => row.where === where);
}

// A section's options object, each field read from its row (a flag's value,
// a default, a state-file field). The checks where each options interface is
// declared make sure the rows fill it.
export function buildOptions<W extends StoredWhere | 'deploy'>(where: W, read: (row: KeyedOption) => unknown): OptionValues<W> {
  const out: Record<string, unknown> = {};
  for (const row of DEPLOY_OPTIONS) if (row.where === where && 'key' in row) out[row.key] = read(row);
  return out as OptionValues<W>;
}

export function optionDefaults<W extends StoredWhere | 'deploy'>(where: W): OptionValues<W> {
  return buildOptions(where, (row) => copyValue(row.default));
}

// A row's value, unshared: a list is copied.
export function copyValue<V>(value: V): V {
  return (Array.isArray(value) ? [...value] : value) as V;
}
