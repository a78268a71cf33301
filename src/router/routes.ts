// What the client listeners need of the routing table: a service for a
// request, and the certificates and ACME answers of the TLS handshake. The
// router is it on the main thread; a data-plane worker has a replica of it
// (src/workers/replica-routes.ts), kept up to date by the main thread.
import type tls from 'node:tls';
import type { NapGate } from '../nap/nap-gate.ts';
import type { Service } from '../service/service.ts';
import type { Certificate } from '../tls/certificate.ts';
import type { RouteMatch } from './service-map.ts';

export interface Routes {
  lookup(host: string | undefined, path: string): RouteMatch<Service<NapGate>> | null;
  httpChallengeFor(token: string): string | null;
  secureContextFor(serverName: string): Promise<tls.SecureContext | null>;
  alpnChallengeFor(serverName: string): tls.SecureContext | null;
  // For clients that send no server name.
  defaultCertificate(): Certificate | null;
  onCertificatesChange(listener: () => void): void;
}
