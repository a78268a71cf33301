// The router's services as the status page and /status.json show them: one
// plain, JSON-serialisable object taken in one synchronous pass, so every
// field describes the same moment. The type lives beside the page that
// renders it (src/pages/status-fields.ts).
import type { LoadBalancer } from '../loadbalancer/load-balancer.ts';
import type { Napper } from '../nap/napper.ts';
import type { NapStatus, RolloutStatus, ServiceStatus, StatusSnapshot, TargetStatus } from '../pages/status-fields.ts';
import type { Router } from '../router/router.ts';
import type { Service } from '../service/service.ts';
import type { Target } from '../targets/target.ts';
import type { ThreadMetrics } from '../metrics/thread-metrics.ts';

export type { StatusSnapshot } from '../pages/status-fields.ts';

// When this process started (the clock "since start" counts from).
const STARTED_AT = new Date(Math.round(performance.timeOrigin)).toISOString();

// `others`: what the data-plane workers counted (requests in flight and held
// there), added to this thread's.
export function statusSnapshot(router: Router, others: readonly ThreadMetrics[] = [], nowMs = Date.now()): StatusSnapshot {
  const elsewhere = new Elsewhere(others);
  const services = router.services()
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
    .map((s) => serviceStatus(s, elsewhere));
  let memoryGivenBackBytes = 0;
  for (const s of services) if (s.nap?.state === 'stopped') memoryGivenBackBytes += s.nap.memoryAtSleepBytes;
  return { generatedAt: new Date(nowMs).toISOString(), startedAt: STARTED_AT, memoryGivenBackBytes, services };
}

class Elsewhere {
  readonly #inFlight = new Map<string, number>(); // service \n address -> count
  readonly #held = new Map<string, number>(); // service -> held for a wake now

  constructor(others: readonly ThreadMetrics[]) {
    for (const o of others) {
      for (const f of o.inFlight) {
        const key = `${f.service}\n${f.address}`;
        this.#inFlight.set(key, (this.#inFlight.get(key) ?? 0) + f.count);
      }
      for (const h of o.held) this.#held.set(h.service, (this.#held.get(h.service) ?? 0) + h.now);
    }
  }

  inFlight(service: string, address: string): number {
    return this.#inFlight.get(`${service}\n${address}`) ?? 0;
  }

  held(service: string): number {
    return this.#held.get(service) ?? 0;
  }
}

function serviceStatus(s: Service, elsewhere: Elsewhere): ServiceStatus {
  const pause = s.pause.state;
  const targetStatus = (t: Target): TargetStatus => ({ address: t.address, health: t.health, inFlight: t.inflight.size + elsewhere.inFlight(s.name, t.address) });
  return {
    name: s.name,
    hosts: s.options.hosts.filter((h) => h !== ''), // the catch-all is stored as ""
    pathPrefixes: [...s.options.pathPrefixes],
    tls: s.options.tlsEnabled,
    maintenance: pause.state,
    stopMessage: pause.state === 'stopped' ? pause.stopMessage : '',
    targets: s.active.writers.map(targetStatus),
    readers: s.active.readers.map(targetStatus),
    rollout: s.rollout === null ? null : rolloutStatus(s.rollout, s, targetStatus),
    nap: s.napper === null ? null : napStatus(s.napper, elsewhere.held(s.name)),
  };
}

function rolloutStatus(lb: LoadBalancer, s: Service, targetStatus: (t: Target) => TargetStatus): RolloutStatus {
  const split = s.rolloutSplit;
  return {
    targets: lb.writers.map(targetStatus),
    readers: lb.readers.map(targetStatus),
    split: split === null ? null : { percentage: split.percentage, allowlist: [...split.allowlist] },
  };
}

function napStatus(n: Napper, heldElsewhere: number): NapStatus {
  const stats = n.stats;
  return {
    state: n.state,
    runtime: n.runtimes.map((r) => r.description).join(', '),
    activeRequests: n.active,
    idleTimeoutSeconds: n.options.idleTimeoutMs / 1000,
    lastActivityAt: new Date(n.lastActivityMs).toISOString(),
    wakes: n.wakes,
    wakesSinceStart: { woken: stats.wakes.woken, failed: stats.wakes.failed },
    medianWakeSeconds: stats.medianWakeSeconds(),
    heldNow: stats.heldNow + heldElsewhere,
    heldTotal: stats.heldTotal,
    // Only an app asleep now gives memory back, whatever the stats kept.
    memoryAtSleepBytes: n.state === 'stopped' ? stats.memoryAtSleepBytes : 0,
  };
}
