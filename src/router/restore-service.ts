// A service rebuilt from its saved state at start, as kamal-proxy restores
// one: targets trusted healthy at once, pause state and rollout split as
// saved, certificates and error pages loaded again; and, ours, its napping.
import { log } from '../log/logger.ts';
import { LoadBalancer } from '../loadbalancer/load-balancer.ts';
import type { Napper } from '../nap/napper.ts';
import { buildRuntimes } from '../nap/runtimes.ts';
import { loadPages } from '../pages/pages.ts';
import type { ServiceOptions, ServiceState } from '../config/service-options.ts';
import { Service } from '../service/service.ts';
import type { Certificates } from '../tls/certificates.ts';
import type { StateKeeper } from '../state/state-keeper.ts';
import { attachNapper } from './napping.ts';
import type { NapEnvironment } from './napping.ts';

export interface RestoreEnvironment {
  certificates: Certificates;
  nap: NapEnvironment;
  save: () => Promise<void>;
}

// `options` are the state's, normalized by the caller.
export async function restoreService(state: ServiceState, options: ServiceOptions, env: RestoreEnvironment): Promise<Service> {
  const errorPages = await loadPages(options.errorPagePath);
  const active = new LoadBalancer(state.activeTargets, state.activeReaders, state.targetOptions, options.readTargetsAcceptWebsockets);
  const service = new Service(state.name, options, state.targetOptions, active, errorPages, state.pause);
  service.useCertificates(options.tlsEnabled ? await env.certificates.managerFor(options) : null);
  service.splitRollout(state.rollout);
  if (state.rolloutTargets.length > 0) {
    const rollout = new LoadBalancer(state.rolloutTargets, state.rolloutReaders, state.targetOptions, options.readTargetsAcceptWebsockets);
    rollout.markAllHealthy();
    service.replaceRollout(rollout);
  }
  const napper = state.nap ? await restoreNapper(service, state, env) : null;
  // A sleeping app stays asleep; an awake one is checked against its
  // runtime at once, in case it stopped while we were down.
  if (napper === null || napper.awake) active.markAllHealthy();
  if (napper?.awake) void napper.reconcile();
  return service;
}

// The services the state file holds, each error logged; null when there is
// nothing to restore (no file, or one that cannot be read at all).
export async function loadSavedState(state: StateKeeper): Promise<ServiceState[] | null> {
  let loaded: Awaited<ReturnType<StateKeeper['load']>>;
  try {
    loaded = await state.load();
  } catch (err) {
    log.error('Failed to restore saved state', { path: state.path, error: (err as Error).message });
    return null;
  }
  if (loaded === null) {
    log.info('No previous state to restore', { path: state.path });
    return null;
  }
  for (const e of loaded.errors) log.error('Failed to restore service', { service: e.name, index: e.index, error: e.message });
  return loaded.services;
}

// Without its runtime (Docker access turned off since) the service is still
// restored and served; it just no longer naps.
async function restoreNapper(service: Service, state: ServiceState, env: RestoreEnvironment): Promise<Napper | null> {
  const nap = state.nap!;
  try {
    const runtimes = await buildRuntimes(state.name, nap.options.runtime, state.activeTargets, env.nap);
    return attachNapper(service, { options: nap.options, runtimes }, env.nap, env.save, nap);
  } catch (err) {
    log.error('Napping not restored', { service: state.name, error: (err as Error).message });
    return null;
  }
}
