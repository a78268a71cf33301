// Service option checks, run by both the CLI and the server (as kamal-proxy
// does, in ServiceOptions.Validate), in its order and with its messages.
// Each error is prefixed `service options invalid: `, as Go's wrapped
// ErrServiceOptionsInvalid prints.
import { isAbsolute } from 'node:path';
import type { ServiceOptions, TargetOptions } from '../config/service-options.ts';

export class InvalidOptionsError extends Error {
  constructor(detail: string) {
    super(`service options invalid: ${detail}`);
  }
}

export function validateServiceOptions(raw: ServiceOptions): void {
  const fail = (detail: string) => {
    throw new InvalidOptionsError(detail);
  };
  // kamal-proxy checks a normalized copy, normalized its own way: no case
  // folding or dedup, so the hosts list in a message is what was given.
  const hosts = raw.hosts.length === 0 ? [''] : raw.hosts;
  const pathPrefixes = raw.pathPrefixes.length === 0 ? ['/'] : raw.pathPrefixes.map((p) => `/${trimSlashes(p)}`);
  const o = { ...raw, hosts, pathPrefixes };
  const configuredHosts = !o.hosts.includes('');

  if (o.tlsOnDemandUrl !== '' && !o.tlsEnabled) fail('TLS must be enabled to use a TLS on-demand URL');
  if (o.tlsEnabled) {
    if (o.tlsOnDemandUrl !== '') {
      if (configuredHosts) fail('cannot set hosts when using a TLS on-demand URL');
      if (o.tlsCertificatePath !== '' || o.tlsPrivateKeyPath !== '') fail('cannot use a custom TLS certificate with a TLS on-demand URL');
      if (o.canonicalHost !== '') fail('cannot set a canonical host when using a TLS on-demand URL');
      validateOnDemandUrl(o.tlsOnDemandUrl, fail);
    } else if (!configuredHosts) {
      fail('host must be set when using TLS');
    }
    if (!o.pathPrefixes.includes('/')) fail('TLS settings must be specified on the root path service');
  }
  if (o.canonicalHost !== '' && o.hosts[0] !== '' && !o.hosts.includes(o.canonicalHost)) {
    fail(`canonical-host '${o.canonicalHost}' must be present in the hosts list: [${o.hosts.join(' ')}]`);
  }
}

// Our own target options (kamal-proxy has none to check): set by a flag or a
// container label.
export function validateTargetOptions(o: TargetOptions): void {
  for (const root of o.xSendfileRoots) {
    if (!isAbsolute(root)) throw new Error(`x-sendfile-root must be an absolute path: ${root}`);
  }
}

// Not part of the option checks: kamal-proxy finds this while building the
// service's certificate manager, after the health wait, and says it plainly.
export function checkAutomaticTls(o: ServiceOptions): void {
  const custom = o.tlsCertificatePath !== '' && o.tlsPrivateKeyPath !== '';
  if (o.tlsEnabled && !custom && o.hosts.some((h) => h.includes('*'))) {
    throw new Error('automatic TLS does not support wildcards');
  }
}

function trimSlashes(p: string): string {
  let start = 0;
  let end = p.length;
  while (start < end && p[start] === '/') start++;
  while (end > start && p[end - 1] === '/') end--;
  return p.slice(start, end);
}

// As kamal-proxy's parseTLSOnDemandURL: a path on the service itself, or an
// absolute http(s) URL with a host (Go's url.ParseRequestURI; an opaque
// `http:x` parses, and then has no host).
function validateOnDemandUrl(url: string, fail: (d: string) => void): void {
  if (url.startsWith('//')) return fail('tls-on-demand-url must be a path or an absolute http(s) URL');
  if (url.startsWith('/')) return;
  const unparsable = (why: string) => fail(`unable to parse tls-on-demand-url: parse ${JSON.stringify(url)}: ${why}`);
  if (url.startsWith(':')) return unparsable('missing protocol scheme');
  const scheme = /^([A-Za-z][A-Za-z0-9+.-]*):/.exec(url)?.[1]?.toLowerCase();
  if (scheme === undefined) return unparsable('invalid URI for request');
  const rest = url.slice(scheme.length + 1);
  let host = '';
  if (rest.startsWith('//')) {
    try {
      host = new URL(`http:${rest}`).host;
    } catch {
      return unparsable('invalid URL');
    }
  }
  if (scheme !== 'http' && scheme !== 'https') return fail(`unsupported scheme ${JSON.stringify(scheme)} in tls-on-demand-url`);
  if (host === '') fail('missing host in tls-on-demand-url');
}
