// How napping plugs into the service lifecycle (deploy, restore, remove). The
// napper itself knows nothing of services or balancers; this file gives it
// its hooks: probe = the service's health check on its writer targets,
// ready = targets take traffic, asleep = stop health-checking.
import { fs } from '../util/node-fs.ts';
import type { NapStatusEntry } from './commands.ts';
import type { ContainerInfo, DockerEngine } from '../docker/engine.ts';
import { probeOnce } from '../health/health-check.ts';
import { log } from '../log/logger.ts';
import type { NapConfig } from '../nap/nap-config.ts';
import { napFlagsFromLabels } from '../config/option-labels.ts';
import { givenNapFlags, napOptionsOf, napRuntimeOf } from '../config/nap-options.ts';
import type { NapFlags, NapOptions, NapPersisted } from '../config/nap-options.ts';
import { Napper } from '../nap/napper.ts';
import { buildRuntimes, runtimeKind } from '../nap/runtimes.ts';
import type { Runtime } from '../nap/runtime.ts';
import type { Service } from '../service/service.ts';
import type { Replicas } from './replicas.ts';
import { parseTargetAddress } from '../upstream/target-address.ts';

const { mkdirSync } = fs;

export interface NapEnvironment {
  config: NapConfig;
  docker: DockerEngine | null;
  runtimeDir: string;
  replicas?: Replicas | null; // data-plane workers, whose requests count as activity too
}

export interface PreparedNap {
  options: NapOptions;
  runtimes: Runtime[];
  // Set by a deploy (prepareNap), not by a restore. The runtimes it started
  // (asleep, or never started): that is a wake, and theirs to stop if the
  // deploy fails. What ran already is the current deployment's.
  started?: Runtime[];
  // The current deployment, whose app (another command) it stopped first.
  stoppedPrevious?: Napper | null;
}

export function resolveNapOptions(r: NapFlags, config: NapConfig): NapOptions {
  return napOptionsOf({
    idleTimeoutMs: r.idleTimeoutMs ?? config.idleTimeoutMs,
    wakeTimeoutMs: r.wakeTimeoutMs ?? config.wakeTimeoutMs,
    container: r.container ?? '',
    command: r.command ?? '',
    group: r.group ?? false,
  });
}

// The Kamal app container behind a deploy (its first target's host, or
// --nap-container): labelled `service` and `role` (accessories have no
// role). Null without Docker access, for a process app, or for any other
// container.
export async function kamalAppFor(service: string, flags: NapFlags | null | undefined, targets: readonly string[], env: NapEnvironment): Promise<ContainerInfo | null> {
  const given = flags ? givenNapFlags(flags) : null;
  if (env.docker === null || targets.length === 0) return null;
  if (given !== null && !runtimeKind(napRuntimeOf(given)).readsLabels) return null;
  const container = given?.container || parseTargetAddress(targets[0]!).host;
  let info: ContainerInfo | null;
  try {
    info = await env.docker.inspectContainer(container);
  } catch (err) {
    if (given === null) log.warn('Not napping: Docker did not answer', { service, container, error: (err as Error).message });
    return null;
  }
  return info !== null && isKamalApp(info.labels) ? info : null;
}

// Whether a deploy naps, and with what: its flags win over the app
// container's `kamal-napper.*` labels. A Kamal app container naps with
// neither, unless the proxy-wide idle timeout is 0. Null: no napping.
export function napFlagsOf(flags: NapFlags | null | undefined, app: ContainerInfo | null, labelled: NapFlags, config: NapConfig): NapFlags | null {
  const given = flags ? givenNapFlags(flags) : null;
  if (app === null) return given;
  const merged = { ...labelled, ...given };
  if (given !== null || Object.keys(merged).length > 0 || config.idleTimeoutMs > 0) return merged;
  return null;
}

export async function napFlagsFor(service: string, flags: NapFlags | null | undefined, targets: readonly string[], env: NapEnvironment): Promise<NapFlags | null> {
  const app = await kamalAppFor(service, flags, targets, env);
  return napFlagsOf(flags, app, app === null ? {} : napFlagsFromLabels(app.labels, app.name), env.config);
}

function isKamalApp(labels: Readonly<Record<string, string>>): boolean {
  return labels.service !== undefined && labels.role !== undefined;
}

// Before a deploy's health wait: the app may be asleep, or (a process) not
// started yet, so start it; the health check then decides.
export async function prepareNap(
  service: string,
  options: NapOptions,
  targets: readonly string[],
  env: NapEnvironment,
  previous: Napper | null,
): Promise<PreparedNap> {
  mkdirSync(env.runtimeDir, { recursive: true, mode: 0o700 });
  let stoppedPrevious: Napper | null = null;
  if (previous !== null && stopsBeforeReplacing(previous.options, options)) {
    // Another command is another app: stop the old one first.
    await Promise.allSettled(previous.runtimes.map((r) => r.stop()));
    stoppedPrevious = previous;
  }
  const runtimes = await buildRuntimes(service, options.runtime, targets, env);
  const wasRunning = await Promise.all(runtimes.map((r) => r.inspect().then((s) => s === 'running', () => false)));
  try {
    await Promise.all(runtimes.map((r) => r.start()));
  } catch (err) {
    for (const r of runtimes) r.close();
    await stoppedPrevious?.reconcile(); // as in abandonNap
    throw new Error(`cannot start the app: ${(err as Error).message}`);
  }
  return { options, runtimes, started: runtimes.filter((_, i) => !wasRunning[i]), stoppedPrevious };
}

function stopsBeforeReplacing(current: NapOptions, next: NapOptions): boolean {
  return runtimeKind(current.runtime).stopsBeforeReplacing(current.runtime, next.runtime);
}

// A deploy that failed after prepareNap. A process it started belongs to no
// deployment: left running, nothing would ever stop it (it even outlives the
// proxy, and holds the port the next wake needs). Containers are Kamal's to
// stop, as on remove.
export async function abandonNap(service: string, prepared: PreparedNap | null): Promise<void> {
  if (prepared === null) return;
  if (runtimeKind(prepared.options.runtime).ownsApp) {
    const results = await Promise.allSettled((prepared.started ?? []).map((r) => r.stop()));
    for (const r of results) {
      if (r.status === 'rejected') log.error('Failed to stop the app of a failed deploy', { service, error: (r.reason as Error).message });
    }
  }
  for (const r of prepared.runtimes) r.close();
  // The current app, stopped to make way for another command: its napper
  // sees that now, not at its next poll, so the next request wakes it again.
  await prepared.stoppedPrevious?.reconcile();
}

export function attachNapper(
  service: Service,
  prepared: PreparedNap,
  env: NapEnvironment,
  save: () => Promise<void>,
  restored?: NapPersisted,
): Napper {
  // A deploy keeps the service's wake count; one that had to start the app
  // (asleep, or never started) is a wake itself. Its activity is now.
  const initial = restored ?? {
    options: prepared.options,
    asleep: false,
    lastActivityMs: Date.now(),
    wakes: (service.napper?.wakes ?? 0) + ((prepared.started?.length ?? 0) > 0 ? 1 : 0),
  };
  const napper = new Napper(
    service.name,
    prepared.options,
    prepared.runtimes,
    {
      probe: async () => {
        const results = await Promise.all(
          service.active.writers.map((t) => probeOnce(t.host, t.port, service.targetOptions.healthCheck)),
        );
        return results.every(Boolean);
      },
      ready: () => service.active.markAllHealthy(),
      asleep: () => service.active.stopHealthChecks(),
      changed: () => void save().catch((err: Error) => log.error('Failed to save state', { error: err.message })),
      othersIdle: (idleTimeoutMs) => env.replicas?.othersIdle(service.name, idleTimeoutMs) ?? Promise.resolve({ idle: true, lastActivityMs: 0 }),
    },
    { maxRetries: env.config.maxRetries, pollIntervalMs: env.config.pollIntervalMs },
    initial,
    service.napper?.stats, // a redeploy keeps the service's stats since start
  );
  service.attachNapper(napper, env.config.ignoreUserAgents)?.close();
  return napper;
}

// When a service is removed: an app we own (a process) stops with the
// service; containers are Kamal's to stop.
export async function detachNapper(service: Service): Promise<void> {
  const napper = service.attachNapper(null);
  if (napper === null) return;
  if (runtimeKind(napper.options.runtime).ownsApp) await Promise.allSettled(napper.runtimes.map((r) => r.stop()));
  napper.close();
}

// `kamal-napper status`: every napping service, sorted by name.
export function napStatusEntries(services: Iterable<Service>): NapStatusEntry[] {
  return [...services]
    .filter((s) => s.napper !== null)
    .sort((a, b) => (a.name < b.name ? -1 : 1))
    .map((s) => {
      const n = s.napper!;
      return {
        service: s.name,
        state: n.state,
        active: n.active,
        lastActivityMs: n.lastActivityMs,
        idleTimeoutMs: n.options.idleTimeoutMs,
        wakes: n.wakes,
        runtime: n.runtimes.map((r) => r.description).join(', '),
      };
    });
}
