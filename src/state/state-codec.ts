// kamal-proxy's state file (spec §1.11), read and written in its own format so
// that swapping the image keeps existing deployments, in both directions.
//
// The file is one JSON array, one object per service, with kamal-proxy's field
// names. Durations are integer nanoseconds (Go's time.Duration); ours are
// milliseconds. encodeState writes what Go's json.Encoder would: the same field
// order, compact, a trailing newline, and `<`, `>`, `&`, U+2028, U+2029 escaped.
// The option fields (`options`, `target_options`, our `napper` settings) come
// from the deploy option table (src/config/deploy-options.ts), in its order.
import { storedAt } from '../config/deploy-options.ts';
import type { OptionValues, OptionWire, StoredOption, StoredWhere } from '../config/deploy-options.ts';
import { napOptionsOf, napSettingsOf } from '../config/nap-options.ts';
import type { NapPersisted } from '../config/nap-options.ts';
import type { PauseState, PauseStateName, RolloutState, ServiceState } from '../config/service-options.ts';
import { defaultPauseState } from '../config/service-options.ts';
import { FieldError, Fields, decodeOption, encodeOption, kindOf, list, ns } from './state-fields.ts';
import type { JsonObject } from './state-fields.ts';
import { normalizeHosts } from '../http/host.ts';
import { normalizePathPrefixes } from '../http/paths.ts';

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

type WireList = string[] | null;

interface WireService {
  name: string;
  options: OptionWire<'service'>;
  target_options: WireTargetOptions;
  active_targets: string[];
  active_readers: string[];
  rollout_targets: WireList;
  rollout_readers: WireList;
  pause_controller: WirePause;
  rollout_controller: WireRollout | null;
  napper?: WireNap; // ours; kamal-proxy ignores it
}

type WireTargetOptions = { health_check_config: OptionWire<'healthCheck'> } & OptionWire<'target'>;

interface WirePause {
  state: number; // index in PAUSE_STATES
  stop_message: string;
  fail_after: number; // ns
}

interface WireRollout {
  percentage: number;
  percentage_split_point: number;
  allowlist: WireList;
}

type WireNap = OptionWire<'nap'> & {
  asleep: boolean;
  last_activity_ms: number;
  wakes: number;
  memory_at_sleep_bytes?: number;
};

export function encodeState(services: readonly ServiceState[]): string {
  const json = JSON.stringify(services.map(encodeService));
  // Go's encoder escapes these inside strings (they never occur outside one).
  return json.replace(/[<>&\u2028\u2029]/g, (c) => '\\u' + c.charCodeAt(0).toString(16).padStart(4, '0')) + '\n';
}

function encodeService(s: ServiceState): WireService {
  const hasRollout = s.rolloutTargets.length > 0 || s.rolloutReaders.length > 0;
  const { healthCheck, ...targetOptions } = s.targetOptions;
  const out: WireService = {
    name: s.name,
    options: encodeOptions('service', s.options),
    target_options: { health_check_config: encodeOptions('healthCheck', healthCheck), ...encodeOptions('target', targetOptions) },
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
  if (s.nap) out.napper = encodeNap(s.nap);
  return out;
}

// The runtime is written flat, as the flags spell it, so files written
// before it was a union still read.
function encodeNap(n: NapPersisted): WireNap {
  return {
    ...encodeOptions('nap', napSettingsOf(n.options)),
    asleep: n.asleep,
    last_activity_ms: n.lastActivityMs,
    wakes: n.wakes,
    ...(n.asleep && (n.memoryAtSleepBytes ?? 0) > 0 ? { memory_at_sleep_bytes: n.memoryAtSleepBytes } : {}),
  };
}

function encodeOptions<W extends StoredWhere>(where: W, values: OptionValues<W>): OptionWire<W> {
  const fields: Readonly<Record<string, unknown>> = values;
  const out: Record<string, unknown> = {};
  for (const row of storedAt(where)) {
    // Our own target options (the ones a label may set: kamal-proxy's never
    // are) are written only when set, so a service that uses none of them is
    // stored exactly as kamal-proxy stores it; a missing one reads as its default.
    if (row.where === 'target' && 'label' in row && row.label && isDefault(fields[row.key], row.default)) continue;
    out[row.wire] = encodeOption(row.type, fields[row.key]);
  }
  return out as OptionWire<W>;
}

// An option value (a scalar or a list of strings) equal to its default.
function isDefault(value: unknown, dflt: unknown): boolean {
  if (!Array.isArray(value) || !Array.isArray(dflt)) return value === dflt;
  return value.length === dflt.length && value.every((v, i) => v === dflt[i]);
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

  const options = decodeOptions('service', s.object('options'));
  const t = s.object('target_options');
  const targetOptions = { healthCheck: decodeOptions('healthCheck', t.object('health_check_config')), ...decodeOptions('target', t) };
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
    options: napOptionsOf(decodeOptions('nap', n)),
    asleep: n.bool('asleep', false),
    lastActivityMs: n.number('last_activity_ms', 0),
    wakes: n.int('wakes', 0),
    memoryAtSleepBytes: n.int('memory_at_sleep_bytes', 0),
  };
}

// Missing fields take our defaults rather than Go's zero values: a field is
// only missing when the file predates it, and our defaults are what the older
// kamal-proxy did (for example it always redirected HTTP to HTTPS).
function decodeOptions<W extends StoredWhere>(where: W, fields: Fields): OptionValues<W> {
  const out: Record<string, unknown> = {};
  for (const row of storedAt(where)) out[row.key] = decodeOption(row.type, fields, row.wire, missingValue(row));
  return out as OptionValues<W>;
}

function missingValue(row: StoredOption) {
  return 'stateDefault' in row ? row.stateDefault : row.default;
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

function entryName(entry: unknown): string {
  if (typeof entry !== 'object' || entry === null) return '';
  const name = (entry as JsonObject).name;
  return typeof name === 'string' ? name : '';
}
