// kamal-proxy's state file (spec §1.11), read and written in its own format so
// that swapping the image keeps existing deployments, in both directions.
//
// The file is one JSON array, one object per service, with kamal-proxy's field
// names. Durations are integer nanoseconds (Go's time.Duration); ours are
// milliseconds. encodeState writes what Go's json.Encoder would: the same field
// order, compact, a trailing newline, and `<`, `>`, `&`, U+2028, U+2029 escaped.
import { randomBytes } from 'node:crypto';
import type { NapPersisted } from '../nap/nap-options.ts';
import { DEFAULT_NAP_IDLE_TIMEOUT_MS, DEFAULT_NAP_WAKE_TIMEOUT_MS } from '../config/defaults.ts';
import { mkdir, open, readFile, rename, unlink } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import type {
  HealthCheckConfig,
  PauseState,
  PauseStateName,
  RolloutState,
  ServiceOptions,
  ServiceState,
  TargetOptions,
} from '../service/options.ts';
import {
  defaultHealthCheckConfig,
  defaultPauseState,
  defaultServiceOptions,
  defaultTargetOptions,
} from '../service/options.ts';

export interface DecodeError {
  index: number; // position in the array
  name: string; // the entry's name, or "" when it has none
  message: string;
}

export interface DecodedState {
  services: ServiceState[];
  errors: DecodeError[];
}

const NS_PER_MS = 1_000_000;
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

class FieldError extends Error {}

type JsonObject = Record<string, unknown>;

// Typed access to one JSON object. Like Go's decoder, a missing key and an
// explicit null both leave the default in place, and unknown keys are ignored;
// a value of the wrong type is an error naming its path.
class Fields {
  readonly #object: JsonObject;
  readonly #path: string;

  constructor(value: unknown, path: string) {
    if (value === undefined || value === null) {
      this.#object = {};
    } else if (typeof value === 'object' && !Array.isArray(value)) {
      this.#object = value as JsonObject;
    } else {
      throw new FieldError(`${path || 'service'}: expected an object, got ${kindOf(value)}`);
    }
    this.#path = path;
  }

  has(key: string): boolean {
    return this.#value(key) !== undefined;
  }

  object(key: string): Fields {
    return new Fields(this.#value(key), this.#where(key));
  }

  string(key: string, fallback: string): string {
    return this.#read(key, fallback, 'a string', (v) => typeof v === 'string');
  }

  bool(key: string, fallback: boolean): boolean {
    return this.#read(key, fallback, 'true or false', (v) => typeof v === 'boolean');
  }

  // Go's int and int64 fields reject fractions.
  int(key: string, fallback: number): number {
    return this.#read(key, fallback, 'an integer', (v) => Number.isInteger(v));
  }

  number(key: string, fallback: number): number {
    return this.#read(key, fallback, 'a number', (v) => typeof v === 'number');
  }

  durationMs(key: string, fallbackMs: number): number {
    const value = this.#value(key);
    if (value === undefined) return fallbackMs;
    if (!Number.isInteger(value)) {
      throw new FieldError(`${this.#where(key)}: expected integer nanoseconds, got ${kindOf(value)}`);
    }
    return (value as number) / NS_PER_MS;
  }

  strings(key: string): string[] {
    const value = this.#value(key);
    if (value === undefined) return [];
    if (!Array.isArray(value)) throw new FieldError(`${this.#where(key)}: expected a list of strings, got ${kindOf(value)}`);
    return value.map((item: unknown, i) => {
      if (typeof item !== 'string') throw new FieldError(`${this.#where(key)}[${i}]: expected a string, got ${kindOf(item)}`);
      return item;
    });
  }

  #read<T>(key: string, fallback: T, expected: string, ok: (v: unknown) => boolean): T {
    const value = this.#value(key);
    if (value === undefined) return fallback;
    if (!ok(value)) throw new FieldError(`${this.#where(key)}: expected ${expected}, got ${kindOf(value)}`);
    return value as T;
  }

  #value(key: string): unknown {
    const value = Object.hasOwn(this.#object, key) ? this.#object[key] : undefined;
    return value === null ? undefined : value;
  }

  #where(key: string): string {
    return this.#path ? `${this.#path}.${key}` : key;
  }
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

function kindOf(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'string') return `string ${JSON.stringify(value.length > 40 ? value.slice(0, 40) + '…' : value)}`;
  if (typeof value === 'number') return `number ${value}`;
  if (typeof value === 'object') return 'an object';
  return typeof value;
}

// ---------------------------------------------------------------- files

// One promise chain per file. Deploys that finish together save one after the
// other, in call order, so the file ends with the last call's content.
const writeChains = new Map<string, Promise<void>>();

export async function saveStateFile(path: string, services: readonly ServiceState[]): Promise<void> {
  // Everything up to the return runs synchronously, so calls queue in call order.
  const target = resolve(path);
  const text = encodeState(services); // snapshot now: the caller may change the services while we queue
  const previous = writeChains.get(target) ?? Promise.resolve();
  const write = previous.then(() => writeAtomically(target, text));
  const tail = write.catch(() => {}); // one failed save must not block the next
  writeChains.set(target, tail);
  void tail.then(() => {
    if (writeChains.get(target) === tail) writeChains.delete(target);
  });
  return write;
}

export async function loadStateFile(path: string): Promise<DecodedState | null> {
  const target = resolve(path);
  await writeChains.get(target); // see our own pending saves
  let text: string;
  try {
    text = await readFile(target, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
  return decodeState(text);
}

// kamal-proxy truncates and rewrites the file in place, so a crash mid-write
// loses every service. We write a temp file and rename it over the old one:
// a reader sees the old file or the new one, never half of one.
async function writeAtomically(target: string, text: string): Promise<void> {
  const dir = dirname(target);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const temp = join(dir, `.${basename(target)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
  let renamed = false;
  try {
    const file = await open(temp, 'wx', 0o600);
    try {
      await file.chmod(0o600); // exact, whatever the umask
      await file.writeFile(text, 'utf8');
      await file.sync();
    } finally {
      await file.close();
    }
    await rename(temp, target);
    renamed = true;
  } finally {
    if (!renamed) await unlink(temp).catch(() => {});
  }
  await syncDirectory(dir);
}

// Makes the rename itself durable. Some filesystems cannot fsync a directory;
// the file is in place by then, so that is not worth failing the save over.
async function syncDirectory(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== 'EINVAL' && code !== 'ENOTSUP' && code !== 'EISDIR' && code !== 'EBADF') throw err;
  } finally {
    await handle.close();
  }
}
