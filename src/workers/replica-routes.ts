// A data-plane worker's routing table: the main thread's services rebuilt
// from what it pushes (the routing state, target health, napping progress),
// with this worker's own balancers and pools. A change builds new balancers
// only for what changed; the ones replaced are kept, still serving their
// requests in flight, until the main thread says how long to drain them.
import type tls from 'node:tls';
import type { PauseState } from '../config/service-options.ts';
import { LoadBalancer } from '../loadbalancer/load-balancer.ts';
import { log } from '../log/logger.ts';
import { loadPages } from '../pages/pages.ts';
import type { Routes } from '../router/routes.ts';
import { ServiceMap, type RouteMatch } from '../router/service-map.ts';
import type { PauseController } from '../service/pause-controller.ts';
import { Service } from '../service/service.ts';
import { hostKey } from '../http/host.ts';
import { ChallengeStore, type ChallengeUpdate } from '../tls/acme-challenges.ts';
import { parseCertificate, type Certificate } from '../tls/certificate.ts';
import type { CacheChange } from '../accel/http-cache/http-cache.ts';
import type { ThreadMetrics } from '../metrics/thread-metrics.ts';
import type { CertificatePems, IdleAnswer, ServiceSnapshot } from './messages.ts';
import { RemoteNapper, type AskWake } from './remote-napper.ts';
import type { WakeProgress } from '../nap/nap-gate.ts';

type ReplicaService = Service<RemoteNapper>;

interface Entry {
  service: ReplicaService;
  retired: LoadBalancer[];
}

export interface ReplicaControl {
  askWake: AskWake;
  askCertificate(serverName: string): Promise<CertificatePems | null>;
  cacheChanged(service: string, deployment: number, change: CacheChange): void;
  busy(service: string, busy: boolean, atMs: number): void; // see RemoteNapper
  ignoreUserAgents: readonly string[];
}

export class ReplicaRoutes implements Routes {
  readonly #control: ReplicaControl;
  readonly #entries = new Map<string, Entry>();
  #map = new ServiceMap<ReplicaService>([]);
  readonly #challenges = new ChallengeStore();
  // Contexts made from the main thread's certificates, until they change.
  #certificates = new Map<string, Promise<Certificate | null>>();
  #defaultCertificate: Certificate | null = null;
  readonly #certificateListeners: (() => void)[] = [];

  constructor(control: ReplicaControl) {
    this.#control = control;
  }

  // ---- Routes

  lookup(host: string | undefined, path: string): RouteMatch<ReplicaService> | null {
    return this.#map.lookup(host ?? '', path);
  }

  httpChallengeFor(token: string): string | null {
    return this.#challenges.httpResponse(token);
  }

  alpnChallengeFor(serverName: string): tls.SecureContext | null {
    return this.#challenges.alpnContext(hostKey(serverName));
  }

  async secureContextFor(serverName: string): Promise<tls.SecureContext | null> {
    const key = hostKey(serverName);
    let cert = this.#certificates.get(key);
    if (cert === undefined) {
      cert = this.#control.askCertificate(serverName).then((pems) => (pems === null ? null : parseCertificate(pems.keyPem, pems.chainPem)));
      this.#certificates.set(key, cert);
      // Only what was had is kept: a name refused now may be served later.
      cert.then((c) => c === null && this.#certificates.delete(key), () => this.#certificates.delete(key));
    }
    return (await cert)?.context ?? null;
  }

  defaultCertificate(): Certificate | null {
    return this.#defaultCertificate;
  }

  onCertificatesChange(listener: () => void): void {
    this.#certificateListeners.push(listener);
  }

  // ---- what the main thread pushes

  certificatesChanged(defaultCertificate: CertificatePems | null): void {
    this.#certificates = new Map();
    const d = this.#defaultCertificate;
    if (defaultCertificate === null) this.#defaultCertificate = null;
    else if (d === null || d.keyPem !== defaultCertificate.keyPem || d.chainPem !== defaultCertificate.chainPem) {
      this.#defaultCertificate = parseCertificate(defaultCertificate.keyPem, defaultCertificate.chainPem);
    }
    for (const l of this.#certificateListeners) l();
  }

  challenge(update: ChallengeUpdate): void {
    this.#challenges.apply(update);
  }

  async apply(snapshots: readonly ServiceSnapshot[]): Promise<void> {
    const names = new Set<string>();
    for (const snap of snapshots) {
      names.add(snap.state.name);
      try {
        await this.#applyService(snap);
      } catch (err) {
        log.error('Worker could not apply a service', { service: snap.state.name, error: (err as Error).message });
      }
    }
    for (const [name, entry] of this.#entries) {
      if (names.has(name)) continue;
      // Removed: as on the main thread, no drain; the pools close once
      // their requests are done.
      this.#entries.delete(name);
      closeEntry(entry);
    }
    this.#map = new ServiceMap([...this.#entries.values()].map((e) => e.service));
  }

  nap(service: string, progress: WakeProgress): void {
    this.#entries.get(service)?.service.napper?.update(progress);
  }

  replayCache(service: string, deployment: number, change: CacheChange): void {
    this.#entries.get(service)?.service.replayCache(deployment, change);
  }

  claimIdle(service: string, idleTimeoutMs: number): IdleAnswer {
    return this.#entries.get(service)?.service.napper?.claimIdle(idleTimeoutMs) ?? { idle: true, lastActivityMs: 0 };
  }

  async drain(service: string, what: 'retired' | 'serving', timeoutMs: number): Promise<void> {
    const entry = this.#entries.get(service);
    if (entry === undefined) return;
    if (what === 'serving') {
      await Promise.all([entry.service.active.drain(timeoutMs), entry.service.rollout?.drain(timeoutMs)]);
      return;
    }
    const retired = entry.retired;
    entry.retired = [];
    await Promise.all(retired.map((lb) => lb.drain(timeoutMs)));
    for (const lb of retired) lb.close();
  }

  // The requests this worker holds, per service: for a wake (with the
  // total since start) and by a pause.
  held(): ThreadMetrics['held'] {
    return [...this.#entries.values()].map(({ service }) => ({
      service: service.name,
      now: service.napper?.stats.heldNow ?? 0,
      total: service.napper?.stats.heldTotal ?? 0,
      paused: service.pause.waiting,
    }));
  }

  inFlight(): ThreadMetrics['inFlight'] {
    const counts: ThreadMetrics['inFlight'] = [];
    for (const { service } of this.#entries.values()) {
      for (const lb of [service.active, service.rollout]) {
        for (const t of lb?.targets ?? []) if (t.inflight.size > 0) counts.push({ service: service.name, address: t.address, count: t.inflight.size });
      }
    }
    return counts;
  }

  close(): void {
    for (const e of this.#entries.values()) closeEntry(e);
  }

  async #applyService(snap: ServiceSnapshot): Promise<void> {
    const st = snap.state;
    const o = st.options;
    const rollout = snap.rolloutCursor;
    let entry = this.#entries.get(st.name);
    if (entry === undefined || entry.service.deployment !== snap.deployment) {
      // As every deploy on the main thread loads them again.
      const pages = await loadPages(o.errorPagePath);
      const lb = new LoadBalancer(st.activeTargets, st.activeReaders, st.targetOptions, o.readTargetsAcceptWebsockets, snap.activeCursor);
      if (entry === undefined) {
        const service = new Service<RemoteNapper>(st.name, o, st.targetOptions, lb, pages, st.pause);
        service.mirrorCache((deployment, change) => this.#control.cacheChanged(st.name, deployment, change));
        entry = { service, retired: [] };
        this.#entries.set(st.name, entry);
      } else {
        entry.retired.push(entry.service.update(o, st.targetOptions, lb, pages));
      }
      entry.service.deployment = snap.deployment;
    }
    const service = entry.service;
    // The TLS settings a root (/) service on the same host passes on.
    service.inheritTls({ options: o, certManager: null });
    if (service.rolloutDeployment !== snap.rolloutDeployment) {
      const lb = rollout === null ? null : new LoadBalancer(st.rolloutTargets, st.rolloutReaders, st.targetOptions, o.readTargetsAcceptWebsockets, rollout);
      const old = service.replaceRollout(lb);
      if (old !== null) entry.retired.push(old);
      service.rolloutDeployment = snap.rolloutDeployment;
    }
    service.splitRollout(st.rollout);
    followPause(service.pause, st.pause);
    service.active.setHealth(snap.activeHealth);
    service.rollout?.setHealth(snap.rolloutHealth);
    if (snap.nap === null || snap.napAwake === null) service.attachNapper(null)?.close();
    else if (service.napper === null) {
      const napper = new RemoteNapper(st.name, snap.nap, snap.napAwake, this.#control.askWake, (busy, atMs) => this.#control.busy(st.name, busy, atMs));
      service.attachNapper(napper, this.#control.ignoreUserAgents);
    } else service.napper.update(snap.nap, snap.napAwake);
  }
}

function closeEntry(e: Entry): void {
  e.service.attachNapper(null)?.close();
  for (const lb of [e.service.active, e.service.rollout, ...e.retired]) lb?.close();
}

function followPause(pause: PauseController, to: PauseState): void {
  const now = pause.state;
  if (now.state === to.state && now.stopMessage === to.stopMessage && now.failAfterMs === to.failAfterMs) return;
  if (to.state === 'running') pause.resume();
  else if (to.state === 'stopped') pause.stop(to.stopMessage);
  else pause.pause(to.failAfterMs);
}
