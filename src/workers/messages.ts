// What the main thread (the control plane) and the data-plane workers say
// to each other. The main thread owns the state, health checks, napping,
// ACME and the log; a worker serves requests from a replica of the routing
// table and asks the main thread for what only it can do (a wake, a
// certificate).
import type { ServiceState } from '../config/service-options.ts';
import type { ThreadMetrics } from '../metrics/thread-metrics.ts';
import type { WakeProgress } from '../nap/napper.ts';
import type { TargetHealth } from '../targets/target.ts';
import type { ChallengeUpdate } from '../tls/acme-challenges.ts';
import type { CacheChange } from '../accel/http-cache/http-cache.ts';

export interface ServiceSnapshot {
  state: ServiceState; // as routingState() gives it: TLS settings already inherited
  deployment: number; // the main thread's count of the service's deploys
  rolloutDeployment: number; // and of its rollout deploys
  activeHealth: TargetHealth[]; // in the order of the balancer's targets
  rolloutHealth: TargetHealth[];
  activeCursor: Int32Array; // the balancers' round-robin positions, shared
  rolloutCursor: Int32Array | null;
  nap: WakeProgress | null; // null: the service does not nap
  // Whether the app is awake (1) or not (0), in memory the main thread writes
  // as its napper changes state, so every thread knows at the same moment.
  napAwake: Int32Array<SharedArrayBuffer> | null;
}

export interface CertificatePems {
  keyPem: string;
  chainPem: string;
}

export interface WorkerInit {
  kind: 'kamal-napper-worker';
  index: number; // 1.. (the main thread serves too, as 0)
  workers: number; // how many threads serve in all
  httpPort: number; // as configured (the request log says it)
  httpsPort: number;
  bindPorts: { http: number; https: number }; // as the main thread bound them
  bindAddress?: string;
  clientHeadersTimeoutMs?: number;
  metrics: boolean;
  debug: boolean;
  ignoreUserAgents: readonly string[];
  services: ServiceSnapshot[];
  defaultCertificate: CertificatePems | null;
}

export type WorkerMetrics = ThreadMetrics;

export type ToWorker =
  | { t: 'routes'; id: number; services: ServiceSnapshot[] } // answered once applied
  | { t: 'nap'; service: string; progress: WakeProgress }
  | { t: 'challenge'; update: ChallengeUpdate }
  | CacheMessage
  | { t: 'certificates'; defaultCertificate: CertificatePems | null }
  | { t: 'drain'; id: number; service: string; what: 'retired' | 'serving'; timeoutMs: number }
  | { t: 'claimIdle'; id: number; service: string; idleTimeoutMs: number }
  | { t: 'metrics'; id: number }
  | { t: 'flushLog'; id: number }
  | { t: 'stop'; id: number };

export type ToMain =
  | { t: 'listening' }
  | { t: 'log'; lines: Uint8Array }
  | CacheMessage
  | { t: 'wake'; id: number; service: string; trigger: string }
  // A napping service's requests here: the first began, or the last ended (at atMs).
  | { t: 'activity'; service: string; busy: boolean; atMs: number }
  | { t: 'certificate'; id: number; serverName: string };

// A change to a service's HTTP cache, made by one thread, for the others.
export type CacheMessage = { t: 'cache'; service: string; deployment: number; change: CacheChange };

// The answer to a wake: the progress after it, so the worker's view is the
// main thread's whatever it missed.
export type WakeAnswer = { ok: true; progress: WakeProgress } | { ok: false; error: string; progress: WakeProgress | null };

export type IdleAnswer = { idle: boolean; lastActivityMs: number };
