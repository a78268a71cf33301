// What napping needs from whatever runs an app: look, start, stop. Docker
// containers and plain local processes implement it; the napper never knows
// which one it drives.

export type RuntimeState = 'running' | 'stopped' | 'missing';

export interface Runtime {
  // A short human description for logs, e.g. `docker:app-web-abc123` or `process:pid 1234`.
  readonly description: string;
  // The current state as the runtime sees it (not cached).
  inspect(): Promise<RuntimeState>;
  // Starts the app (and its group). Resolves once the runtime reports it
  // started; readiness is the service's health check, not ours to judge.
  // Rejects with an Error whose message says what went wrong.
  start(): Promise<void>;
  // Stops the app gracefully (SIGTERM, then a kill after the runtime's own
  // grace period). Resolves once it is stopped. Stopping a stopped app is fine.
  stop(): Promise<void>;
  // Called when the app stops or starts by itself (crash, `docker stop` by
  // someone else). Optional for runtimes that cannot tell.
  onExternalChange?(listener: (state: RuntimeState) => void): () => void;
  // The memory the app uses now, in bytes (a container's as `docker stats`
  // counts it, a process group's resident set); null when it cannot tell.
  // Read just before a nap, for the memory napping gives back.
  memoryBytes?(): Promise<number | null>;
  // Releases what the runtime holds (event streams, timers). Does not stop the app.
  close(): void;
}
