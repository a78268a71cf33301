// The routing table: request host -> path prefix -> service.
//
// Mirrors kamal-proxy's ServiceMap (internal/server/service_map.go): exact
// host, then "*" + everything from the first dot (one label deep), then the
// catch-all host "". Once a host entry is found, a path that matches none of
// its prefixes is a miss: there is no fall-back to the wildcard or the
// catch-all. Prefixes match whole segments, longest first.
//
// Deliberate differences from kamal-proxy:
// - Hosts are case-insensitive and a trailing dot is ignored ("Example.COM."
//   is "example.com"); kamal-proxy compares them byte for byte.
// - Inner repeated slashes in a configured prefix are collapsed ("/a//b" is
//   "/a/b"); kamal-proxy only trims the outer ones.
// - IPv6 literals are keyed without brackets whether or not a port is given;
//   Go's SplitHostPort keeps the brackets of "[::1]" but not of "[::1]:80".
//
// The map is immutable: a deploy or remove builds a new one and swaps it in
// whole (style rule 10), so lookup needs no locking and never sees a half-
// built table. lookup() runs on every request, so it does no regex work and
// allocates nothing beyond lower-casing the host and, only when the path
// holds a '%', decoding it.

import { normalizePathPrefixes, prefixMatches, ROOT, safeDecode } from '../http/paths.ts';

export interface Routable {
  readonly name: string;
  readonly hosts: readonly string[];
  readonly pathPrefixes: readonly string[];
}

export interface RouteMatch<S> {
  readonly service: S;
  readonly prefix: string; // the matched prefix, "/" for root
}

const DOT = 46; // '.'
const OPEN_BRACKET = 91; // '['

export class ServiceMap<S extends Routable> {
  readonly #byName = new Map<string, S>();
  // Host (lower case, "" = catch-all) -> bindings sorted longest prefix first.
  // The binding objects double as the RouteMatch returned by lookup(), so a
  // hit allocates nothing.
  readonly #exact = new Map<string, RouteMatch<S>[]>();
  // Wildcard hosts keyed by what follows the "*": "*.example.com" is stored
  // under ".example.com", so lookup can use the request host's own suffix.
  readonly #wildcard = new Map<string, RouteMatch<S>[]>();
  // "host prefix" -> owning service, for conflict checks.
  readonly #owners = new Map<string, S>();

  constructor(services: Iterable<S>) {
    // Names are unique; a later entry replaces an earlier one, as a deploy
    // replaces the service of the same name.
    for (const service of services) this.#byName.set(service.name, service);

    for (const service of this.#byName.values()) {
      const prefixes = normalizePathPrefixes(service.pathPrefixes);
      for (const host of normalizeHosts(service.hosts)) {
        for (const prefix of prefixes) {
          const key = pairKey(host, prefix);
          // A pair already owned (only possible when the input bypassed
          // conflictFor, e.g. a hand-edited state file) stays with the first
          // owner, so routing is deterministic.
          if (this.#owners.has(key)) continue;
          this.#owners.set(key, service);
          this.#bindingsFor(host).push(Object.freeze({ service, prefix }));
        }
      }
    }

    for (const bindings of this.#exact.values()) sortLongestFirst(bindings);
    for (const bindings of this.#wildcard.values()) sortLongestFirst(bindings);
  }

  // host: the raw Host header (port, brackets, trailing dot and any case are
  // fine; undefined or "" reaches only the catch-all). path: the raw request
  // path without the query (a '?' and what follows is ignored if present).
  lookup(host: string | undefined, path: string): RouteMatch<S> | null {
    const bindings = this.#bindingsForRequestHost(requestHostKey(host));
    if (bindings === undefined) return null;

    const decoded = matchablePath(path);
    for (const binding of bindings) {
      if (prefixMatches(decoded, binding.prefix)) return binding;
    }
    // The host has an entry but no prefix fits: a 404, never a fall-back to
    // the wildcard or the catch-all (kamal-proxy does the same).
    return null;
  }

  // null when every (host, prefix) pair is free or already owned by `name`
  // (redeploying a service with its own pairs is fine); otherwise the name of
  // a service that owns one of them. A catch-all ("") pair only conflicts
  // with another catch-all pair, never with a specific host.
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

// Lower-case, trim, drop one trailing dot and IPv6 brackets, dedupe;
// no hosts means the catch-all [""].
export function normalizeHosts(hosts: readonly string[]): string[] {
  const result: string[] = [];
  for (const raw of hosts) {
    const host = configuredHostKey(raw);
    if (!result.includes(host)) result.push(host);
  }
  return result.length === 0 ? [''] : result;
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

function configuredHostKey(raw: string): string {
  let host = raw.trim().toLowerCase();
  if (host.length > 2 && host.charCodeAt(0) === OPEN_BRACKET && host.endsWith(']')) {
    host = host.slice(1, -1);
  }
  return dropTrailingDot(host);
}

// The Host header reduced to a table key: no port, no IPv6 brackets, no
// trailing dot, lower case.
function requestHostKey(raw: string | undefined): string {
  if (!raw) return '';
  let host = raw;
  if (host.charCodeAt(0) === OPEN_BRACKET) {
    // "[::1]:80" or "[::1]": keep what is inside the brackets.
    const end = host.indexOf(']');
    if (end > 0) host = host.slice(1, end);
  } else {
    // Exactly one colon means host:port. More than one is a bare IPv6
    // address (not valid in Host, but leave it alone as Go does).
    const colon = host.indexOf(':');
    if (colon >= 0 && host.indexOf(':', colon + 1) < 0) host = host.slice(0, colon);
  }
  return dropTrailingDot(host).toLowerCase();
}

function dropTrailingDot(host: string): string {
  return host.length > 1 && host.charCodeAt(host.length - 1) === DOT ? host.slice(0, -1) : host;
}

// kamal-proxy matches on Go's decoded URL.Path. decodeURIComponent is only
// called when there is something to decode; when it fails (a bad escape, or
// bytes that are not UTF-8, which Go would still decode) we match on the raw
// path instead of rejecting the request here.
function matchablePath(path: string): string {
  let p = path;
  const q = p.indexOf('?');
  if (q >= 0) p = p.slice(0, q);
  if (p.indexOf('%') >= 0) p = safeDecode(p) ?? p;
  return p === '' ? ROOT : p;
}

