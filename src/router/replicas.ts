// The data-plane workers as the router sees them (src/workers/worker-pool.ts):
// told of every change to the routing table, and asked to drain, and to
// agree that an app may nap, wherever their own requests are.
export interface Replicas {
  // After every change (deploy, maintenance, target health, nap state);
  // resolves once every worker has it (never rejects), so a command answers
  // only when every thread routes as it says.
  changed(): Promise<void>;
  // 'retired': the balancers a deploy or rollout replaced (then closed);
  // 'serving': the service's own, as pause and stop drain them.
  drain(service: string, what: 'retired' | 'serving', timeoutMs: number): Promise<void>;
  // Whether the app saw no request in any worker for idleTimeoutMs (see
  // NapperHooks.othersIdle).
  othersIdle(service: string, idleTimeoutMs: number): Promise<{ idle: boolean; lastActivityMs: number }>;
}
