// Per-service napping settings, given at deploy. Napping is on when any nap
// flag is given; times not given come from the proxy's NapConfig.

export interface NapOptions {
  idleTimeoutMs: number; // 0 = never nap (but still wake a stopped app)
  wakeTimeoutMs: number;
  container: string; // --nap-container; "" = each target's host (Kamal targets are container IDs)
  command: string; // --nap-command: the process runtime
  group: boolean; // --nap-group: also the other containers of the same Kamal service and destination
}

// What the state file keeps, so a restart neither forgets a sleeping app nor
// wakes every app.
export interface NapPersisted {
  options: NapOptions;
  asleep: boolean;
  lastActivityMs: number; // unix ms
  wakes: number;
}

export type NapStateName = 'running' | 'idle' | 'stopping' | 'stopped' | 'starting';
