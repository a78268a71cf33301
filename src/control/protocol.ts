// The private protocol between the CLI and the running server: one JSON line
// each way per connection, over a unix socket. (kamal-proxy uses Go's net/rpc
// with gob here; Kamal only ever drives the CLI, so the wire format is ours.)
import type { NapFlags } from '../config/nap-options.ts';
import type { ServiceOptions, TargetOptions } from '../config/service-options.ts';
import type { UnsavedState } from '../state/state-keeper.ts';

export type { UnsavedState };

// Nap flags as given (see NapFlags): absent ones defer to the app
// container's labels and the proxy's napping config.
export type NapRequest = NapFlags;

export interface DeployParams {
  service: string;
  targets: string[];
  readers: string[];
  deployTimeoutMs: number;
  drainTimeoutMs: number;
  force: boolean;
  serviceOptions: ServiceOptions;
  targetOptions: TargetOptions;
  nap?: NapRequest | null; // absent or null: no nap flag given
  // Our flags given that a container label could otherwise set.
  flagsGiven?: string[];
}

export interface ServiceParams {
  service: string;
}

export interface ListEntry {
  service: string;
  hosts: string[];
  paths: string[];
  targets: string[];
  state: string;
  tls: boolean;
  nap: string; // the nap state, "" when the service does not nap
}

export interface NapStatusEntry {
  service: string;
  state: string;
  active: number;
  lastActivityMs: number;
  idleTimeoutMs: number;
  wakes: number;
  runtime: string;
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
