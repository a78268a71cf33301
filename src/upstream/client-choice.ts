// Which client carries this process's proxied requests, chosen once, on first
// use, with one log line when it is not the default; and the factory targets
// make theirs with.
// - `native` (the default): our own pool (http1-pool.ts) on Node's native
//   parser, and the HTTP/1.1 fast path for clients' requests: the fastest.
// - `undici`: undici's Pool, and node:http for every plain-HTTP and
//   HTTP/1.1-over-TLS request. Used when Node's internals that the first
//   runs on are missing or changed (node-internals.ts), or when
//   KAMAL_NAPPER_UPSTREAM_CLIENT=undici asks for it.
import { envUpstreamClient, UPSTREAM_CLIENT_VAR, type UpstreamClientName } from '../config/env.ts';
import {
  MAX_HEADER_SIZE_BYTES,
  UPSTREAM_BUSY_CONNECTIONS_PER_TARGET,
  UPSTREAM_CONNECT_RETRY_BACKOFF_MS,
  UPSTREAM_CONNECT_TIMEOUT_MS,
  UPSTREAM_IDLE_CONNECTIONS_PER_TARGET,
  UPSTREAM_KEEP_ALIVE_TIMEOUT_MS,
  UPSTREAM_PATIENCE_MS,
  UPSTREAM_RAMP_INITIAL_CONNECTIONS,
  UPSTREAM_RAMP_THRESHOLD_CONNECTIONS,
  UPSTREAM_REFUSED_RETRY_MS,
} from '../config/defaults.ts';
import { log } from '../log/logger.ts';
import { Http1Pool } from './http1-pool.ts';
import { internalsProblem } from './node-internals.ts';
import { UndiciClient } from './undici-client.ts';
import type { UpstreamClient } from './upstream-client.ts';

export interface UpstreamChoice {
  readonly client: UpstreamClientName;
  readonly http1FastPath: boolean;
}

export interface ChoiceNote {
  readonly level: 'info' | 'warn';
  readonly msg: string;
  readonly attrs: Record<string, string>;
}

const NATIVE: UpstreamChoice = { client: 'native', http1FastPath: true };
const UNDICI: UpstreamChoice = { client: 'undici', http1FastPath: false };

// The choice for a setting (the environment variable's) and what is wrong
// with Node's internals (null: nothing), with the line to log, if any.
export function decideUpstreamClient(
  setting: ReturnType<typeof envUpstreamClient>,
  problem: string | null,
): { choice: UpstreamChoice; note: ChoiceNote | null } {
  const ignored: Record<string, string> = typeof setting === 'object' ? { ignored: `${UPSTREAM_CLIENT_VAR}=${setting.unknown}` } : {};
  if (setting === 'undici') {
    return { choice: UNDICI, note: { level: 'info', msg: 'Using undici for upstream requests', attrs: { reason: `${UPSTREAM_CLIENT_VAR}=undici` } } };
  }
  if (problem !== null) {
    return { choice: UNDICI, note: { level: 'warn', msg: 'Node internals unavailable: using undici for upstream requests', attrs: { reason: problem, ...ignored } } };
  }
  if (typeof setting === 'object') {
    return { choice: NATIVE, note: { level: 'warn', msg: `Unknown ${UPSTREAM_CLIENT_VAR} value (native or undici): using native`, attrs: ignored } };
  }
  return { choice: NATIVE, note: null };
}

let chosen: UpstreamChoice | null = null;

// report: say which client is in use (false in a worker: the main thread says it).
export function upstreamChoice(report = true): UpstreamChoice {
  if (chosen !== null) return chosen;
  const { choice, note } = decideUpstreamClient(envUpstreamClient(), internalsProblem);
  if (note !== null && report) log[note.level](note.msg, note.attrs);
  chosen = choice;
  return choice;
}

// With data-plane workers each thread has its own pool per target: each
// takes its share of the per-target caps, so an app sees the same number of
// connections however many threads serve it.
let threads = 1;
export function useUpstreamShare(threadCount: number): void {
  threads = Math.max(1, threadCount);
}

// One target's client, of the kind this process uses.
export function newUpstreamClient(host: string, port: number): UpstreamClient {
  const maxBusy = Math.ceil(UPSTREAM_BUSY_CONNECTIONS_PER_TARGET / threads);
  if (upstreamChoice().client === 'undici') {
    return new UndiciClient(host, port, {
      maxBusy,
      rampInitial: UPSTREAM_RAMP_INITIAL_CONNECTIONS,
      rampThreshold: UPSTREAM_RAMP_THRESHOLD_CONNECTIONS,
      patienceMs: UPSTREAM_PATIENCE_MS,
      keepAliveTimeoutMs: UPSTREAM_KEEP_ALIVE_TIMEOUT_MS,
      connectTimeoutMs: UPSTREAM_CONNECT_TIMEOUT_MS,
      maxHeaderSize: MAX_HEADER_SIZE_BYTES,
    });
  }
  return new Http1Pool(host, port, {
    maxBusy,
    rampInitial: UPSTREAM_RAMP_INITIAL_CONNECTIONS,
    rampThreshold: UPSTREAM_RAMP_THRESHOLD_CONNECTIONS,
    patienceMs: UPSTREAM_PATIENCE_MS,
    maxIdle: Math.ceil(UPSTREAM_IDLE_CONNECTIONS_PER_TARGET / threads),
    keepAliveTimeoutMs: UPSTREAM_KEEP_ALIVE_TIMEOUT_MS,
    maxHeaderSize: MAX_HEADER_SIZE_BYTES,
    refusedRetryMs: UPSTREAM_REFUSED_RETRY_MS,
    retryBackoffMs: UPSTREAM_CONNECT_RETRY_BACKOFF_MS,
  });
}
