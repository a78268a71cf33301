// The private protocol between the CLI and the running server: one JSON line
// each way per connection, over a unix socket. (kamal-proxy uses Go's net/rpc
// with gob here; Kamal only ever drives the CLI, so the wire format is ours.)
import type { DeployParams, ListEntry, NapStatusEntry } from '../router/commands.ts';
import type { UnsavedState } from '../state/state-keeper.ts';

export type { UnsavedState };
export type { DeployParams, ListEntry, NapRequest, NapStatusEntry } from '../router/commands.ts';

export interface ServiceParams {
  service: string;
}

// `kamal-napper status`: the napping services, and whether the state is saved.
export interface NapStatusReply {
  services: NapStatusEntry[];
  unsavedState: UnsavedState | null;
}

export interface PauseParams {
  service: string;
  drainTimeoutMs: number;
  maxPauseMs: number;
}

export interface StopParams {
  service: string;
  drainTimeoutMs: number;
  message: string;
}

export interface RolloutDeployParams {
  service: string;
  targets: string[];
  readers: string[];
  deployTimeoutMs: number;
  drainTimeoutMs: number;
}

export interface RolloutSetParams {
  service: string;
  percentage: number;
  allowlist: string[];
}

export interface Methods {
  deploy: { params: DeployParams; result: null };
  remove: { params: ServiceParams; result: null };
  pause: { params: PauseParams; result: null };
  stop: { params: StopParams; result: null };
  resume: { params: ServiceParams; result: null };
  rolloutDeploy: { params: RolloutDeployParams; result: null };
  rolloutSet: { params: RolloutSetParams; result: null };
  rolloutStop: { params: ServiceParams; result: null };
  list: { params: Record<string, never>; result: ListEntry[] };
  napStatus: { params: Record<string, never>; result: NapStatusReply };
  napWake: { params: ServiceParams; result: null };
  napNap: { params: ServiceParams; result: null };
  napStopAll: { params: Record<string, never>; result: string[] };
}

export type MethodName = keyof Methods;

export interface ControlRequest<M extends MethodName = MethodName> {
  method: M;
  params: Methods[M]['params'];
}

export type ControlReply<M extends MethodName = MethodName> =
  | { ok: true; result: Methods[M]['result'] }
  | { ok: false; error: string };
