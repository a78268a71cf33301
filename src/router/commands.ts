// What the router's commands take and return: the control protocol
// (src/control/protocol.ts) carries these between the CLI and the server.
import type { NapFlags } from '../config/nap-options.ts';
import type { ServiceOptions, TargetOptions } from '../config/service-options.ts';

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
