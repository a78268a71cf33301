// What the HTTPS listener asks of a service's TLS setup: a certificate for the
// server name of a handshake. Implemented by StaticCertManager (a PEM pair from
// disk) and AcmeManager (automatic certificates).
import type tls from 'node:tls';
import type { Certificate } from './certificate.ts';

export interface CertManager {
  /**
   * The context to finish a handshake for `serverName` with.
   * null: this manager will not serve that name (host policy, malformed name).
   * Rejects when a certificate should exist but cannot be had right now
   * (for example an ACME order failed and is backing off).
   */
  getSecureContext(serverName: string): Promise<tls.SecureContext | null>;
  /**
   * The certificate for `serverName` if one is at hand now, without loading
   * or ordering anything: what a client that sends no server name can get.
   */
  loadedCertificate(serverName: string): Certificate | null;
}

// SNI names are case-insensitive and may carry the root's trailing dot; the
// cache files, the host policy and the ACME order all want the plain form
// (Go's autocert does the same: lower-case, trim the trailing dot).
export function normalizeServerName(name: string): string {
  return name.trim().toLowerCase().replace(/\.$/, '');
}

// A name we would ever ask a CA for and store as a cache file: lower-case
// LDH labels only (what public CAs issue for; no wildcards, no underscores),
// at least two of them (autocert refuses single-label names), and so none of
// the characters that could escape the cache directory.
export function isCertifiableName(name: string): boolean {
  if (name.length === 0 || name.length > 253 || !name.includes('.')) return false;
  return name.split('.').every((label) => /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/.test(label));
}
