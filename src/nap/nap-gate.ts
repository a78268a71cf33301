// What a service's request path needs of napping: whether the app is awake,
// its activity, a wake to wait for, and the progress the waiting page
// follows. The napper implements it where the app is driven (the main
// thread); a data-plane worker's stand-in (src/workers/remote-napper.ts)
// implements it there, asking the main thread for wakes.
import type { NapPersisted, NapStateName } from '../config/nap-options.ts';
import type { NapStats } from './nap-stats.ts';

export interface WakeProgress {
  service: string;
  state: NapStateName;
  elapsedMs: number; // since the wake began
  startAttempts: number;
  probes: number;
  ready: boolean;
  // For visitors: whether the last wake failed, in words that reveal nothing
  // of the app (its command may hold secrets); the detail is in the log.
  error: string;
}

export interface NapGate {
  readonly service: string;
  readonly state: NapStateName;
  readonly awake: boolean;
  readonly stats: NapStats;
  requestStarted(): void;
  requestEnded(): void;
  // Resolves once the app is ready; rejects (WakeError) when it cannot be woken.
  wake(trigger: string): Promise<void>;
  progress(): WakeProgress;
  subscribe(listener: (p: WakeProgress) => void): () => void;
  persisted(): NapPersisted;
}
