// Every certificate source of the running proxy, chosen per service: a
// custom certificate, or automatic ones from an ACME CA. Services with the
// same CA and cache share one AcmeManager, and all publish challenges in one
// store, so the HTTP port and the TLS-ALPN handshake answer for all. Both
// managers load with the first service that needs one (bench/README.md,
// "Memory"), the on-demand policy with its first check.
import type { ServiceOptions } from '../config/service-options.ts';
import type { AcmeCache } from './acme-cache.ts';
import type { AcmeManager } from './acme-manager.ts';
import { ChallengeStore } from './acme-challenges.ts';
import type { CertManager } from './cert-manager.ts';
import type { LocalCheck, OnDemandPolicy } from './on-demand-policy.ts';

// A host a service takes on demand (--tls-on-demand-url): the URL to ask,
// and for a path, how to ask the service's app.
export interface OnDemandHost {
  url: string;
  local: LocalCheck | null;
}

export interface CertificatesOptions {
  // ACME directory for services deployed without one (`ACME_DIRECTORY` on
  // run; kamal-proxy always means Let's Encrypt production then).
  defaultDirectory: string;
  // May an automatic certificate be ordered for this host? Yes, no, or
  // whatever the on-demand URL of the service that takes it says.
  hostPolicy(host: string): boolean | OnDemandHost;
  // A private CA for the ACME server's own HTTPS (test CAs such as pebble).
  acmeCaPem?: string;
  renewCheckIntervalMs?: number;
}

export class Certificates {
  readonly challenges = new ChallengeStore();
  readonly #opts: CertificatesOptions;
  readonly #acme = new Map<string, AcmeManager>();
  readonly #listeners: Array<() => void> = [];

  constructor(opts: CertificatesOptions) {
    this.#opts = opts;
  }

  // Throws 'unable to load certificate' for a bad custom pair.
  async managerFor(o: ServiceOptions): Promise<CertManager> {
    if (o.tlsCertificatePath !== '') {
      const { StaticCertManager } = await import('./static-cert.ts');
      return StaticCertManager.load(o.tlsCertificatePath, o.tlsPrivateKeyPath);
    }
    const directory = o.acmeDirectory || this.#opts.defaultDirectory;
    const key = `${directory}\n${o.acmeCachePath}`;
    // Loaded before the lookup, so that two deploys racing here share one manager.
    const { AcmeManager } = await import('./acme-manager.ts');
    let manager = this.#acme.get(key);
    if (manager === undefined) {
      manager = new AcmeManager({
        cachePath: o.acmeCachePath,
        directoryUrl: directory,
        hostPolicy: (host, cache) => this.#approve(host, cache),
        challenges: this.challenges,
        caPem: this.#opts.acmeCaPem,
        renewCheckIntervalMs: this.#opts.renewCheckIntervalMs,
        onCertificate: () => this.changed(),
      });
      this.#acme.set(key, manager);
    }
    return manager;
  }

  #approve(host: string, cache: AcmeCache): boolean | Promise<boolean> {
    const decision = this.#opts.hostPolicy(host);
    if (typeof decision === 'boolean') return decision;
    return this.#onDemand()
      .then((policy) => policy.approve(decision.url, host, cache, decision.local))
      .then(() => true);
  }

  // One for the proxy, so its bound on checks in flight holds over all services.
  #onDemandPolicy: Promise<OnDemandPolicy> | null = null;
  #onDemand(): Promise<OnDemandPolicy> {
    return (this.#onDemandPolicy ??= import('./on-demand-policy.ts').then((m) => new m.OnDemandPolicy()));
  }

  // Something that decides which certificate a handshake gets has changed:
  // a certificate arrived, or the services were redeployed.
  onChange(listener: () => void): void {
    this.#listeners.push(listener);
  }

  changed(): void {
    for (const listener of this.#listeners) listener();
  }

  close(): void {
    for (const m of this.#acme.values()) m.close();
  }
}
