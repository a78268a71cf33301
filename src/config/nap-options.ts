// Per-service napping settings, given at deploy (flags), or by a Kamal app
// container's `kamal-napper.*` labels; times not given come from the proxy's
// NapConfig.

export interface NapOptions {
  idleTimeoutMs: number; // 0 = never nap (but still wake a stopped app)
  wakeTimeoutMs: number;
  container: string; // --nap-container; "" = each target's host (Kamal targets are container IDs)
  command: string; // --nap-command: the process runtime
  group: boolean; // --nap-group: also the other containers of the same Kamal service and destination
}

// Nap settings as given, before defaults: null, undefined and "" mean "not
// given" (so a label or the proxy's config decides).
export type NapFlags = { [K in keyof NapOptions]?: NapOptions[K] | null };

// Only what was given, so `{ ...fromLabels, ...givenNapFlags(fromFlags) }`
// lets a flag win over a label without an unset flag erasing it.
export function givenNapFlags(flags: NapFlags): NapFlags {
  const out: NapFlags = {};
  for (const [key, value] of Object.entries(flags) as [keyof NapOptions, unknown][]) {
    if (value !== null && value !== undefined && value !== '') (out as Record<string, unknown>)[key] = value;
  }
  return out;
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
