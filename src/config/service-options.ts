// The options a service is deployed with, in our units (milliseconds, bytes).
// The state file stores the same fields under kamal-proxy's JSON names, with
// durations in nanoseconds; src/state/ converts between the two.
import * as d from './defaults.ts';
import type { NapPersisted } from './nap-options.ts';

export interface HealthCheckConfig {
  path: string;
  port: number; // 0 = the target's own port
  intervalMs: number;
  timeoutMs: number;
  host: string; // "" = the target address
}

export interface TargetOptions {
  healthCheck: HealthCheckConfig;
  responseTimeoutMs: number;
  bufferRequests: boolean;
  bufferResponses: boolean;
  maxMemoryBufferBytes: number;
  maxRequestBodyBytes: number; // 0 = unlimited
  maxResponseBodyBytes: number; // 0 = unlimited
  logRequestHeaders: string[];
  logResponseHeaders: string[];
  forwardHeaders: boolean;
  scopeCookiePaths: boolean;
}

export interface ServiceOptions {
  hosts: string[]; // [""] = catch-all after normalization
  pathPrefixes: string[]; // ["/"] after normalization
  tlsEnabled: boolean;
  tlsCertificatePath: string;
  tlsPrivateKeyPath: string;
  tlsOnDemandUrl: string;
  tlsRedirect: boolean;
  canonicalHost: string;
  acmeDirectory: string;
  acmeCachePath: string;
  errorPagePath: string;
  stripPrefix: boolean;
  writerAffinityTimeoutMs: number;
  readTargetsAcceptWebsockets: boolean;
  excludeMetricsPaths: string[];
  clientIpHeader: string;
}

export type PauseStateName = 'running' | 'paused' | 'stopped';

export interface PauseState {
  state: PauseStateName;
  stopMessage: string;
  failAfterMs: number; // how long a request is held while paused
}

export interface RolloutState {
  percentage: number;
  percentageSplitPoint: number;
  allowlist: string[];
}

// Everything needed to rebuild a service after a restart.
export interface ServiceState {
  name: string;
  options: ServiceOptions;
  targetOptions: TargetOptions;
  activeTargets: string[];
  activeReaders: string[];
  rolloutTargets: string[];
  rolloutReaders: string[];
  pause: PauseState;
  rollout: RolloutState | null;
  // Our extension: absent for services that do not nap, so the file stays
  // exactly what kamal-proxy writes (and kamal-proxy ignores the key).
  nap?: NapPersisted | null;
}

export function defaultHealthCheckConfig(): HealthCheckConfig {
  return {
    path: d.DEFAULT_HEALTH_CHECK_PATH,
    port: 0,
    intervalMs: d.DEFAULT_HEALTH_CHECK_INTERVAL_MS,
    timeoutMs: d.DEFAULT_HEALTH_CHECK_TIMEOUT_MS,
    host: '',
  };
}

export function defaultTargetOptions(): TargetOptions {
  return {
    healthCheck: defaultHealthCheckConfig(),
    responseTimeoutMs: d.DEFAULT_TARGET_TIMEOUT_MS,
    bufferRequests: false,
    bufferResponses: false,
    maxMemoryBufferBytes: d.DEFAULT_BUFFER_MEMORY_BYTES,
    maxRequestBodyBytes: d.DEFAULT_MAX_REQUEST_BODY_BYTES,
    maxResponseBodyBytes: d.DEFAULT_MAX_RESPONSE_BODY_BYTES,
    logRequestHeaders: [],
    logResponseHeaders: [],
    forwardHeaders: false,
    scopeCookiePaths: false,
  };
}

export function defaultServiceOptions(): ServiceOptions {
  return {
    hosts: [],
    pathPrefixes: [],
    tlsEnabled: false,
    tlsCertificatePath: '',
    tlsPrivateKeyPath: '',
    tlsOnDemandUrl: '',
    tlsRedirect: true,
    canonicalHost: '',
    acmeDirectory: '',
    acmeCachePath: '',
    errorPagePath: '',
    stripPrefix: true,
    writerAffinityTimeoutMs: d.DEFAULT_WRITER_AFFINITY_TIMEOUT_MS,
    readTargetsAcceptWebsockets: false,
    excludeMetricsPaths: [],
    clientIpHeader: '',
  };
}

export function defaultPauseState(): PauseState {
  return { state: 'running', stopMessage: '', failAfterMs: 0 };
}
