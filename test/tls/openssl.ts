// Throwaway certificates made with the openssl CLI, for tests that need a
// plain PEM pair (custom certificates, "real" certificates next to a
// challenge one). ECDSA P-256; the key is written as SEC1 ("EC PRIVATE KEY").
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { scratchDir } from '../helpers/scratch-dir.ts';

export interface TestCert {
  keyPem: string;
  certPem: string;
  keyPath: string;
  certPath: string;
}

export interface TestCa extends TestCert {
  /** A leaf signed by this CA for `names`. */
  issue(names: string[]): TestCert;
}

export function tempDir(): string {
  return scratchDir('tls-test-');
}

function openssl(dir: string, args: string[]): void {
  execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
}

function read(dir: string, name: string): TestCert {
  const keyPath = path.join(dir, `${name}.key`);
  const certPath = path.join(dir, `${name}.pem`);
  // openssl 3 writes PKCS#8; convert to SEC1 as a typical Go/certbot key file.
  openssl(dir, ['ec', '-in', keyPath, '-out', keyPath]);
  return { keyPem: fs.readFileSync(keyPath, 'utf8'), certPem: fs.readFileSync(certPath, 'utf8'), keyPath, certPath };
}

const EC = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];

export function selfSigned(dir: string, name: string, names: string[]): TestCert {
  const san = `subjectAltName=${names.map((n) => `DNS:${n}`).join(',')}`;
  openssl(dir, ['req', '-x509', ...EC, '-keyout', `${name}.key`, '-out', `${name}.pem`, '-days', '2', '-subj', `/CN=${names[0]}`, '-addext', san]);
  return read(dir, name);
}

export function testCa(dir: string, name: string): TestCa {
  openssl(dir, ['req', '-x509', ...EC, '-keyout', `${name}.key`, '-out', `${name}.pem`, '-days', '2', '-subj', `/CN=${name}`]);
  const ca = read(dir, name);
  let n = 0;
  return {
    ...ca,
    issue(names) {
      const leaf = `${name}-leaf-${++n}`;
      openssl(dir, ['req', ...EC, '-keyout', `${leaf}.key`, '-out', `${leaf}.csr`, '-subj', `/CN=${names[0]}`]);
      fs.writeFileSync(path.join(dir, `${leaf}.ext`), `subjectAltName=${names.map((h) => `DNS:${h}`).join(',')}\n`);
      openssl(dir, ['x509', '-req', '-in', `${leaf}.csr`, '-CA', ca.certPath, '-CAkey', ca.keyPath, '-CAcreateserial',
        '-out', `${leaf}.pem`, '-days', '2', '-extfile', `${leaf}.ext`]);
      return read(dir, leaf);
    },
  };
}
