// Builds what a napping service starts and stops. With --nap-command it is a
// local process; otherwise Docker containers: --nap-container, or each writer
// target's host, since Kamal's targets are container IDs. Docker access is
// opt-in (`run --docker`): without it such a deploy is refused.
//
// Each runtime's module loads with the first service that naps with it (at a
// deploy or a restore, both already async): a proxy with no napping service
// never needs them (0.45 MiB of RSS together, bench/README.md "Memory").
import { join } from 'node:path';
import type { DockerEngine } from '../docker/engine.ts';
import { log } from '../log/logger.ts';
import { parseTargetAddress } from '../upstream/target-address.ts';
import type { NapOptions } from '../config/nap-options.ts';
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

export async function buildRuntimes(service: string, o: NapOptions, targets: readonly string[], env: RuntimeEnvironment): Promise<Runtime[]> {
  if (o.command !== '') {
    const { ProcessRuntime } = await import('./process-runtime.ts');
    const file = fileSafe(service);
    return [
      new ProcessRuntime({
        command: o.command,
        pidFile: join(env.runtimeDir, `${file}.pid`),
        logFile: join(env.runtimeDir, `${file}.log`),
      }),
    ];
  }
  if (env.docker === null) throw new DockerDisabledError();
  const containers = o.container !== '' ? [o.container] : [...new Set(targets.map((t) => parseTargetAddress(t).host))];
  const { DockerRuntime } = await import('./docker-runtime.ts');
  return containers.map(
    (container) =>
      new DockerRuntime({
        engine: env.docker!,
        container,
        group: o.group,
        onWarning: (message) => log.warn('Docker', { service, container, message }),
      }),
  );
}

function fileSafe(name: string): string {
  return name.replace(/[^A-Za-z0-9_.-]/g, '_');
}
