// The on-disk ACME cache, laid out like Go's autocert.DirCache as kamal-proxy
// uses it, so a kamal-napper started on kamal-proxy's data directory picks up
// the certificates and account it already has (and the other way round):
//   <cache path>/<sha256 hex of the ACME directory setting>/
//     acme_account+key   account private key, PEM
//     <domain>           certificate private key, PEM, then the chain
// (autocert's `<domain>+rsa` files, for clients without ECDSA, are not served,
// but count as a certificate the name already has: hasCertificate.)
// Files are 0600 in a 0700 directory and replaced atomically (temp + rename).
import { createHash, randomBytes } from 'node:crypto';
import { access, mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { isCertifiableName } from './cert-manager.ts';

export const LETS_ENCRYPT_PRODUCTION_URL = 'https://acme-v02.api.letsencrypt.org/directory';

const ACCOUNT_KEY_FILE = 'acme_account+key';

// kamal-proxy hashes its ACMEDirectory option: "" for Let's Encrypt
// production, the staging URL for --tls-staging. So do we, and the production
// URL spelled out (--tls-acme-directory, ours) counts as "": the same CA.
export function acmeCacheDir(cachePath: string, directoryUrl: string): string {
  const setting = directoryUrl === LETS_ENCRYPT_PRODUCTION_URL ? '' : directoryUrl;
  return path.join(cachePath, createHash('sha256').update(setting).digest('hex'));
}

export class AcmeCache {
  readonly dir: string;

  constructor(dir: string) {
    this.dir = dir;
  }

  async readCertificate(domain: string): Promise<string | null> {
    return this.#read(this.#domainFile(domain));
  }

  // Any certificate file for the name, ECDSA or RSA, valid or not: on-demand
  // TLS asks no URL about such a name again (kamal-proxy's rule).
  async hasCertificate(domain: string): Promise<boolean> {
    if (!isCertifiableName(domain)) return false;
    for (const name of [domain, `${domain}+rsa`]) {
      try {
        await access(path.join(this.dir, name));
        return true;
      } catch {
        // not there (or unreadable): try the next
      }
    }
    return false;
  }

  async writeCertificate(domain: string, pem: string): Promise<void> {
    return this.#write(this.#domainFile(domain), pem);
  }

  readAccountKey(): Promise<string | null> {
    return this.#read(ACCOUNT_KEY_FILE);
  }

  writeAccountKey(pem: string): Promise<void> {
    return this.#write(ACCOUNT_KEY_FILE, pem);
  }

  #domainFile(domain: string): string {
    // The name becomes a file name: never let one reach outside the directory.
    if (!isCertifiableName(domain)) throw new Error(`invalid domain for the certificate cache: ${domain}`);
    return domain;
  }

  async #read(name: string): Promise<string | null> {
    try {
      return await readFile(path.join(this.dir, name), 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw err;
    }
  }

  async #write(name: string, data: string): Promise<void> {
    await mkdir(this.dir, { recursive: true, mode: 0o700 });
    const target = path.join(this.dir, name);
    const temp = `${target}.${randomBytes(6).toString('hex')}.tmp`;
    try {
      await writeFile(temp, data, { mode: 0o600 });
      await rename(temp, target);
    } catch (err) {
      await rm(temp, { force: true });
      throw err;
    }
  }
}
