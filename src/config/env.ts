// `run` options may come from the environment, as in kamal-proxy: a
// KAMAL_PROXY_-prefixed name wins over the bare one, and the value only
// replaces the flag's default (an explicit flag still wins).
import { parseGoBool } from '../util/go-bool.ts';

export const ENV_PREFIX = 'KAMAL_PROXY_';

export function envValue(name: string, env: NodeJS.ProcessEnv = process.env): string | undefined {
  return env[ENV_PREFIX + name] ?? env[name];
}

// Go's strconv.ParseBool; kamal-proxy silently ignores values that do not
// parse and keeps the built-in default, so do we.
export function envBool(name: string, fallback: boolean, env: NodeJS.ProcessEnv = process.env): boolean {
  const v = envValue(name, env);
  return v === undefined ? fallback : (parseGoBool(v) ?? fallback);
}

export function envInt(name: string, fallback: number, env: NodeJS.ProcessEnv = process.env): number {
  const v = envValue(name, env);
  if (v === undefined || !/^[+-]?\d+$/.test(v.trim())) return fallback;
  return Number.parseInt(v, 10);
}

// Our own setting, not one of `run`'s options: which client carries proxied
// requests (src/upstream/client-choice.ts). `native`, the default: our own,
// on Node's internal HTTP parser; `undici`: undici's, with node:http for
// every client request (no fast path).
export const UPSTREAM_CLIENT_VAR = 'KAMAL_NAPPER_UPSTREAM_CLIENT';
export type UpstreamClientName = 'native' | 'undici';

// undefined when unset or empty; `{ unknown }` for a value that names no client.
export function envUpstreamClient(env: NodeJS.ProcessEnv = process.env): UpstreamClientName | { unknown: string } | undefined {
  const v = env[UPSTREAM_CLIENT_VAR]?.trim().toLowerCase();
  if (v === undefined || v === '') return undefined;
  return v === 'native' || v === 'undici' ? v : { unknown: env[UPSTREAM_CLIENT_VAR]! };
}
