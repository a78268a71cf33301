// acme-client, loaded the first time a certificate is ordered: it and its
// dependencies are heavy (bench/README.md, "Memory"), and most proxies never
// order (custom or cached certificates, or no TLS at all).
import { installAcmeTrust } from './acme-trust.ts';

type AcmeLib = typeof import('acme-client');

let lib: Promise<AcmeLib> | null = null;

export function acmeLib(): Promise<AcmeLib> {
  lib ??= import('acme-client').then((m) => {
    // Before anything can send a request through acme-client's axios.
    installAcmeTrust(m.axios);
    return m;
  });
  return lib;
}
