// A custom certificate (--tls-certificate-path / --tls-private-key-path),
// served for every server name routed to the service, like kamal-proxy's
// StaticCertManager. Files are read once, at deploy or state restore; they
// are not watched (redeploy to reload), as in kamal-proxy.
import { readFile } from 'node:fs/promises';
import type tls from 'node:tls';
import type { CertManager } from './cert-manager.ts';
import { parseCertificate, type Certificate } from './certificate.ts';

// kamal-proxy's ErrorUnableToLoadCertificate: every failure (missing file,
// bad PEM, key that is not the certificate's) reads the same to the client.
const UNABLE_TO_LOAD_CERTIFICATE = 'unable to load certificate';

export class StaticCertManager implements CertManager {
  readonly certificate: Certificate;

  constructor(certificate: Certificate) {
    this.certificate = certificate;
  }

  static async load(certificatePath: string, privateKeyPath: string): Promise<StaticCertManager> {
    try {
      const [chainPem, keyPem] = await Promise.all([readFile(certificatePath, 'utf8'), readFile(privateKeyPath, 'utf8')]);
      return new StaticCertManager(parseCertificate(keyPem, chainPem));
    } catch (err) {
      throw new Error(UNABLE_TO_LOAD_CERTIFICATE, { cause: err });
    }
  }

  // Unlike Go's tls package we do not refuse an expired or not-yet-valid
  // certificate: kamal-proxy does not either, and the client decides.
  getSecureContext(_serverName: string): Promise<tls.SecureContext> {
    return Promise.resolve(this.certificate.context);
  }

  loadedCertificate(_serverName: string): Certificate {
    return this.certificate;
  }
}
