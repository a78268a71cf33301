// The service registry: routes requests to services, and runs the commands
// that change services (deploy, remove) and the state snapshot after each.
// A command checks that the state can be saved before it changes anything
// (state-keeper.ts): it fails while nothing has changed, or it succeeds.
// The routing table is rebuilt as a whole on every change and swapped in one
// assignment, so a request sees either the old table or the new one.
import type { DeployParams, ListEntry, NapStatusEntry } from './commands.ts';
import { optionsFromLabels, withLabelled } from '../config/option-labels.ts';
import { abandonNap, attachNapper, detachNapper, kamalAppFor, napFlagsOf, napStatusEntries, prepareNap, resolveNapOptions } from './napping.ts';
import type { NapEnvironment, PreparedNap } from './napping.ts';
import { loadSavedState, restoreService } from './restore-service.ts';
import { loadPages } from '../pages/pages.ts';
import type { Napper } from '../nap/napper.ts';
import type tls from 'node:tls';
import { Certificates } from '../tls/certificates.ts';
import type { Certificate } from '../tls/certificate.ts';
import type { CertManager } from '../tls/cert-manager.ts';
import { formatGoDuration } from '../util/go-duration.ts';
import { LoadBalancer } from '../loadbalancer/load-balancer.ts';
import { log } from '../log/logger.ts';
import type { ServiceOptions, ServiceState } from '../config/service-options.ts';
import { Service } from '../service/service.ts';
import { checkAutomaticTls, validateServiceOptions, validateTargetOptions } from '../service/validate.ts';
import { parseTargetAddress } from '../upstream/target-address.ts';
import { rolloutState } from '../service/rollout-controller.ts';
import { StateKeeper, type UnsavedState } from '../state/state-keeper.ts';
import { normalizePathPrefixes } from '../http/paths.ts';
import { hostKey, normalizeHosts } from '../http/host.ts';
import { ServiceMap } from './service-map.ts';
import type { Routes } from './routes.ts';
import type { Replicas } from './replicas.ts';
import type { RouteMatch } from './service-map.ts';
import { acmeAllowed, certificateFor, defaultCertificate, secureContextFor } from './tls-routing.ts';

export class ServiceNotFoundError extends Error {
  constructor() {
    super('service not found');
  }
}

export class Router implements Routes {
  readonly #state: StateKeeper;
  readonly #nap: NapEnvironment;
  readonly certificates: Certificates;
  #services = new Map<string, Service>();
  #map = new ServiceMap<Service>([]);
  #replicas: Replicas | null = null;

  constructor(statePath: string, nap: NapEnvironment, tlsOptions: { defaultDirectory?: string; acmeCaPem?: string } = {}) {
    this.#state = new StateKeeper(statePath);
    this.#nap = nap;
    this.certificates = new Certificates({
      defaultDirectory: tlsOptions.defaultDirectory ?? '',
      acmeCaPem: tlsOptions.acmeCaPem,
      hostPolicy: (host) => acmeAllowed(this.#map, host),
    });
  }

  // ---- TLS: certificates are chosen by SNI from the host's root (/) service
  // (tls-routing.ts).

  secureContextFor(serverName: string): Promise<tls.SecureContext | null> {
    return secureContextFor(this.#map, serverName);
  }

  defaultCertificate(): Certificate | null {
    return defaultCertificate(this.#services.values());
  }

  // The certificate a data-plane worker's handshake for serverName gets
  // (ordered first if need be, as for our own handshakes).
  certificateFor(serverName: string): Promise<Certificate | null> {
    return certificateFor(this.#map, serverName);
  }

  // Data-plane workers beside this thread: told of every change from now on.
  useReplicas(replicas: Replicas): void {
    this.#replicas = replicas;
    this.#nap.replicas = replicas;
  }

  onCertificatesChange(listener: () => void): void {
    this.certificates.onChange(listener);
  }

  alpnChallengeFor(serverName: string): tls.SecureContext | null {
    return this.certificates.challenges.alpnContext(hostKey(serverName));
  }

  httpChallengeFor(token: string): string | null {
    return this.certificates.challenges.httpResponse(token);
  }

  lookup(host: string | undefined, path: string): RouteMatch<Service> | null {
    return this.#map.lookup(host ?? '', path);
  }

  service(name: string): Service | undefined {
    return this.#services.get(name);
  }

  // Every deployed service, in no particular order (the status page sorts).
  services(): Service[] {
    return [...this.#services.values()];
  }

  // Checks in kamal-proxy's order, so that the first thing wrong is the one
  // reported: options, target addresses, health, conflicts, then what
  // building the service loads (certificate, error pages).
  async deploy(p: DeployParams): Promise<void> {
    validateServiceOptions(p.serviceOptions);
    const options = normalizeOptions(p.serviceOptions);
    for (const target of [...p.targets, ...p.readers]) parseTargetAddress(target);
    // Kamal sends only kamal-proxy's flags: ours come from the app
    // container's labels, unless given as flags.
    const app = await kamalAppFor(p.service, p.nap, p.targets, this.#nap);
    const labelled = app === null ? null : optionsFromLabels(app.labels, app.name);
    const targetOptions = labelled === null ? p.targetOptions : withLabelled(p.targetOptions, labelled.target, p.flagsGiven ?? []);
    validateTargetOptions(targetOptions);
    const napFlags = napFlagsOf(p.nap, app, labelled?.nap ?? {}, this.#nap.config);
    const lb = new LoadBalancer(p.targets, p.readers, targetOptions, options.readTargetsAcceptWebsockets);

    log.info('Deploying', { service: p.service, hosts: options.hosts, paths: options.pathPrefixes, targets: p.targets, tls: options.tlsEnabled });
    let nap: PreparedNap | null = null;
    if (napFlags !== null) {
      try {
        const napOptions = resolveNapOptions(napFlags, this.#nap.config);
        nap = await prepareNap(p.service, napOptions, p.targets, this.#nap, this.#services.get(p.service)?.napper ?? null);
      } catch (err) {
        lb.close();
        throw err;
      }
    }
    const abandon = async () => {
      lb.close();
      await abandonNap(p.service, nap);
    };
    lb.startHealthChecks();
    if (!p.force && !(await lb.waitUntilHealthy(p.deployTimeoutMs))) {
      await abandon();
      throw new Error(`target failed to become healthy within configured timeout (${formatGoDuration(p.deployTimeoutMs)})`);
    }

    // Conflicts are reported before what the service loads, as kamal-proxy
    // does; loading awaits, so they are checked again, synchronously, just
    // before the swap.
    let loaded: { errorPages: Awaited<ReturnType<typeof loadPages>>; certManager: CertManager | null };
    try {
      await this.#state.checkWritable();
      this.#checkConflicts(p.service, options);
      checkAutomaticTls(options);
      const certManager = options.tlsEnabled ? await this.certificates.managerFor(options) : null;
      loaded = { certManager, errorPages: await loadPages(options.errorPagePath) };
      this.#checkConflicts(p.service, options);
    } catch (err) {
      await abandon();
      throw err;
    }
    const { errorPages, certManager } = loaded;
    let replaced: LoadBalancer | null = null;
    let service = this.#services.get(p.service);
    if (service) replaced = service.update(options, targetOptions, lb, errorPages);
    else this.#services.set(p.service, (service = new Service(p.service, options, targetOptions, lb, errorPages)));
    service.useCertificates(certManager);
    // Deployed without napping (no flag, label or default): the app keeps running.
    if (nap !== null) attachNapper(service, nap, this.#nap, () => this.save());
    else service.attachNapper(null)?.close();
    this.#rebuildMap();
    await this.save();

    if (replaced !== null) await this.#retire(p.service, replaced, p.drainTimeoutMs);
    log.info('Deployed', { service: p.service, hosts: options.hosts, paths: options.pathPrefixes, targets: p.targets, tls: options.tlsEnabled });
  }

  async remove(name: string): Promise<void> {
    const service = await this.#findForChange(name);
    this.#services.delete(name);
    this.#rebuildMap();
    await this.save();
    await detachNapper(service);
    // No drain, as in kamal-proxy: requests in flight finish on their own and
    // the pools close once they have.
    service.active.close();
    service.rollout?.close();
    log.info('Removed', { service: name });
  }

  // Holds new requests (up to maxPauseMs each) and lets those in flight
  // finish; returns once they have (or the drain timeout cut them off).
  async pause(name: string, drainTimeoutMs: number, maxPauseMs: number): Promise<void> {
    const service = await this.#findForChange(name);
    service.pause.pause(maxPauseMs);
    await this.save();
    log.info('Service paused', { service: name });
    await this.#drain(service, drainTimeoutMs);
  }

  async stop(name: string, drainTimeoutMs: number, message: string): Promise<void> {
    const service = await this.#findForChange(name);
    service.pause.stop(message);
    await this.save();
    log.info('Service stopped', { service: name, message });
    await this.#drain(service, drainTimeoutMs);
  }

  async resume(name: string): Promise<void> {
    const service = await this.#findForChange(name);
    service.pause.resume();
    await this.save();
    log.info('Service resumed', { service: name });
  }

  // A second set of targets beside the active ones, for a cookie-based canary.
  // It uses the service's own options; any previous rollout set is drained.
  async rolloutDeploy(p: { service: string; targets: string[]; readers: string[]; deployTimeoutMs: number; drainTimeoutMs: number }): Promise<void> {
    const service = this.#find(p.service);
    const lb = new LoadBalancer(p.targets, p.readers, service.targetOptions, service.options.readTargetsAcceptWebsockets);
    log.info('Deploying for rollout', { service: p.service, targets: p.targets });
    lb.startHealthChecks();
    if (!(await lb.waitUntilHealthy(p.deployTimeoutMs))) {
      lb.close();
      throw new Error(`target failed to become healthy within configured timeout (${formatGoDuration(p.deployTimeoutMs)})`);
    }
    try {
      await this.#state.checkWritable();
    } catch (err) {
      lb.close();
      throw err;
    }
    if (this.#services.get(p.service) !== service) {
      lb.close();
      throw new ServiceNotFoundError();
    }
    const replaced = service.replaceRollout(lb);
    await this.save();
    if (replaced !== null) await this.#retire(p.service, replaced, p.drainTimeoutMs);
    log.info('Deployed for rollout', { service: p.service, targets: p.targets });
  }

  async rolloutSet(name: string, percentage: number, allowlist: string[]): Promise<void> {
    const service = await this.#findForChange(name);
    if (service.rollout === null) throw new Error('rollout target not set');
    service.splitRollout(rolloutState(percentage, allowlist));
    await this.save();
  }

  async rolloutStop(name: string): Promise<void> {
    const service = await this.#findForChange(name);
    service.splitRollout(null);
    await this.save();
  }

  list(): ListEntry[] {
    return [...this.#services.values()]
      .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
      .map((s) => ({
        service: s.name,
        hosts: s.options.hosts,
        paths: s.options.pathPrefixes,
        targets: s.active.targets.map((t) => t.address),
        state: s.pause.state.state,
        tls: s.options.tlsEnabled,
        nap: s.napper?.state ?? '',
      }));
  }

  // ---- napping commands (kamal-napper status / wake / nap / stop-all)

  napStatus(): NapStatusEntry[] {
    return napStatusEntries(this.#services.values());
  }

  async napWake(name: string): Promise<void> {
    await this.#napper(name).wake('command');
  }

  async napNap(name: string): Promise<void> {
    await this.#napper(name).nap('command');
  }

  async napStopAll(): Promise<string[]> {
    const napping = [...this.#services.values()].filter((s) => s.napper !== null);
    await Promise.all(napping.map((s) => s.napper!.nap('stop-all')));
    return napping.map((s) => s.name).sort();
  }

  #napper(name: string): Napper {
    const napper = this.#find(name).napper;
    if (napper === null) throw new Error(`service ${name} does not nap (deploy it with --idle-timeout, --nap-command or --nap-container)`);
    return napper;
  }

  #find(name: string): Service {
    const service = this.#services.get(name);
    if (!service) throw new ServiceNotFoundError();
    return service;
  }

  // For a command about to change a service. A missing service is reported
  // first, whatever the disk; the lookup is repeated after the check, which
  // awaits, in case the service went meanwhile.
  async #findForChange(name: string): Promise<Service> {
    this.#find(name);
    await this.#state.checkWritable();
    return this.#find(name);
  }

  async #drain(service: Service, timeoutMs: number): Promise<void> {
    await Promise.all([service.active.drain(timeoutMs), service.rollout?.drain(timeoutMs), this.#replicas?.drain(service.name, 'serving', timeoutMs)]);
    log.info('Service drained', { service: service.name });
  }

  // A balancer a deploy replaced: its requests finish (here and in every
  // worker) for up to timeoutMs, then it closes.
  async #retire(name: string, replaced: LoadBalancer, timeoutMs: number): Promise<void> {
    replaced.stopHealthChecks();
    await Promise.all([replaced.drain(timeoutMs), this.#replicas?.drain(name, 'retired', timeoutMs)]);
    replaced.close();
  }

  // Never rejects (state-keeper.ts): by now the change has taken effect.
  // Every change passes here, so the workers hear of it here too.
  async save(): Promise<void> {
    await Promise.all([this.#state.save([...this.#services.values()].map((s) => s.toState())), this.#replicas?.changed()]);
  }

  // Null while the state file has every change.
  unsavedState(): UnsavedState | null {
    return this.#state.unsaved;
  }

  // Restores what the state file holds. Unlike kamal-proxy, one service that
  // cannot be rebuilt is logged and skipped instead of losing every service.
  async restore(): Promise<void> {
    const loaded = await loadSavedState(this.#state);
    if (loaded === null) return;
    // (host, prefix) pairs already restored: checked here rather than by
    // rebuilding the routing table after every service, which made restoring
    // many services quadratic.
    const claimed = new Set<string>();
    for (const state of loaded) {
      try {
        await this.#restoreService(state, claimed);
      } catch (err) {
        log.error('Failed to restore service', { service: state.name, error: (err as Error).message });
      }
    }
    this.#rebuildMap();
    log.info('Restored saved state', { path: this.#state.path, services: this.#services.size });
  }

  // Stops health checks and closes every pool (shutdown).
  close(): void {
    this.certificates.close();
    void this.#nap.docker?.close();
    for (const s of this.#services.values()) {
      s.napper?.close();
      s.active.close();
      s.rollout?.close();
    }
  }

  async #restoreService(state: ServiceState, claimed: Set<string>): Promise<void> {
    const options = normalizeOptions(state.options);
    const pairs = options.hosts.flatMap((h) => options.pathPrefixes.map((p) => `${h}\n${p}`));
    if (this.#services.has(state.name) || pairs.some((pair) => claimed.has(pair))) {
      throw new Error('host settings conflict with another service');
    }
    const service = await restoreService(state, options, { certificates: this.certificates, nap: this.#nap, save: () => this.save() });
    this.#services.set(state.name, service);
    for (const pair of pairs) claimed.add(pair);
  }

  #checkConflicts(name: string, options: ServiceOptions): void {
    if (this.#map.conflictFor(name, options.hosts, options.pathPrefixes) !== null) {
      throw new Error('host settings conflict with another service');
    }
  }

  // TLS settings belong to a host's root (/) service: services on other
  // prefixes of the same host take its TLS and redirect settings (or the
  // defaults when it has none), as kamal-proxy does, and so persist them.
  #rebuildMap(): void {
    const map = new ServiceMap(this.#services.values());
    for (const s of this.#services.values()) {
      if (s.options.pathPrefixes.includes('/')) continue;
      s.inheritTls(map.lookup(s.options.hosts[0] ?? '', '/')?.service);
    }
    this.#map = map;
    this.certificates.changed();
  }
}

function normalizeOptions(o: ServiceOptions): ServiceOptions {
  return { ...o, hosts: normalizeHosts(o.hosts), pathPrefixes: normalizePathPrefixes(o.pathPrefixes) };
}

