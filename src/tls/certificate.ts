// A private key with its certificate chain, parsed once: the leaf's validity
// window drives renewal, and the secure context is what handshakes use.
import type * as Crypto from 'node:crypto';
import { createRequire } from 'node:module';
import type tls from 'node:tls';
import { nodeTls } from './lazy-tls.ts';

export interface Certificate {
  readonly keyPem: string;
  readonly chainPem: string; // leaf first, then intermediates
  readonly leaf: Crypto.X509Certificate;
  readonly notBefore: Date;
  readonly notAfter: Date;
  readonly context: tls.SecureContext;
}

// node:crypto loads with the first certificate parsed: a data-plane worker
// imports this module at start, and one with no TLS service never needs it.
let cryptoModule: typeof Crypto | null = null;
function crypto(): typeof Crypto {
  return (cryptoModule ??= createRequire(import.meta.url)('node:crypto') as typeof Crypto);
}

const PEM_BLOCK = /-----BEGIN ([A-Z0-9 ]+)-----[\s\S]+?-----END \1-----/g;

function pemBlocks(text: string): { type: string; pem: string }[] {
  return [...text.matchAll(PEM_BLOCK)].map((m) => ({ type: m[1]!, pem: m[0] + '\n' }));
}

// Throws when there is no certificate, the key is unreadable, or the key does
// not belong to the leaf.
export function parseCertificate(keyPem: string, chainPem: string): Certificate {
  const certs = pemBlocks(chainPem).filter((b) => b.type === 'CERTIFICATE');
  if (certs.length === 0) throw new Error('no certificate in PEM data');
  const chain = certs.map((b) => b.pem).join('');
  const { createPrivateKey, X509Certificate } = crypto();
  const key = createPrivateKey(keyPem);
  const leaf = new X509Certificate(certs[0]!.pem);
  if (!leaf.checkPrivateKey(key)) throw new Error('private key does not match the certificate');
  return {
    keyPem,
    chainPem: chain,
    leaf,
    notBefore: leaf.validFromDate,
    notAfter: leaf.validToDate,
    context: nodeTls().createSecureContext({ key: keyPem, cert: chain }),
  };
}

// autocert's cache file layout: the private key block, then the chain.
// Reading it back accepts any key block type Go or we might have written.
export function encodeBundle(cert: Certificate): string {
  return cert.keyPem + cert.chainPem;
}

export function decodeBundle(text: string): Certificate {
  const blocks = pemBlocks(text);
  const key = blocks.find((b) => b.type.endsWith('PRIVATE KEY'));
  if (!key) throw new Error('no private key in PEM data');
  return parseCertificate(key.pem, blocks.filter((b) => b.type === 'CERTIFICATE').map((b) => b.pem).join(''));
}

// Usable for `host` at `now`: the leaf names the host and is inside its
// validity window (what autocert's validCert checks, minus the chain build).
export function coversHost(cert: Certificate, host: string, now: Date): boolean {
  return cert.leaf.checkHost(host) !== undefined && now >= cert.notBefore && now < cert.notAfter;
}

// Renewal starts once `fraction` of the lifetime is left (1/3 of Let's
// Encrypt's 90 days is autocert's fixed 30 days; a fraction also suits
// shorter-lived certificates).
export function renewalDue(cert: Certificate, now: Date, fraction: number): boolean {
  const lifetime = cert.notAfter.getTime() - cert.notBefore.getTime();
  return now.getTime() >= cert.notAfter.getTime() - lifetime * fraction;
}
