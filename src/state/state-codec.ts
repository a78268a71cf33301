// kamal-proxy's state file (spec §1.11), read and written in its own format so
// that swapping the image keeps existing deployments, in both directions.
//
// The file is one JSON array, one object per service, with kamal-proxy's field
// names. Durations are integer nanoseconds (Go's time.Duration); ours are
// milliseconds. encodeState writes what Go's json.Encoder would: the same field
// order, compact, a trailing newline, and `<`, `>`, `&`, U+2028, U+2029 escaped.
import type { NapPersisted } from '../config/nap-options.ts';
import { DEFAULT_NAP_IDLE_TIMEOUT_MS, DEFAULT_NAP_WAKE_TIMEOUT_MS } from '../config/defaults.ts';
import type {
  HealthCheckConfig,
  PauseState,
  PauseStateName,
  RolloutState,
  ServiceOptions,
  ServiceState,
  TargetOptions,
} from '../config/service-options.ts';
import {
  defaultHealthCheckConfig,
  defaultPauseState,
  defaultServiceOptions,
  defaultTargetOptions,
} from '../config/service-options.ts';
import { FieldError, Fields, NS_PER_MS, kindOf } from './state-fields.ts';
import type { JsonObject } from './state-fields.ts';

export interface DecodeError {
  index: number; // position in the array
  name: string; // the entry's name, or "" when it has none
  message: string;
}

export interface DecodedState {
  services: ServiceState[];
  errors: DecodeError[];
}

const PAUSE_STATES: readonly PauseStateName[] = ['running', 'paused', 'stopped']; // index = wire value
// kamal-proxy hashes the rollout cookie to a uint32 and compares it with this
// fraction of the largest uint32.
const MAX_HASH_VALUE = 0xffffffff;

// ---------------------------------------------------------------- encoding

export function encodeState(services: readonly ServiceState[]): string {
  const json = JSON.stringify(services.map(encodeService));
  // Go's encoder escapes these inside strings (they never occur outside one).
  return json.replace(/[<>&\u2028\u2029]/g, (c) => '\\u' + c.charCodeAt(0).toString(16).padStart(4, '0')) + '\n';
}

function encodeService(s: ServiceState): object {
  const hasRollout = s.rolloutTargets.length > 0 || s.rolloutReaders.length > 0;
  const out = {
    name: s.name,
    options: encodeOptions(s.options),
    target_options: encodeTargetOptions(s.targetOptions),
    // kamal-proxy always has an active balancer, so these are never null; the
    // rollout lists are null when there is no rollout balancer at all.
    active_targets: [...s.activeTargets],
    active_readers: [...s.activeReaders],
    rollout_targets: hasRollout ? [...s.rolloutTargets] : null,
    rollout_readers: hasRollout ? [...s.rolloutReaders] : null,
    pause_controller: {
      state: PAUSE_STATES.indexOf(s.pause.state),
      stop_message: s.pause.stopMessage,
      fail_after: ns(s.pause.failAfterMs),
    },
    rollout_controller: s.rollout && {
      percentage: s.rollout.percentage,
      percentage_split_point: s.rollout.percentageSplitPoint,
      allowlist: list(s.rollout.allowlist),
    },
  };
  return s.nap ? { ...out, napper: encodeNap(s.nap) } : out;
}

function encodeNap(n: NapPersisted): object {
  return {
    idle_timeout: ns(n.options.idleTimeoutMs),
    wake_timeout: ns(n.options.wakeTimeoutMs),
    container: n.options.container,
    command: n.options.command,
    group: n.options.group,
    asleep: n.asleep,
    last_activity_ms: n.lastActivityMs,
    wakes: n.wakes,
  };
}

function encodeOptions(o: ServiceOptions): object {
  return {
    hosts: list(o.hosts),
    path_prefixes: list(o.pathPrefixes),
    tls_enabled: o.tlsEnabled,
    tls_certificate_path: o.tlsCertificatePath,
    tls_private_key_path: o.tlsPrivateKeyPath,
    tls_on_demand_url: o.tlsOnDemandUrl,
    tls_redirect: o.tlsRedirect,
    canonical_host: o.canonicalHost,
    acme_directory: o.acmeDirectory,
    acme_cache_path: o.acmeCachePath,
    error_page_path: o.errorPagePath,
    strip_prefix: o.stripPrefix,
    writer_affinity_timeout: ns(o.writerAffinityTimeoutMs),
    read_targets_accept_websockets: o.readTargetsAcceptWebsockets,
    exclude_metrics_paths: list(o.excludeMetricsPaths),
    client_ip_header: o.clientIpHeader,
  };
}

function encodeTargetOptions(t: TargetOptions): object {
  const hc = t.healthCheck;
  return {
    health_check_config: {
      path: hc.path,
      port: hc.port,
      interval: ns(hc.intervalMs),
      timeout: ns(hc.timeoutMs),
      host: hc.host,
    },
    response_timeout: ns(t.responseTimeoutMs),
    buffer_requests: t.bufferRequests,
    buffer_responses: t.bufferResponses,
    max_memory_buffer_size: t.maxMemoryBufferBytes,
    max_request_body_size: t.maxRequestBodyBytes,
    max_response_body_size: t.maxResponseBodyBytes,
    log_request_headers: list(t.logRequestHeaders),
    log_response_headers: list(t.logResponseHeaders),
    forward_headers: t.forwardHeaders,
    scope_cookie_paths: t.scopeCookiePaths,
  };
}

// Empty lists come from unset CLI flags, which Go keeps as nil slices: null.
function list(values: readonly string[]): string[] | null {
  return values.length > 0 ? [...values] : null;
}

function ns(ms: number): number {
  // JSON.stringify would turn NaN/Infinity into null, which reads back as a
  // default: refuse to write a file that does not say what we meant.
  if (!Number.isFinite(ms)) throw new RangeError(`cannot encode duration ${ms} ms`);
  return Math.round(ms * NS_PER_MS);
}

// ---------------------------------------------------------------- decoding

export function decodeState(text: string): DecodedState {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw new Error(`state file is not valid JSON: ${(err as Error).message}`);
  }
  if (!Array.isArray(parsed)) throw new Error(`state file is not a JSON array (found ${kindOf(parsed)})`);

  // kamal-proxy gives up on every service when one is bad; we keep the rest.
  const result: DecodedState = { services: [], errors: [] };
  parsed.forEach((entry: unknown, index) => {
    try {
      result.services.push(decodeService(entry));
    } catch (err) {
      if (!(err instanceof FieldError)) throw err;
      result.errors.push({ index, name: entryName(entry), message: err.message });
    }
  });
  return result;
}

function decodeService(entry: unknown): ServiceState {
  const s = new Fields(entry, '');
  const name = s.string('name', '');
  // Go would accept a nameless service, but nothing could ever address it.
  if (name === '') throw new FieldError('name: missing');

  const options = decodeOptions(s.object('options'));
  const targetOptions = decodeTargetOptions(s.object('target_options'));
  let activeTargets = s.strings('active_targets');
  let rolloutTargets = s.strings('rollout_targets');

  // Earlier kamal-proxy versions kept one target per slot, and the hosts and
  // prefixes outside `options`. As in kamal-proxy, the current fields win.
  const legacyActive = s.string('active_target', '');
  const legacyRollout = s.string('rollout_target', '');
  const legacyHosts = s.strings('hosts');
  const legacyPrefixes = s.strings('path_prefixes');
  if (activeTargets.length === 0 && legacyActive !== '') activeTargets = [legacyActive];
  if (rolloutTargets.length === 0 && legacyRollout !== '') rolloutTargets = [legacyRollout];
  if (options.hosts.length === 0) options.hosts = legacyHosts;
  if (options.pathPrefixes.length === 0) options.pathPrefixes = legacyPrefixes;

  // kamal-proxy normalizes on load too, so a restored service routes exactly
  // like a freshly deployed one.
  options.hosts = normalizeHosts(options.hosts);
  options.pathPrefixes = normalizePathPrefixes(options.pathPrefixes);

  return {
    name,
    options,
    targetOptions,
    activeTargets,
    activeReaders: s.strings('active_readers'),
    rolloutTargets,
    rolloutReaders: s.strings('rollout_readers'),
    pause: decodePause(s.object('pause_controller')),
    rollout: s.has('rollout_controller') ? decodeRollout(s.object('rollout_controller')) : null,
    ...(s.has('napper') ? { nap: decodeNap(s.object('napper')) } : {}),
  };
}

function decodeNap(n: Fields): NapPersisted {
  return {
    options: {
      idleTimeoutMs: n.durationMs('idle_timeout', DEFAULT_NAP_IDLE_TIMEOUT_MS),
      wakeTimeoutMs: n.durationMs('wake_timeout', DEFAULT_NAP_WAKE_TIMEOUT_MS),
      container: n.string('container', ''),
      command: n.string('command', ''),
      group: n.bool('group', false),
    },
    asleep: n.bool('asleep', false),
    lastActivityMs: n.number('last_activity_ms', 0),
    wakes: n.int('wakes', 0),
  };
}

// Missing fields take our defaults rather than Go's zero values: a field is
// only missing when the file predates it, and our defaults are what the older
// kamal-proxy did (for example it always redirected HTTP to HTTPS).
function decodeOptions(o: Fields): ServiceOptions {
  const d = defaultServiceOptions();
  return {
    hosts: o.strings('hosts'),
    pathPrefixes: o.strings('path_prefixes'),
    tlsEnabled: o.bool('tls_enabled', d.tlsEnabled),
    tlsCertificatePath: o.string('tls_certificate_path', d.tlsCertificatePath),
    tlsPrivateKeyPath: o.string('tls_private_key_path', d.tlsPrivateKeyPath),
    tlsOnDemandUrl: o.string('tls_on_demand_url', d.tlsOnDemandUrl),
    tlsRedirect: o.bool('tls_redirect', d.tlsRedirect),
    canonicalHost: o.string('canonical_host', d.canonicalHost),
    acmeDirectory: o.string('acme_directory', d.acmeDirectory),
    acmeCachePath: o.string('acme_cache_path', d.acmeCachePath),
    errorPagePath: o.string('error_page_path', d.errorPagePath),
    stripPrefix: o.bool('strip_prefix', d.stripPrefix),
    writerAffinityTimeoutMs: o.durationMs('writer_affinity_timeout', d.writerAffinityTimeoutMs),
    readTargetsAcceptWebsockets: o.bool('read_targets_accept_websockets', d.readTargetsAcceptWebsockets),
    excludeMetricsPaths: o.strings('exclude_metrics_paths'),
    clientIpHeader: o.string('client_ip_header', d.clientIpHeader),
  };
}

function decodeTargetOptions(t: Fields): TargetOptions {
  const d = defaultTargetOptions();
  return {
    healthCheck: decodeHealthCheck(t.object('health_check_config')),
    responseTimeoutMs: t.durationMs('response_timeout', d.responseTimeoutMs),
    bufferRequests: t.bool('buffer_requests', d.bufferRequests),
    bufferResponses: t.bool('buffer_responses', d.bufferResponses),
    maxMemoryBufferBytes: t.int('max_memory_buffer_size', d.maxMemoryBufferBytes),
    maxRequestBodyBytes: t.int('max_request_body_size', d.maxRequestBodyBytes),
    maxResponseBodyBytes: t.int('max_response_body_size', d.maxResponseBodyBytes),
    logRequestHeaders: t.strings('log_request_headers'),
    logResponseHeaders: t.strings('log_response_headers'),
    forwardHeaders: t.bool('forward_headers', d.forwardHeaders),
    scopeCookiePaths: t.bool('scope_cookie_paths', d.scopeCookiePaths),
  };
}

function decodeHealthCheck(h: Fields): HealthCheckConfig {
  const d = defaultHealthCheckConfig();
  return {
    path: h.string('path', d.path),
    port: h.int('port', d.port),
    intervalMs: h.durationMs('interval', d.intervalMs),
    timeoutMs: h.durationMs('timeout', d.timeoutMs),
    host: h.string('host', d.host),
  };
}

function decodePause(p: Fields): PauseState {
  const d = defaultPauseState();
  const wire = p.int('state', PAUSE_STATES.indexOf(d.state));
  const state = PAUSE_STATES[wire];
  // Go would keep an unknown number and then treat it as neither state.
  if (state === undefined) throw new FieldError(`pause_controller.state: expected 0, 1 or 2, got ${wire}`);
  return {
    state,
    stopMessage: p.string('stop_message', d.stopMessage),
    failAfterMs: p.durationMs('fail_after', d.failAfterMs),
  };
}

function decodeRollout(r: Fields): RolloutState {
  const percentage = r.int('percentage', 0);
  return {
    percentage,
    // Absent only if written by hand; work it out as kamal-proxy does when the
    // split is set, rather than leave 0 (which would send nobody over).
    percentageSplitPoint: r.number('percentage_split_point', MAX_HASH_VALUE * (percentage / 100)),
    allowlist: r.strings('allowlist'),
  };
}

function normalizeHosts(hosts: string[]): string[] {
  return hosts.length > 0 ? hosts : [''];
}

function normalizePathPrefixes(prefixes: string[]): string[] {
  if (prefixes.length === 0) return ['/'];
  return prefixes.map((p) => '/' + p.replace(/^\/+|\/+$/g, ''));
}

function entryName(entry: unknown): string {
  if (typeof entry !== 'object' || entry === null) return '';
  const name = (entry as JsonObject).name;
  return typeof name === 'string' ? name : '';
}
