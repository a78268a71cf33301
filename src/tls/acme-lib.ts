// acme-client, loaded the first time a certificate has to be ordered. It and
// its dependencies (axios, node-forge, @peculiar/x509, asn1js) cost about
// 7 MB of RSS and some start-up time, and most proxies never order: their
// certificates are custom, already cached, or they have no TLS at all.
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
