// Answers for the CA's validation requests while an order is in flight.
// One store may be shared by several AcmeManagers (one per service), so the
// HTTP port can answer /.well-known/acme-challenge/<token> before routing.
//   HTTP-01:     GET /.well-known/acme-challenge/<token> -> key authorization
//   TLS-ALPN-01: handshake with SNI <domain> and ALPN acme-tls/1 -> a
//                self-signed certificate carrying the key authorization
import type tls from 'node:tls';
import { nodeTls } from './lazy-tls.ts';

export const ACME_TLS_ALPN_PROTOCOL = 'acme-tls/1';
export const ACME_CHALLENGE_PATH_PREFIX = '/.well-known/acme-challenge/';

// A change to the store, as data-plane workers replay it (their own store).
export type ChallengeUpdate =
  | { kind: 'http'; token: string; keyAuthorization: string | null }
  | { kind: 'alpn'; domain: string; keyPem: string; certPem: string }
  | { kind: 'alpn'; domain: string; keyPem: null; certPem: null };

export class ChallengeStore {
  readonly #http = new Map<string, string>(); // token -> key authorization
  readonly #alpn = new Map<string, tls.SecureContext>(); // domain -> challenge certificate
  readonly #alpnPems = new Map<string, { keyPem: string; certPem: string }>(); // for workers that start later
  readonly #watchers: ((u: ChallengeUpdate) => void)[] = [];

  httpResponse(token: string): string | null {
    return this.#http.get(token) ?? null;
  }

  alpnContext(domain: string): tls.SecureContext | null {
    return this.#alpn.get(domain) ?? null;
  }

  setHttp(token: string, keyAuthorization: string): void {
    this.#http.set(token, keyAuthorization);
    this.#tell({ kind: 'http', token, keyAuthorization });
  }

  deleteHttp(token: string): void {
    this.#http.delete(token);
    this.#tell({ kind: 'http', token, keyAuthorization: null });
  }

  setAlpn(domain: string, keyPem: string | Buffer, certPem: string | Buffer): void {
    this.#alpn.set(domain, nodeTls().createSecureContext({ key: keyPem, cert: certPem }));
    const pems = { keyPem: keyPem.toString(), certPem: certPem.toString() };
    this.#alpnPems.set(domain, pems);
    this.#tell({ kind: 'alpn', domain, ...pems });
  }

  deleteAlpn(domain: string): void {
    this.#alpn.delete(domain);
    this.#alpnPems.delete(domain);
    this.#tell({ kind: 'alpn', domain, keyPem: null, certPem: null });
  }

  apply(u: ChallengeUpdate): void {
    if (u.kind === 'http') {
      if (u.keyAuthorization === null) this.deleteHttp(u.token);
      else this.setHttp(u.token, u.keyAuthorization);
    } else if (u.keyPem === null) this.deleteAlpn(u.domain);
    else this.setAlpn(u.domain, u.keyPem, u.certPem);
  }

  // What the store holds now, as the changes that would rebuild it.
  held(): ChallengeUpdate[] {
    return [
      ...[...this.#http].map(([token, keyAuthorization]): ChallengeUpdate => ({ kind: 'http', token, keyAuthorization })),
      ...[...this.#alpnPems].map(([domain, pems]): ChallengeUpdate => ({ kind: 'alpn', domain, ...pems })),
    ];
  }

  // Every change from now on.
  watch(watcher: (u: ChallengeUpdate) => void): void {
    this.#watchers.push(watcher);
  }

  #tell(u: ChallengeUpdate): void {
    for (const w of this.#watchers) w(u);
  }
}

// The token of an HTTP-01 request path, or null when the path is not one.
export function acmeChallengeToken(urlPath: string): string | null {
  if (!urlPath.startsWith(ACME_CHALLENGE_PATH_PREFIX)) return null;
  const token = urlPath.slice(ACME_CHALLENGE_PATH_PREFIX.length).split('?')[0]!;
  // Tokens are base64url (RFC 8555 §8.3); anything else cannot be ours.
  return /^[A-Za-z0-9_-]+$/.test(token) ? token : null;
}
