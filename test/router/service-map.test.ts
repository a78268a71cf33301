import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { normalizePathPrefixes, stripPathPrefix } from '../../src/http/paths.ts';
import { normalizeHosts } from '../../src/http/host.ts';
import { ServiceMap } from '../../src/router/service-map.ts';
import type { Routable } from '../../src/router/service-map.ts';

interface Svc extends Routable {
  readonly id: number;
}

let nextId = 0;
function svc(name: string, hosts: string[] = [], pathPrefixes: string[] = []): Svc {
  return { name, hosts: normalizeHosts(hosts), pathPrefixes: normalizePathPrefixes(pathPrefixes), id: nextId++ };
}

// Name of the service a request reaches, or null for a 404.
function route(map: ServiceMap<Svc>, host: string | undefined, path = '/'): string | null {
  return map.lookup(host as string, path)?.service.name ?? null;
}

describe('ServiceMap host lookup (service_map_test ServiceForHost)', () => {
  const map = new ServiceMap([
    svc('1', ['example.com']),
    svc('2', ['app.example.com']),
    svc('3', ['api.example.com']),
    svc('4', ['*.example.com']),
    svc('5'),
  ]);

  it('matches an exact host before the wildcard', () => {
    assert.equal(route(map, 'example.com'), '1');
    assert.equal(route(map, 'app.example.com'), '2');
    assert.equal(route(map, 'api.example.com'), '3');
  });

  it('matches a wildcard one label deep only', () => {
    assert.equal(route(map, 'anything.example.com'), '4');
    assert.equal(route(map, 'extra.level.example.com'), '5');
  });

  it('falls back to the catch-all for other hosts and for no host', () => {
    assert.equal(route(map, 'other.com'), '5');
    assert.equal(route(map, ''), '5');
    assert.equal(route(map, undefined), '5');
  });

  it('does not let a wildcard match its bare parent domain', () => {
    const m = new ServiceMap([svc('w', ['*.example.com'])]);
    assert.equal(route(m, 'a.example.com'), 'w');
    assert.equal(route(m, 'example.com'), null);
    assert.equal(route(m, '.example.com'), null);
  });

  it('gives null when nothing matches and there is no catch-all', () => {
    const m = new ServiceMap([svc('1', ['example.com'])]);
    assert.equal(route(m, 'app.example.com'), null);
    assert.equal(route(m, undefined), null);
    assert.equal(new ServiceMap<Svc>([]).lookup('example.com', '/'), null);
  });

  it('routes several hosts of one service and of different services', () => {
    const m = new ServiceMap([svc('a', ['one.com', 'two.com']), svc('b', ['three.com'])]);
    assert.equal(route(m, 'one.com'), 'a');
    assert.equal(route(m, 'two.com'), 'a');
    assert.equal(route(m, 'three.com'), 'b');
    assert.equal(route(m, 'four.com'), null);
  });

  it('lets a specific host win over a catch-all next to it', () => {
    const m = new ServiceMap([svc('catchall'), svc('specific', ['example.com'])]);
    assert.equal(route(m, 'example.com'), 'specific');
    assert.equal(route(m, 'other.com'), 'catchall');
  });
});

describe('ServiceMap request host normalisation', () => {
  const map = new ServiceMap([svc('site', ['example.com']), svc('v6', ['[::1]']), svc('any')]);

  it('strips the port', () => {
    assert.equal(route(map, 'example.com:80'), 'site');
    assert.equal(route(map, 'example.com:8080'), 'site');
    assert.equal(route(map, 'example.com:'), 'site');
  });

  it('strips IPv6 brackets and port', () => {
    assert.equal(route(map, '[::1]:80'), 'v6');
    assert.equal(route(map, '[::1]'), 'v6');
    assert.equal(route(map, '[::2]:80'), 'any');
  });

  it('compares hosts case-insensitively (kamal-proxy does not)', () => {
    assert.equal(route(map, 'EXAMPLE.com'), 'site');
    assert.equal(route(map, 'Example.Com:443'), 'site');
    const upper = new ServiceMap([svc('u', ['App.Example.COM']), svc('w', ['*.Wild.COM'])]);
    assert.equal(route(upper, 'app.example.com'), 'u');
    assert.equal(route(upper, 'X.WILD.com'), 'w');
  });

  it('ignores a trailing dot in the request host', () => {
    assert.equal(route(map, 'example.com.'), 'site');
    assert.equal(route(map, 'example.com.:8080'), 'site');
    const wild = new ServiceMap([svc('w', ['*.example.com'])]);
    assert.equal(route(wild, 'a.example.com.'), 'w');
  });

  it('does not treat a different host as a match after normalising', () => {
    assert.equal(route(map, 'example.co'), 'any');
    assert.equal(route(map, 'example.com.evil'), 'any');
  });
});

describe('ServiceMap path lookup (service_map_test ServiceForRequest)', () => {
  const map = new ServiceMap([
    svc('1', ['example.com']),
    svc('2', ['example.com'], ['/api']),
    svc('3', ['example.com'], ['/api/special']),
    svc('4', ['other.example.com'], ['/api']),
    svc('5', [], ['/api']),
    svc('6'),
  ]);

  it('picks the longest matching prefix', () => {
    assert.equal(route(map, 'example.com', '/'), '1');
    assert.equal(route(map, 'example.com', '/random'), '1');
    assert.equal(route(map, 'example.com', '/api'), '2');
    assert.equal(route(map, 'example.com', '/api/'), '2');
    assert.equal(route(map, 'example.com', '/api/other'), '2');
    assert.equal(route(map, 'example.com', '/api/special'), '3');
    assert.equal(route(map, 'example.com', '/api/special/x'), '3');
    assert.equal(route(map, 'example.com', '/api/specialist'), '2');
  });

  it('matches whole segments only: /apiary is not /api', () => {
    assert.equal(route(map, 'example.com', '/apiary'), '1');
    assert.equal(route(map, 'second.example.com', '/apiary'), '6');
  });

  it('routes prefixes on other hosts and on the catch-all', () => {
    assert.equal(route(map, 'other.example.com', '/api/test'), '4');
    assert.equal(route(map, 'second.example.com', '/api/test'), '5');
    assert.equal(route(map, 'second.example.com', '/non-api/test'), '6');
  });

  it('reports the matched prefix, "/" for the root', () => {
    assert.deepEqual(map.lookup('example.com', '/api/special/x'), { service: map.get('3'), prefix: '/api/special' });
    assert.equal(map.lookup('example.com', '/x')?.prefix, '/');
  });

  it('does not fall back to the wildcard or catch-all once a host matches', () => {
    const m = new ServiceMap([
      svc('first', ['example.com'], ['/first']),
      svc('second', ['example.com'], ['/second']),
      svc('wild', ['*.com']),
      svc('any'),
    ]);
    assert.equal(route(m, 'example.com', '/first'), 'first');
    assert.equal(route(m, 'example.com', '/second/x'), 'second');
    assert.equal(route(m, 'example.com', '/third'), null);
    assert.equal(route(m, 'example.com', '/'), null);
    assert.equal(route(m, 'other.com', '/third'), 'wild');

    const wildOnly = new ServiceMap([svc('w', ['*.example.com'], ['/app']), svc('any')]);
    assert.equal(route(wildOnly, 'a.example.com', '/app'), 'w');
    assert.equal(route(wildOnly, 'a.example.com', '/other'), null);
  });

  it('lets a host with its own prefix win over the catch-all prefix', () => {
    const m = new ServiceMap([svc('catchall'), svc('hosted', ['example.com'], ['/api'])]);
    assert.equal(route(m, 'example.com', '/api/x'), 'hosted');
    assert.equal(route(m, 'example.com', '/'), null);
    assert.equal(route(m, 'other.com', '/api/x'), 'catchall');
  });

  it('sends an unmatched sub-path to the root service of the host', () => {
    const m = new ServiceMap([svc('root', ['example.com']), svc('internal', ['example.com'], ['/api/internal'])]);
    assert.equal(route(m, 'example.com', '/api/internal/x'), 'internal');
    assert.equal(route(m, 'example.com', '/api/external/x'), 'root');
  });

  it('matches on the percent-decoded path', () => {
    assert.equal(route(map, 'example.com', '/%61pi/x'), '2');
    assert.equal(route(map, 'example.com', '/api%2Fspecial'), '3');
    // Not decodable: matched as is.
    assert.equal(route(map, 'example.com', '/api/%zz'), '2');
    assert.equal(route(map, 'example.com', '/%zzapi'), '1');
  });

  it('ignores a query string and treats an empty path as "/"', () => {
    assert.equal(route(map, 'example.com', '/api?x=1'), '2');
    assert.equal(route(map, 'example.com', '/apiary?x=/api'), '1');
    assert.equal(route(map, 'example.com', ''), '1');
  });

  it('is case-sensitive in the path', () => {
    assert.equal(route(map, 'example.com', '/API'), '1');
  });
});

describe('ServiceMap.conflictFor (service_map_test CheckAvailability)', () => {
  const map = new ServiceMap([
    svc('1', ['example.com']),
    svc('2', ['app.example.com']),
    svc('3', ['app.example.com'], ['/api']),
  ]);

  it('is free for the same service redeploying its own pairs', () => {
    assert.equal(map.conflictFor('2', ['app.example.com'], ['/']), null);
    assert.equal(map.conflictFor('3', ['app.example.com'], ['/api']), null);
  });

  it('is free for new hosts, the catch-all, and new prefixes', () => {
    assert.equal(map.conflictFor('4', ['api.example.com'], ['/']), null);
    assert.equal(map.conflictFor('4', [''], ['/']), null);
    assert.equal(map.conflictFor('4', [], []), null);
    assert.equal(map.conflictFor('4', ['app.example.com'], ['/app']), null);
  });

  it('names the owner of a taken (host, prefix) pair', () => {
    assert.equal(map.conflictFor('4', ['app.example.com'], ['/']), '2');
    assert.equal(map.conflictFor('4', ['app.example.com'], ['/api']), '3');
    assert.equal(map.conflictFor('4', ['new.example.com', 'example.com'], ['/']), '1');
    assert.equal(map.conflictFor('4', ['app.example.com'], ['/app', '/api']), '3');
  });

  it('normalises the hosts and prefixes it is asked about', () => {
    assert.equal(map.conflictFor('4', ['APP.example.com.'], ['api/']), '3');
    assert.equal(map.conflictFor('4', ['app.example.com'], ['']), '2');
  });

  it('treats the catch-all as a host of its own', () => {
    const m = new ServiceMap([svc('catchall')]);
    assert.equal(m.conflictFor('other', ['app.example.com'], ['/']), null);
    assert.equal(m.conflictFor('other', [''], ['/']), 'catchall');
    assert.equal(m.conflictFor('other', [], []), 'catchall');
    assert.equal(m.conflictFor('other', [], ['/api']), null);
    assert.equal(m.conflictFor('catchall', [], []), null);
  });

  it('keeps wildcard and exact hosts apart', () => {
    const m = new ServiceMap([svc('wild', ['*.example.com'])]);
    assert.equal(m.conflictFor('x', ['a.example.com'], ['/']), null);
    assert.equal(m.conflictFor('x', ['*.example.com'], ['/']), 'wild');
  });
});

describe('ServiceMap construction', () => {
  it('lets a later service of the same name replace an earlier one', () => {
    const m = new ServiceMap([svc('a', ['old.com']), svc('a', ['new.com'])]);
    assert.equal(route(m, 'old.com'), null);
    assert.equal(route(m, 'new.com'), 'a');
    assert.deepEqual(
      m.services().map((s) => s.hosts),
      [['new.com']],
    );
  });

  it('keeps a clashing pair with its first owner', () => {
    const m = new ServiceMap([svc('first', ['example.com']), svc('second', ['example.com'])]);
    assert.equal(route(m, 'example.com'), 'first');
    assert.equal(m.conflictFor('second', ['example.com'], ['/']), 'first');
  });

  it('normalises hosts and prefixes of the services it is given', () => {
    const raw: Svc = { name: 'raw', hosts: ['Example.COM.'], pathPrefixes: ['api/'], id: -1 };
    const m = new ServiceMap([raw]);
    assert.equal(route(m, 'example.com', '/api/x'), 'raw');
    assert.equal(m.lookup('example.com', '/api')?.prefix, '/api');
  });

  it('lists its services and finds them by name', () => {
    const a = svc('a', ['a.com']);
    const b = svc('b');
    const m = new ServiceMap([a, b]);
    assert.deepEqual(m.services(), [a, b]);
    assert.equal(m.get('b'), b);
    assert.equal(m.get('c'), undefined);
  });

  it('is not changed by mutating the list it returns', () => {
    const m = new ServiceMap([svc('a')]);
    m.services().pop();
    assert.equal(m.services().length, 1);
  });

  it('returns a match object that cannot be mutated', () => {
    const m = new ServiceMap([svc('a')]);
    const match = m.lookup('x', '/');
    assert.ok(match);
    assert.throws(() => {
      (match as { prefix: string }).prefix = '/hijack';
    }, TypeError);
  });
});

describe('normalizePathPrefixes', () => {
  it('defaults to the root', () => {
    assert.deepEqual(normalizePathPrefixes([]), ['/']);
    assert.deepEqual(normalizePathPrefixes(['']), ['/']);
    assert.deepEqual(normalizePathPrefixes(['/']), ['/']);
  });

  it('adds a leading slash and removes trailing and repeated ones', () => {
    assert.deepEqual(normalizePathPrefixes(['api/']), ['/api']);
    assert.deepEqual(normalizePathPrefixes(['/api']), ['/api']);
    assert.deepEqual(normalizePathPrefixes(['/a//b/']), ['/a/b']);
    assert.deepEqual(normalizePathPrefixes(['//']), ['/']);
  });

  it('dedupes and keeps order', () => {
    assert.deepEqual(normalizePathPrefixes(['/b', 'a', 'b/', '/a/']), ['/b', '/a']);
  });
});

describe('stripPathPrefix (router_test strip prefix)', () => {
  it('removes the prefix and keeps the rest', () => {
    assert.equal(stripPathPrefix('/app/show', '/app'), '/show');
    assert.equal(stripPathPrefix('/app/', '/app'), '/');
    assert.equal(stripPathPrefix('/api/internal/x', '/api/internal'), '/x');
  });

  it('leaves "/" when nothing is left', () => {
    assert.equal(stripPathPrefix('/app', '/app'), '/');
  });

  it('keeps the query byte for byte', () => {
    assert.equal(stripPathPrefix('/api/internal/x?a=b', '/api/internal'), '/x?a=b');
    assert.equal(stripPathPrefix('/app?p=a;b&%zz', '/app'), '/?p=a;b&%zz');
  });

  it('leaves the path alone for the root prefix', () => {
    assert.equal(stripPathPrefix('/app/show', '/'), '/app/show');
    assert.equal(stripPathPrefix('/x?a=b', '/'), '/x?a=b');
  });

  it('keeps the remainder percent-encoded as sent', () => {
    assert.equal(stripPathPrefix('/app/a%2Fb%20c', '/app'), '/a%2Fb%20c');
  });

  it('strips a prefix that the client percent-encoded', () => {
    assert.equal(stripPathPrefix('/%61pp/show', '/app'), '/show');
    assert.equal(stripPathPrefix('/%61pp', '/app'), '/');
    assert.equal(stripPathPrefix('/app%2Fshow', '/app'), '/show');
    assert.equal(stripPathPrefix('/api%2finternal/x?q', '/api/internal'), '/x?q');
  });

  it('does not strip a partial segment', () => {
    assert.equal(stripPathPrefix('/appointment', '/app'), '/appointment');
    assert.equal(stripPathPrefix('/other/app', '/app'), '/other/app');
  });

  it('agrees with lookup on what was matched', () => {
    const m = new ServiceMap([svc('app', [], ['/app']), svc('root')]);
    for (const [raw, upstream] of [
      ['/app/show', '/show'],
      ['/app', '/'],
      ['/%61pp/x%20y', '/x%20y'],
      ['/appointment', '/appointment'],
    ] as const) {
      const match = m.lookup('', raw);
      assert.ok(match);
      assert.equal(stripPathPrefix(raw, match.prefix), upstream, raw);
    }
  });
});
