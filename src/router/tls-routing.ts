// Which certificate a handshake gets, and which hosts may have one ordered:
// decided from the routing table by the host's root (/) service, as in
// kamal-proxy. The router's TLS methods are one-liners into these.
import type tls from 'node:tls';
import type { Service } from '../service/service.ts';
import type { Certificate } from '../tls/certificate.ts';
import type { OnDemandHost } from '../tls/certificates.ts';
import type { LocalCheck } from '../tls/on-demand-policy.ts';
import { probeService } from './on-demand-probe.ts';
import type { ServiceMap } from './service-map.ts';

export async function secureContextFor(map: ServiceMap<Service>, serverName: string): Promise<tls.SecureContext | null> {
  const service = map.lookup(serverName, '/')?.service;
  if (!service?.options.tlsEnabled || service.certManager === null) return null;
  return service.certManager.getSecureContext(serverName);
}

// The certificate behind secureContextFor, for a data-plane worker to make
// its own context from.
export async function certificateFor(map: ServiceMap<Service>, serverName: string): Promise<Certificate | null> {
  const service = map.lookup(serverName, '/')?.service;
  if (!service?.options.tlsEnabled || service.certManager === null) return null;
  const context = await service.certManager.getSecureContext(serverName);
  return context === null ? null : service.certManager.loadedCertificate(serverName);
}

// For clients that send no server name (SNI), as kamal-proxy's "default TLS
// host": the certificate of the first TLS service, by name, with a host
// and a certificate at hand. kamal-proxy takes some TLS service with hosts
// in Go's map order, which differs from run to run; ours is stable.
export function defaultCertificate(services: Iterable<Service>): Certificate | null {
  const byName = [...services].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const s of byName) {
    const host = s.options.hosts[0];
    if (!s.options.tlsEnabled || s.certManager === null || host === undefined || !s.options.pathPrefixes.includes('/')) continue;
    const cert = s.certManager.loadedCertificate(host);
    if (cert !== null) return cert;
  }
  return null;
}

// Automatic certificates for a host a TLS service names exactly (no
// wildcards: kamal-proxy refuses those for automatic TLS), or for any host
// the catch-all service with an on-demand URL takes, if the URL approves.
export function acmeAllowed(map: ServiceMap<Service>, host: string): boolean | OnDemandHost {
  const service = map.lookup(host, '/')?.service;
  if (service === undefined || !service.options.tlsEnabled || service.options.tlsCertificatePath !== '') return false;
  const url = service.options.tlsOnDemandUrl;
  if (url === '') return service.options.hosts.includes(host.toLowerCase());
  const local: LocalCheck | null = url.startsWith('/') ? (path, signal, maxBody) => probeService(service, path, host, signal, maxBody) : null;
  return { url, local };
}
