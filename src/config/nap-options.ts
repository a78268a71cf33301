// Per-service napping settings, given at deploy (flags), or by a Kamal app
// container's `kamal-napper.*` labels; times not given come from the proxy's
// NapConfig.
import type { OptionValues, SameFields } from './deploy-options.ts';

// What runs the app: a local process that we start (--nap-command), or
// Docker containers. src/nap/runtimes.ts says what each kind does.
export type NapRuntimeSpec =
  | { kind: 'process'; command: string }
  // container: --nap-container; "" = each target's host (Kamal targets are
  // container IDs). group: --nap-group, also the other containers of the
  // same Kamal service and destination.
  | { kind: 'docker'; container: string; group: boolean };

export interface NapOptions {
  idleTimeoutMs: number; // 0 = never nap (but still wake a stopped app)
  wakeTimeoutMs: number;
  runtime: NapRuntimeSpec;
}

// The same settings flat, as the flags, labels and state file spell them:
// rows of the deploy option table.
export interface NapSettings {
  idleTimeoutMs: number;
  wakeTimeoutMs: number;
  container: string;
  command: string;
  group: boolean;
}
true satisfies SameFields<NapSettings, OptionValues<'nap'>>;

// Nap settings as given, before defaults: null, undefined and "" mean "not
// given" (so a label or the proxy's config decides).
export type NapFlags = { [K in keyof NapSettings]?: NapSettings[K] | null };

// Only what was given, so `{ ...fromLabels, ...givenNapFlags(fromFlags) }`
// lets a flag win over a label without an unset flag erasing it.
export function givenNapFlags(flags: NapFlags): NapFlags {
  const out: NapFlags = {};
  for (const [key, value] of Object.entries(flags) as [keyof NapSettings, unknown][]) {
    if (value !== null && value !== undefined && value !== '') (out as Record<string, unknown>)[key] = value;
  }
  return out;
}

// A command makes it a process; without one the app is a container.
export function napRuntimeOf(s: Pick<NapFlags, 'command' | 'container' | 'group'>): NapRuntimeSpec {
  if (s.command) return { kind: 'process', command: s.command };
  return { kind: 'docker', container: s.container ?? '', group: s.group ?? false };
}

export function napOptionsOf(s: NapSettings): NapOptions {
  return { idleTimeoutMs: s.idleTimeoutMs, wakeTimeoutMs: s.wakeTimeoutMs, runtime: napRuntimeOf(s) };
}

// Back to the flat spelling; what a kind does not use is its flag's default.
export function napSettingsOf(o: NapOptions): NapSettings {
  const flat = { idleTimeoutMs: o.idleTimeoutMs, wakeTimeoutMs: o.wakeTimeoutMs, container: '', command: '', group: false };
  const r = o.runtime;
  switch (r.kind) {
    case 'process':
      return { ...flat, command: r.command };
    case 'docker':
      return { ...flat, container: r.container, group: r.group };
  }
}

// What the state file keeps, so a restart neither forgets a sleeping app nor
// wakes every app.
export interface NapPersisted {
  options: NapOptions;
  asleep: boolean;
  lastActivityMs: number; // unix ms
  wakes: number;
  // The app's memory when it was put to sleep, kept while it sleeps so the
  // metrics and status page still show it after a restart.
  memoryAtSleepBytes?: number;
}

export type NapStateName = 'running' | 'idle' | 'stopping' | 'stopped' | 'starting';
