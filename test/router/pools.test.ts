import {loadVassalSpec, type VassalSpec} from '../../src/config/vassal-spec.js';
import {buildRoutes} from '../../src/router/pools.js';
import type {Upstream} from '../../src/router/hosts-and-upstreams.js';

const A: Upstream = {host: '127.0.0.1', port: 8001};
const B: Upstream = {host: '127.0.0.1', port: 8002};

function spec(file: string, text: string): VassalSpec {
  const loaded = loadVassalSpec(file, `[uwsgi]\n${text}\n`, {vassalDir: '/srv/vassals', fileExists: () => false, nowMs: 0});
  if (!loaded.ok) throw new Error(JSON.stringify(loaded.error));
  return loaded.value;
}

describe('buildRoutes', () => {
  const vassal = (file: string, text: string, owner: number | undefined, state = 'ready') => ({spec: spec(file, text), owner, state});

  it('routes vassals with domains, skips those without, and reports unroutable ones and bad domains', () => {
    const built = buildRoutes([
      vassal('a.ini', 'wsgi-file = a.py\nhttp-socket = :8001\ndomain = app1.example.test\ndomain = not a host', 1000),
      vassal('b.ini', 'wsgi-file = b.py\nhttp-socket = :8002', 1000),
      vassal('c.ini', 'exec = ./serve\ndomain = c.example.test', 1000),
    ]);
    expect(built.pools.map((p) => [p.domain, p.members.map((m) => m.vassal)])).toEqual([['app1.example.test', ['a.ini']]]);
    expect(built.unroutable.map((u) => u.vassal)).toEqual(['c.ini']);
    expect(built.badDomains.map((d) => d.domain)).toEqual(['not a host']);
  });

  it('puts the vassals of one owner declaring the same domain in one pool, with their weights and states', () => {
    const built = buildRoutes([
      vassal('a.ini', 'wsgi-file = a.py\nhttp-socket = :8001\ndomain = shop.test\nrouter-weight = 3', 1000),
      vassal('b.ini', 'wsgi-file = b.py\nhttp-socket = :8002\ndomain = Shop.Test', 1000, 'starting'),
    ]);
    expect(built.pools).toHaveLength(1);
    expect(built.pools[0]?.members.map((m) => [m.vassal, m.upstream, m.weight, m.state])).toEqual([
      ['a.ini', A, 3, 'ready'],
      ['b.ini', B, 1, 'starting'],
    ]);
    expect(built.conflicts).toEqual([]);
  });

  it('refuses a domain to a second owner, whatever the file names, and keeps it with the first across builds', () => {
    // Issue 14: a tenant's a.toml used to take the domain from another tenant's z.toml by sorting first.
    const first = buildRoutes([vassal('z.ini', 'wsgi-file = z.py\nhttp-socket = :8001\ndomain = shop.test', 1000)]);
    const second = buildRoutes(
      [vassal('a.ini', 'wsgi-file = a.py\nhttp-socket = :8002\ndomain = shop.test', 2000), vassal('z.ini', 'wsgi-file = z.py\nhttp-socket = :8001\ndomain = shop.test', 1000)],
      first.claims,
    );
    expect(second.pools[0]?.members.map((m) => m.vassal)).toEqual(['z.ini']);
    expect(second.conflicts).toEqual([{domain: 'shop.test', vassal: 'a.ini', owner: 2000, heldBy: 'z.ini', holder: 1000}]);
    // Once the holder's vassal is gone, the domain goes to the next claimant.
    const third = buildRoutes([vassal('a.ini', 'wsgi-file = a.py\nhttp-socket = :8002\ndomain = shop.test', 2000)], second.claims);
    expect(third.pools[0]?.members.map((m) => m.vassal)).toEqual(['a.ini']);
  });

  it('gives a new domain claimed by two owners in one build to the first file name, whichever the emperor read first', () => {
    // The initial scan reads files concurrently: the order they arrive in differs from one start to the next.
    const z = vassal('z.ini', 'wsgi-file = z.py\nhttp-socket = :8001\ndomain = shop.test', 1000);
    const a = vassal('a.ini', 'wsgi-file = a.py\nhttp-socket = :8002\ndomain = shop.test', 2000);
    for (const order of [[z, a], [a, z]]) {
      const built = buildRoutes(order);
      expect(built.pools[0]?.members.map((m) => m.vassal)).toEqual(['a.ini']);
      expect(built.conflicts).toEqual([{domain: 'shop.test', vassal: 'z.ini', owner: 1000, heldBy: 'a.ini', holder: 2000}]);
    }
  });

  it('offers a vassal\'s uwsgi socket to the fastrouter, and to the HTTP fronts when it has no HTTP address', () => {
    const built = buildRoutes([
      vassal('u.ini', 'wsgi-file = u.py\nsocket = 127.0.0.1:8001\ndomain = u.test', 1000),
      vassal('h.ini', 'wsgi-file = h.py\nsocket = 127.0.0.1:8001\nhttp-socket = 127.0.0.1:8002\ndomain = h.test', 1000),
    ]);
    expect(built.pools[0]?.members.map((m) => [m.vassal, m.upstream, m.protocol])).toEqual([['u.ini', A, 'uwsgi']]);
    expect(built.pools[0]?.uwsgiMembers.map((m) => [m.vassal, m.upstream, m.protocol])).toEqual([['u.ini', A, 'uwsgi']]);
    expect(built.pools[1]?.members.map((m) => [m.vassal, m.upstream, m.protocol])).toEqual([['h.ini', B, 'http']]);
    expect(built.unroutable).toEqual([]);
  });

  it('marks a pool https-redirect when one of its vassals asks for it', () => {
    const built = buildRoutes([
      vassal('a.ini', 'wsgi-file = a.py\nhttp-socket = :8001\ndomain = shop.test\nhttps-redirect = true', 1000),
      vassal('b.ini', 'wsgi-file = b.py\nhttp-socket = :8002\ndomain = other.test', 1000),
    ]);
    expect(built.pools.map((p) => [p.domain, p.httpsRedirect === true])).toEqual([['shop.test', true], ['other.test', false]]);
  });
});
