// What each kind of nap runtime does (NapRuntimeSpec): how its runtimes are
// built, and how it differs where the service lifecycle cares. A process is a
// local shell command that we start and own. Docker containers are
// --nap-container, or each writer target's host, since Kamal's targets are
// container IDs; Docker access is opt-in (`run --docker`): without it such a
// deploy is refused.
//
// Each runtime's module loads with the first service that naps with it (at a
// deploy or a restore, both already async): a proxy with no napping service
// never needs them.
import { join } from 'node:path';
import type { DockerEngine } from '../docker/engine.ts';
import { log } from '../log/logger.ts';
import { parseTargetAddress } from '../upstream/target-address.ts';
import type { NapRuntimeSpec } from '../config/nap-options.ts';
import type { Runtime } from './runtime.ts';

export interface RuntimeEnvironment {
  docker: DockerEngine | null;
  runtimeDir: string; // pid and log files of process runtimes
}

export class DockerDisabledError extends Error {
  constructor() {
    super('napping containers needs Docker access: start the proxy with --docker and mount /var/run/docker.sock');
  }
}

type Kind = NapRuntimeSpec['kind'];
type SpecOf<K extends Kind> = Extract<NapRuntimeSpec, { kind: K }>;

export interface RuntimeKind<S extends NapRuntimeSpec> {
  build(service: string, spec: S, targets: readonly string[], env: RuntimeEnvironment): Promise<Runtime[]>;
  // Whether a deploy of `next` must stop the current app first: another
  // command is another app, and would find the port taken.
  stopsBeforeReplacing(current: S, next: NapRuntimeSpec): boolean;
  // Whether the app is ours: it stops when its service is removed or its
  // deploy fails. Containers are Kamal's to stop.
  ownsApp: boolean;
  // Whether the app may be a Kamal app container, whose `kamal-napper.*`
  // labels then set napping (a deploy looks it up in Docker).
  readsLabels: boolean;
}

const KINDS: { [K in Kind]: RuntimeKind<SpecOf<K>> } = {
  process: {
    async build(service, spec, _targets, env) {
      const { ProcessRuntime } = await import('./process-runtime.ts');
      const file = fileSafe(service);
      return [
        new ProcessRuntime({
          command: spec.command,
          pidFile: join(env.runtimeDir, `${file}.pid`),
          logFile: join(env.runtimeDir, `${file}.log`),
        }),
      ];
    },
    stopsBeforeReplacing: (current, next) => !(next.kind === 'process' && next.command === current.command),
    ownsApp: true,
    readsLabels: false,
  },
  docker: {
    async build(service, spec, targets, env) {
      const docker = env.docker;
      if (docker === null) throw new DockerDisabledError();
      const containers = spec.container !== '' ? [spec.container] : [...new Set(targets.map((t) => parseTargetAddress(t).host))];
      const { DockerRuntime } = await import('./docker-runtime.ts');
      return containers.map(
        (container) =>
          new DockerRuntime({
            engine: docker,
            container,
            group: spec.group,
            onWarning: (message) => log.warn('Docker', { service, container, message }),
          }),
      );
    },
    stopsBeforeReplacing: () => false,
    ownsApp: false,
    readsLabels: true,
  },
};

export function runtimeKind<K extends Kind>(spec: SpecOf<K>): RuntimeKind<SpecOf<K>> {
  return KINDS[spec.kind];
}

export function buildRuntimes(service: string, spec: NapRuntimeSpec, targets: readonly string[], env: RuntimeEnvironment): Promise<Runtime[]> {
  return runtimeKind(spec).build(service, spec, targets, env);
}

function fileSafe(name: string): string {
  return name.replace(/[^A-Za-z0-9_.-]/g, '_');
}
