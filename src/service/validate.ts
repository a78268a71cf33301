// Service option checks, run by both the CLI and the server (as kamal-proxy
// does), with kamal-proxy's messages. Each error is prefixed
// `service options invalid: `.
import type { ServiceOptions } from '../config/service-options.ts';

export class InvalidOptionsError extends Error {
  constructor(detail: string) {
    super(`service options invalid: ${detail}`);
  }
}

export function validateServiceOptions(o: ServiceOptions): void {
  const fail = (detail: string) => {
    throw new InvalidOptionsError(detail);
  };
  const hosts = o.hosts.filter((h) => h !== '');
  if (o.tlsOnDemandUrl !== '') {
    if (!o.tlsEnabled) fail('TLS must be enabled to use a TLS on-demand URL');
    if (hosts.length > 0) fail('cannot set hosts when using a TLS on-demand URL');
    if (o.tlsCertificatePath !== '') fail('cannot use custom TLS certificates with a TLS on-demand URL');
    if (o.canonicalHost !== '') fail('cannot set a canonical host when using a TLS on-demand URL');
    validateOnDemandUrl(o.tlsOnDemandUrl, fail);
  } else if (o.tlsEnabled) {
    if (o.hosts.length === 0 || o.hosts.some((h) => h === '')) fail('host must be set when using TLS');
    if (o.tlsCertificatePath === '' && o.hosts.some((h) => h.startsWith('*.'))) {
      fail('automatic TLS does not support wildcards');
    }
  }
  if (o.tlsEnabled && o.pathPrefixes.length > 0 && !o.pathPrefixes.some((p) => p === '/' || p === '')) {
    fail('TLS settings must be specified on the root path service');
  }
  if (o.canonicalHost !== '' && hosts.length > 0 && !hosts.includes(o.canonicalHost)) {
    fail(`canonical-host '${o.canonicalHost}' must be present in the hosts list: [${hosts.join(' ')}]`);
  }
}

function validateOnDemandUrl(url: string, fail: (d: string) => void): void {
  if (url.startsWith('/') && !url.startsWith('//')) return;
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    fail('invalid TLS on-demand URL');
    return;
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') fail(`unsupported scheme: ${parsed.protocol.slice(0, -1)}`);
  if (parsed.host === '') fail('TLS on-demand URL must have a host');
}
