// Napping defaults for the whole proxy, with the original Kamal Napper's keys.
// Precedence, highest first:
//   1. deploy flags (--idle-timeout, --wake-timeout) for that service
//   2. the app container's labels (kamal-napper.idle-timeout, ...; nap-labels.ts)
//   3. environment: KAMAL_NAPPER_IDLE_TIMEOUT, KAMAL_NAPPER_POLL_INTERVAL,
//      KAMAL_NAPPER_WAKE_TIMEOUT (or STARTUP_TIMEOUT), KAMAL_NAPPER_MAX_RETRIES,
//      KAMAL_NAPPER_IGNORE_USER_AGENTS (comma-separated)
//   4. the config file: $KAMAL_NAPPER_CONFIG, else config/kamal_napper.yml
//      (flat `key: value` lines)
//   5. built-in defaults (src/config/defaults.ts)
// Times are Go durations (`15m`) or plain seconds (`900`).
import { fs } from '../util/node-fs.ts';
import * as d from '../config/defaults.ts';
import { parseDurationOrSeconds } from '../util/go-duration.ts';

const { readFileSync } = fs;

export interface NapConfig {
  idleTimeoutMs: number;
  pollIntervalMs: number;
  wakeTimeoutMs: number;
  maxRetries: number;
  ignoreUserAgents: string[];
}

export class NapConfigError extends Error {}

const KEYS = ['idle_timeout', 'poll_interval', 'wake_timeout', 'startup_timeout', 'max_retries', 'ignore_user_agents'] as const;
type Key = (typeof KEYS)[number];

export function loadNapConfig(env: NodeJS.ProcessEnv = process.env, cwd = process.cwd()): NapConfig {
  const path = env.KAMAL_NAPPER_CONFIG || `${cwd}/${d.NAP_CONFIG_FILE}`;
  const file = readConfigFile(path, env.KAMAL_NAPPER_CONFIG !== undefined);
  const value = (key: Key): string | undefined => env[`KAMAL_NAPPER_${key.toUpperCase()}`] ?? file[key];
  return {
    idleTimeoutMs: duration(value('idle_timeout'), 'idle_timeout', d.DEFAULT_NAP_IDLE_TIMEOUT_MS),
    pollIntervalMs: duration(value('poll_interval'), 'poll_interval', d.DEFAULT_NAP_POLL_INTERVAL_MS),
    // wake_timeout is the deploy flag's name; startup_timeout the original Napper's.
    wakeTimeoutMs: value('wake_timeout') !== undefined
      ? duration(value('wake_timeout'), 'wake_timeout', d.DEFAULT_NAP_WAKE_TIMEOUT_MS)
      : duration(value('startup_timeout'), 'startup_timeout', d.DEFAULT_NAP_WAKE_TIMEOUT_MS),
    maxRetries: count(value('max_retries'), 'max_retries', d.DEFAULT_NAP_MAX_RETRIES),
    ignoreUserAgents: list(value('ignore_user_agents')) ?? d.DEFAULT_NAP_IGNORE_USER_AGENTS,
  };
}

// A missing default file is fine; a missing file someone named is an error.
function readConfigFile(path: string, required: boolean): Partial<Record<Key, string>> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT' && !required) return {};
    throw new NapConfigError(`cannot read napping config ${path}: ${(err as Error).message}`);
  }
  const out: Partial<Record<Key, string>> = {};
  let listKey: Key | null = null;
  for (const [i, raw] of text.split('\n').entries()) {
    const line = raw.replace(/\s+#.*$/, '').trimEnd();
    if (line.trim() === '' || line.trim().startsWith('#') || line.trim() === '---') continue;
    const item = /^\s+-\s+(.*)$/.exec(line);
    if (item && listKey !== null) {
      out[listKey] = [out[listKey], unquote(item[1]!)].filter(Boolean).join(',');
      continue;
    }
    const m = /^([a-z_]+):\s*(.*)$/.exec(line);
    if (!m || !(KEYS as readonly string[]).includes(m[1]!)) {
      throw new NapConfigError(`${path}:${i + 1}: expected one of ${KEYS.join(', ')} as "key: value"`);
    }
    listKey = m[2] === '' ? (m[1] as Key) : null;
    out[m[1] as Key] = unquote(m[2]!);
  }
  return out;
}

function unquote(s: string): string {
  return s.replace(/^(['"])(.*)\1$/, '$2');
}

function duration(v: string | undefined, key: string, fallback: number): number {
  if (v === undefined || v === '') return fallback;
  try {
    return parseDurationOrSeconds(v);
  } catch {
    throw new NapConfigError(`${key} must be a duration such as 15m or 90s, or a number of seconds, got "${v}"`);
  }
}

function count(v: string | undefined, key: string, fallback: number): number {
  if (v === undefined || v === '') return fallback;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new NapConfigError(`${key} must be a whole number, got "${v}"`);
  return n;
}

function list(v: string | undefined): string[] | undefined {
  if (v === undefined) return undefined;
  return v.split(',').map((s) => s.trim()).filter(Boolean);
}
