// What the status page shows, and /status.json is, word for word: plain
// JSON values only (times as ISO 8601 strings in UTC, sizes in bytes,
// durations in seconds), so scripts can rely on the field names. Declared
// here, beside the page that renders it; src/status/status-snapshot.ts fills
// it in from the router.

export interface StatusSnapshot {
  generatedAt: string; // when this snapshot was taken
  startedAt: string; // when this proxy started: "since start" counts from here
  memoryGivenBackBytes: number; // memoryAtSleepBytes summed over the services asleep now
  services: ServiceStatus[]; // sorted by name
}

export interface ServiceStatus {
  name: string;
  hosts: string[]; // [] = any host
  pathPrefixes: string[];
  tls: boolean;
  maintenance: 'running' | 'paused' | 'stopped';
  stopMessage: string; // "" unless stopped with --message
  targets: TargetStatus[];
  readers: TargetStatus[];
  rollout: RolloutStatus | null; // null: no rollout deployed
  nap: NapStatus | null; // null: the service does not nap
}

export interface TargetStatus {
  address: string;
  health: 'adding' | 'healthy' | 'unhealthy';
  inFlight: number; // requests on it now
}

export interface RolloutStatus {
  targets: TargetStatus[];
  readers: TargetStatus[];
  // null: deployed, but `rollout set` has sent no traffic to it yet.
  split: { percentage: number; allowlist: string[] } | null;
}

export interface NapStatus {
  state: 'running' | 'idle' | 'stopping' | 'stopped' | 'starting';
  runtime: string; // what sleeps and wakes, as `kamal-napper status` shows it (process:pid N, a container)
  activeRequests: number;
  idleTimeoutSeconds: number; // 0: never naps by itself
  lastActivityAt: string;
  wakes: number; // in total, kept in the state file across restarts
  wakesSinceStart: { woken: number; failed: number };
  medianWakeSeconds: number | null; // of the last 64 wakes since start; null before the first
  heldNow: number; // requests held while the app wakes
  heldTotal: number; // since start
  memoryAtSleepBytes: number; // the app's memory when put to sleep; 0 while awake or unknown
}
