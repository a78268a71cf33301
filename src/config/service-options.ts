// The options a service is deployed with, in our units (milliseconds, bytes).
// Each field is one row of the deploy option table (deploy-options.ts), which
// gives its flag, default and kamal-proxy JSON name; the checks below keep
// the two in step.
import { optionDefaults } from './deploy-options.ts';
import type { OptionValues, SameFields } from './deploy-options.ts';
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
  httpCache: boolean;
  httpCacheSizeBytes: number;
  httpCacheMaxItemBytes: number;
  compress: boolean;
  xSendfileRoots: string[]; // [] = X-Sendfile passes through untouched
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

true satisfies SameFields<ServiceOptions, OptionValues<'service'>>;
true satisfies SameFields<Omit<TargetOptions, 'healthCheck'>, OptionValues<'target'>>;
true satisfies SameFields<HealthCheckConfig, OptionValues<'healthCheck'>>;

export function defaultHealthCheckConfig(): HealthCheckConfig {
  return optionDefaults('healthCheck');
}

export function defaultTargetOptions(): TargetOptions {
  return { healthCheck: defaultHealthCheckConfig(), ...optionDefaults('target') };
}

export function defaultServiceOptions(): ServiceOptions {
  return optionDefaults('service');
}

export function defaultPauseState(): PauseState {
  return { state: 'running', stopMessage: '', failAfterMs: 0 };
}
