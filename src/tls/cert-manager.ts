// What the HTTPS listener asks of a service's TLS setup: a certificate for the
// server name of a handshake. Implemented by StaticCertManager (a PEM pair from
// disk) and AcmeManager (automatic certificates).
import type tls from 'node:tls';
import type { Certificate } from './certificate.ts';

export interface CertManager {
  // null: this manager will not serve that name (host policy, malformed
  // name). Rejects when a certificate should exist but cannot be had now
  // (an ACME order backing off).
  getSecureContext(serverName: string): Promise<tls.SecureContext | null>;
  // What is at hand now, loading or ordering nothing: for clients without SNI.
  loadedCertificate(serverName: string): Certificate | null;
}

// A name we would ever ask a CA for and store as a cache file: lower-case
// LDH labels only (what public CAs issue for; no wildcards, no underscores),
// at least two of them (autocert refuses single-label names), and so none of
// the characters that could escape the cache directory.
export function isCertifiableName(name: string): boolean {
  if (name.length === 0 || name.length > 253 || !name.includes('.')) return false;
  return name.split('.').every((label) => /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/.test(label));
}
