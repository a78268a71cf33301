// The routing table: request host -> path prefix -> service, as kamal-proxy's
// ServiceMap: exact host, then "*" + everything from the first dot (one label
// deep), then the catch-all host "". A host entry whose prefixes all miss is
// a 404, never a fall-back. Prefixes match whole segments, longest first.
//
// Differences from kamal-proxy, on purpose: hosts are keyed as http/host.ts
// says (case, trailing dot, IPv6 brackets with or without a port); inner
// repeated slashes in a configured prefix collapse ("/a//b" is "/a/b").
//
// Immutable: a deploy or remove builds a new map and swaps it in whole.
// lookup() runs on every request: no regex, no allocation but the host key
// and, when the path holds a '%', its decoding.

import { normalizeHosts, requestHostKey } from '../http/host.ts';
import { normalizePathPrefixes, prefixMatches, ROOT, safeDecode } from '../http/paths.ts';

// router.ts still imports it from here.

export interface Routable {
  readonly name: string;
  readonly hosts: readonly string[];
  readonly pathPrefixes: readonly string[];
}

export interface RouteMatch<S> {
  readonly service: S;
  readonly prefix: string; // the matched prefix, "/" for root
}

export class ServiceMap<S extends Routable> {
  readonly #byName = new Map<string, S>();
  // Host key ("" = catch-all) -> bindings, longest prefix first; a binding is
  // the RouteMatch lookup() returns.
  readonly #exact = new Map<string, RouteMatch<S>[]>();
  // Wildcard hosts keyed by what follows the "*": "*.example.com" is stored
  // under ".example.com", so lookup can use the request host's own suffix.
  readonly #wildcard = new Map<string, RouteMatch<S>[]>();
  // "host prefix" -> owning service, for conflict checks.
  readonly #owners = new Map<string, S>();

  constructor(services: Iterable<S>) {
    // A later entry replaces an earlier one of the same name, as a deploy does.
    for (const service of services) this.#byName.set(service.name, service);

    for (const service of this.#byName.values()) {
      const prefixes = normalizePathPrefixes(service.pathPrefixes);
      for (const host of normalizeHosts(service.hosts)) {
        for (const prefix of prefixes) {
          const key = pairKey(host, prefix);
          // A pair owned twice (a hand-edited state file) stays with the first.
          if (this.#owners.has(key)) continue;
          this.#owners.set(key, service);
          this.#bindingsFor(host).push(Object.freeze({ service, prefix }));
        }
      }
    }

    for (const bindings of this.#exact.values()) sortLongestFirst(bindings);
    for (const bindings of this.#wildcard.values()) sortLongestFirst(bindings);
  }

  // host: the raw Host header (undefined or "" reaches only the catch-all);
  // path: the raw request path (a query is ignored).
  lookup(host: string | undefined, path: string): RouteMatch<S> | null {
    const bindings = this.#bindingsForRequestHost(requestHostKey(host));
    if (bindings === undefined) return null;

    const decoded = matchablePath(path);
    for (const binding of bindings) {
      if (prefixMatches(decoded, binding.prefix)) return binding;
    }
    return null;
  }

  // The name of another service owning one of these (host, prefix) pairs, or
  // null. A catch-all ("") pair conflicts only with another catch-all pair.
  conflictFor(name: string, hosts: readonly string[], pathPrefixes: readonly string[]): string | null {
    const prefixes = normalizePathPrefixes(pathPrefixes);
    for (const host of normalizeHosts(hosts)) {
      for (const prefix of prefixes) {
        const owner = this.#owners.get(pairKey(host, prefix));
        if (owner !== undefined && owner.name !== name) return owner.name;
      }
    }
    return null;
  }

  services(): S[] {
    return [...this.#byName.values()];
  }

  get(name: string): S | undefined {
    return this.#byName.get(name);
  }

  #bindingsFor(host: string): RouteMatch<S>[] {
    const wildcard = host.startsWith('*.');
    const table = wildcard ? this.#wildcard : this.#exact;
    const key = wildcard ? host.slice(1) : host;
    let bindings = table.get(key);
    if (bindings === undefined) {
      bindings = [];
      table.set(key, bindings);
    }
    return bindings;
  }

  #bindingsForRequestHost(host: string): readonly RouteMatch<S>[] | undefined {
    const exact = this.#exact.get(host);
    if (exact !== undefined) return exact;

    // One label deep only: "a.example.com" tries ".example.com", while
    // "a.b.example.com" tries ".b.example.com" and so misses "*.example.com".
    // A leading dot (dot === 0) has no label to replace, as in kamal-proxy.
    if (this.#wildcard.size > 0) {
      const dot = host.indexOf('.');
      if (dot > 0) {
        const wildcard = this.#wildcard.get(host.slice(dot));
        if (wildcard !== undefined) return wildcard;
      }
    }

    return this.#exact.get('');
  }
}

// Private

function pairKey(host: string, prefix: string): string {
  // A space can appear in neither a normalised host nor a prefix that came
  // from a URL path, so it cannot make two different pairs collide.
  return host + ' ' + prefix;
}

function sortLongestFirst<S>(bindings: RouteMatch<S>[]): void {
  bindings.sort((a, b) => b.prefix.length - a.prefix.length);
}

// kamal-proxy matches on Go's decoded URL.Path. Where decoding fails (a bad
// escape, or bytes that are not UTF-8, which Go would still decode) we match
// on the raw path rather than reject the request here.
function matchablePath(path: string): string {
  let p = path;
  const q = p.indexOf('?');
  if (q >= 0) p = p.slice(0, q);
  if (p.indexOf('%') >= 0) p = safeDecode(p) ?? p;
  return p === '' ? ROOT : p;
}

