// Automatic certificates for a service's hosts, as kamal-proxy gets them from
// Go's autocert: one per host name, fetched on the first handshake that names
// it, cached on disk, renewed in the background while the old one is served.
// Per host at most one load-or-order runs at a time; a failed order is retried
// only after a delay that doubles each time (autocert waits a flat minute),
// and handshakes in between fail at once without holding up other hosts.
import type tls from 'node:tls';
import type { Client } from 'acme-client';
import { hostKey } from '../http/host.ts';
import { log as defaultLog, type Logger } from '../log/logger.ts';
import { openAcmeClient } from './acme-account.ts';
import { AcmeCache, LETS_ENCRYPT_PRODUCTION_URL, acmeCacheDir } from './acme-cache.ts';
import { ChallengeStore } from './acme-challenges.ts';
import { ChallengeFailedError, issueCertificate, type ChallengeType, type Issued } from './acme-issuer.ts';
import { trustAcmeServerCa } from './acme-trust.ts';
import { isCertifiableName, type CertManager } from './cert-manager.ts';
import { coversHost, decodeBundle, encodeBundle, parseCertificate, renewalDue, type Certificate } from './certificate.ts';

export interface AcmeManagerOptions {
  /** Base of the cache (--tls-acme-cache-path); the manager uses <cachePath>/<sha256(directory)>/. */
  cachePath: string;
  /** ACME directory; "" or undefined means Let's Encrypt production (kamal-proxy's ACMEDirectory). */
  directoryUrl?: string;
  /**
   * May a certificate be ordered for this (normalized) host? Asked only when none is cached;
   * false or a rejection (its error tells the handshake why) refuses the name.
   */
  hostPolicy: (host: string, cache: AcmeCache) => boolean | Promise<boolean>;
  /** Challenge types, most preferred first. Default: TLS-ALPN-01 then HTTP-01, autocert's order. */
  challengeTypes?: readonly ChallengeType[];
  /** How often a timer looks for certificates due for renewal; 0 disables it. Default 1 h. */
  renewCheckIntervalMs?: number;
  /** Delay after the first failed order; it doubles with each further failure. Default 1 min. */
  retryBaseMs?: number;
  /** First delay when polling the CA for a status. Default 1 s. */
  pollMinMs?: number;
  /** PEM CA to trust for the ACME server's own HTTPS (a private CA, pebble in tests). */
  caPem?: string;
  /** Told whenever a host's certificate is loaded from the cache, issued or renewed. */
  onCertificate?: (host: string) => void;
  /** Where challenge answers are published; share one store to answer for several managers. */
  challenges?: ChallengeStore;
  now?: () => Date;
  logger?: Pick<Logger, 'info' | 'warn' | 'error'>;
}

const RENEW_BEFORE_FRACTION = 1 / 3; // of the certificate's lifetime
const RETRY_MAX_MS = 3_600_000; // the longest wait between failed orders

interface HostState {
  cert: Certificate | null; // what handshakes get
  pending: Promise<Certificate | null> | null; // the one load/order/renewal in flight
  failures: number;
  retryAtMs: number;
  lastError: Error | null;
}

export class AcmeManager implements CertManager {
  readonly directoryUrl: string;
  readonly cache: AcmeCache;
  readonly challenges: ChallengeStore;
  readonly #opts: AcmeManagerOptions;
  readonly #hosts = new Map<string, HostState>();
  readonly #now: () => Date;
  readonly #log: Pick<Logger, 'info' | 'warn' | 'error'>;
  readonly #timer: NodeJS.Timeout | null = null;
  #challengeTypes: ChallengeType[];
  #client: Promise<Client> | null = null;

  constructor(opts: AcmeManagerOptions) {
    this.#opts = opts;
    this.directoryUrl = opts.directoryUrl || LETS_ENCRYPT_PRODUCTION_URL;
    this.cache = new AcmeCache(acmeCacheDir(opts.cachePath, opts.directoryUrl ?? ''));
    this.challenges = opts.challenges ?? new ChallengeStore();
    this.#challengeTypes = [...(opts.challengeTypes ?? ['tls-alpn-01', 'http-01'])];
    this.#now = opts.now ?? (() => new Date());
    this.#log = opts.logger ?? defaultLog;
    if (opts.caPem) trustAcmeServerCa(this.directoryUrl, opts.caPem);
    const interval = opts.renewCheckIntervalMs ?? 60 * 60 * 1000;
    if (interval > 0) this.#timer = setInterval(() => void this.checkRenewals(), interval).unref();
  }

  async getSecureContext(serverName: string): Promise<tls.SecureContext | null> {
    const host = hostKey(serverName);
    if (!isCertifiableName(host)) return null;
    const state = this.#state(host);
    if (state.cert && coversHost(state.cert, host, this.#now())) {
      this.#renewIfDue(host, state);
      return state.cert.context;
    }
    state.pending ??= this.#track(state, this.#loadOrOrder(host, state));
    let cert: Certificate | null = null;
    try {
      cert = await state.pending;
    } finally {
      // Keep no state for names the policy refused: with on-demand TLS anyone
      // can make up server names.
      if (!cert && !state.cert && state.failures === 0 && this.#hosts.get(host) === state) this.#hosts.delete(host);
    }
    if (cert === null) return null;
    this.#renewIfDue(host, state);
    return cert.context;
  }

  loadedCertificate(serverName: string): Certificate | null {
    return this.#hosts.get(hostKey(serverName))?.cert ?? null;
  }

  // Starts every renewal that is due and waits for all in flight.
  async checkRenewals(): Promise<void> {
    for (const [host, state] of this.#hosts) this.#renewIfDue(host, state);
    await Promise.allSettled([...this.#hosts.values()].map((s) => s.pending));
  }

  close(): void {
    if (this.#timer) clearInterval(this.#timer);
  }

  #state(host: string): HostState {
    let state = this.#hosts.get(host);
    if (!state) {
      state = { cert: null, pending: null, failures: 0, retryAtMs: 0, lastError: null };
      this.#hosts.set(host, state);
    }
    return state;
  }

  // Clears `pending` when done, and keeps a background failure from becoming
  // an unhandled rejection (whoever awaits still sees it).
  #track(state: HostState, work: Promise<Certificate | null>): Promise<Certificate | null> {
    const pending = work.finally(() => {
      if (state.pending === pending) state.pending = null;
    });
    pending.catch(() => {});
    return pending;
  }

  async #loadOrOrder(host: string, state: HostState): Promise<Certificate | null> {
    // After a failed order the disk has been looked at already.
    const cached = state.failures === 0 ? await this.#readCache(host) : null;
    if (cached) {
      state.cert = cached;
      this.#opts.onCertificate?.(host);
      return cached;
    }
    // As in autocert, the policy guards new orders only: a cached certificate
    // is served without asking (which on-demand TLS relies on).
    if (!(await this.#opts.hostPolicy(host, this.cache))) return null;
    return this.#order(host, state);
  }

  async #readCache(host: string): Promise<Certificate | null> {
    try {
      const text = await this.cache.readCertificate(host);
      const cert = text ? decodeBundle(text) : null;
      return cert && coversHost(cert, host, this.#now()) ? cert : null;
    } catch (err) {
      this.#log.warn('Ignoring unreadable cached certificate', { host, error: (err as Error).message });
      return null;
    }
  }

  #renewIfDue(host: string, state: HostState): void {
    const now = this.#now();
    if (!state.cert || state.pending || now.getTime() < state.retryAtMs) return;
    if (!renewalDue(state.cert, now, RENEW_BEFORE_FRACTION)) return;
    this.#log.info('Renewing certificate', { host, expires: state.cert.notAfter.toISOString() });
    state.pending = this.#track(state, this.#order(host, state));
  }

  async #order(host: string, state: HostState): Promise<Certificate> {
    const now = this.#now().getTime();
    if (now < state.retryAtMs) {
      const seconds = Math.ceil((state.retryAtMs - now) / 1000);
      throw new Error(`no certificate for ${host} yet; retrying in ${seconds}s after: ${state.lastError?.message}`);
    }
    try {
      const client = await this.#acmeClient();
      // As Go's autocert does, a challenge type that fails is followed at once
      // by a new order with the next type, so a CA that cannot reach port 80
      // (or port 443, behind a TLS-terminating CDN) still issues on this call.
      let issued: Issued | null = null;
      for (let attempt = 1; issued === null; attempt++) {
        try {
          issued = await issueCertificate(client, host, this.#challengeTypes, this.challenges, (e) => this.#demote(e));
        } catch (err) {
          if (!(err instanceof ChallengeFailedError) || attempt >= this.#challengeTypes.length) throw err;
        }
      }
      const cert = parseCertificate(issued.keyPem, issued.chainPem);
      if (!coversHost(cert, host, this.#now())) throw new Error(`the CA issued a certificate that does not cover ${host}`);
      state.cert = cert;
      this.#opts.onCertificate?.(host);
      state.failures = 0;
      state.retryAtMs = 0;
      state.lastError = null;
      this.#log.info('Certificate obtained', { host, challenge: issued.challengeType, expires: cert.notAfter.toISOString() });
      await this.cache.writeCertificate(host, encodeBundle(cert)).catch((err: Error) => {
        this.#log.error('Unable to cache certificate', { host, error: err.message });
      });
      return cert;
    } catch (err) {
      state.failures++;
      state.lastError = err as Error;
      const delay = Math.min((this.#opts.retryBaseMs ?? 60_000) * 2 ** (state.failures - 1), RETRY_MAX_MS);
      state.retryAtMs = this.#now().getTime() + delay;
      this.#log.error('Unable to obtain certificate', { host, error: (err as Error).message, retry_in_ms: delay });
      throw err;
    }
  }

  // A challenge type that failed is tried last from now on: if HTTP-01 could
  // not reach us on port 80 once, the next order starts with TLS-ALPN-01.
  #demote(error: ChallengeFailedError): void {
    this.#log.warn('ACME challenge failed', { error: error.message });
    this.#challengeTypes = [...this.#challengeTypes.filter((t) => t !== error.challengeType), error.challengeType];
  }

  #acmeClient(): Promise<Client> {
    if (!this.#client) {
      this.#client = openAcmeClient({ directoryUrl: this.directoryUrl, cache: this.cache, pollMinMs: this.#opts.pollMinMs ?? 1000 });
      // A failed registration (CA unreachable) is retried with the next order.
      this.#client.catch(() => (this.#client = null));
    }
    return this.#client;
  }
}
