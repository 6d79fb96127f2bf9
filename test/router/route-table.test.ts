import {loadVassalSpec, type VassalSpec} from '../../src/config/vassal-spec.js';
import {buildRouteTable, normalizeHost, RouteTable, upstreamOf, upstreamOfAddress, type Upstream} from '../../src/router/route-table.js';

const A: Upstream = {host: '127.0.0.1', port: 8001};
const B: Upstream = {host: '127.0.0.1', port: 8002};
const C: Upstream = {socketPath: '/run/c.sock'};

function spec(file: string, text: string): VassalSpec {
  const loaded = loadVassalSpec(file, `[uwsgi]\n${text}\n`, {vassalDir: '/srv/vassals', fileExists: () => false, nowMs: 0});
  if (!loaded.ok) throw new Error(JSON.stringify(loaded.error));
  return loaded.value;
}

describe('RouteTable', () => {
  const table = new RouteTable([
    {vassal: 'a.ini', domains: ['app1.example.test', 'WWW.App1.Example.Test'], upstream: A},
    {vassal: 'b.ini', domains: ['*.example.test'], upstream: B},
    {vassal: 'c.ini', domains: ['*.deep.example.test', 'deep.example.test'], upstream: C},
  ]);

  it('finds an exact name whatever its case, port or trailing dot', () => {
    for (const host of ['app1.example.test', 'APP1.example.TEST', 'app1.example.test:8080', 'app1.example.test.', 'www.app1.example.test']) {
      expect(table.lookup(host)).toEqual({vassal: 'a.ini', upstream: A});
    }
  });

  it('matches a wildcard at any depth but not its apex', () => {
    expect(table.lookup('x.example.test')?.vassal).toBe('b.ini');
    expect(table.lookup('x.y.example.test:80')?.vassal).toBe('b.ini');
    expect(table.lookup('example.test')).toBeUndefined();
  });

  it('prefers an exact name, then the longest wildcard', () => {
    expect(table.lookup('deep.example.test')?.vassal).toBe('c.ini');
    expect(table.lookup('x.deep.example.test')?.vassal).toBe('c.ini');
    expect(table.lookup('app1.example.test')?.vassal).toBe('a.ini');
  });

  it('answers undefined for an unknown host', () => {
    expect(table.lookup('other.test')).toBeUndefined();
    expect(new RouteTable().lookup('app1.example.test')).toBeUndefined();
  });

  it('gives a contested domain to the first vassal in name order and reports the other', () => {
    const contested = new RouteTable([
      {vassal: 'z.ini', domains: ['shop.test'], upstream: B},
      {vassal: 'm.ini', domains: ['Shop.test'], upstream: A},
    ]);
    expect(contested.lookup('shop.test')?.vassal).toBe('m.ini');
    expect(contested.conflicts).toEqual([{domain: 'shop.test', kept: 'm.ini', ignored: 'z.ini'}]);
  });

  it('skips and reports domains that are not host names', () => {
    const bad = new RouteTable([{vassal: 'a.ini', domains: ['ok.test', 'not a host', '*', 'a.*.test'], upstream: A}]);
    expect(bad.domains()).toEqual([{domain: 'ok.test', vassal: 'a.ini'}]);
    expect(bad.badDomains.map((d) => d.domain)).toEqual(['not a host', '*', 'a.*.test']);
  });

  it('lists its distinct upstreams', () => {
    expect([...table.upstreamKeys()].sort()).toEqual(['127.0.0.1:8001', '127.0.0.1:8002', 'unix:/run/c.sock']);
  });
});

describe('normalizeHost', () => {
  it('strips the port from bracketed IPv6 hosts', () => {
    expect(normalizeHost('[::1]:8080')).toBe('::1');
    expect(normalizeHost('[::1]')).toBe('::1');
  });
});

describe('upstreamOfAddress', () => {
  it('reaches wildcard binds on loopback', () => {
    expect(upstreamOfAddress(':8001', '/d')).toEqual({ok: true, value: {host: '127.0.0.1', port: 8001}});
    expect(upstreamOfAddress('0.0.0.0:8001', '/d')).toEqual({ok: true, value: {host: '127.0.0.1', port: 8001}});
    expect(upstreamOfAddress('[::]:8001', '/d')).toEqual({ok: true, value: {host: '::1', port: 8001}});
    expect(upstreamOfAddress('10.0.0.5:8001', '/d')).toEqual({ok: true, value: {host: '10.0.0.5', port: 8001}});
  });

  it('resolves socket paths against the vassal directory', () => {
    expect(upstreamOfAddress('/run/a.sock', '/d')).toEqual({ok: true, value: {socketPath: '/run/a.sock'}});
    expect(upstreamOfAddress('./a.sock', '/d')).toEqual({ok: true, value: {socketPath: '/d/a.sock'}});
    expect(upstreamOfAddress('unix:/run/b.sock', '/d')).toEqual({ok: true, value: {socketPath: '/run/b.sock'}});
    expect(upstreamOfAddress('@kaiser-a', '/d')).toEqual({ok: true, value: {socketPath: '\0kaiser-a'}});
  });

  it('refuses port 0, whose real port is known only to the vassal', () => {
    const result = upstreamOfAddress('127.0.0.1:0', '/d');
    expect(result.ok).toBe(false);
  });
});

describe('upstreamOf', () => {
  it('takes an app server\'s first http-socket, before any http', () => {
    expect(upstreamOf(spec('a.ini', 'wsgi-file = a.py\nhttp = :9000\nhttp-socket = :8001\nhttp-socket = :8002'))).toEqual({ok: true, value: A});
  });

  it('takes an app server\'s http address when it has no http-socket', () => {
    expect(upstreamOf(spec('a.ini', 'wsgi-file = a.py\nhttp = 127.0.0.1:8002'))).toEqual({ok: true, value: B});
  });

  it('says why an app server with only a uwsgi socket cannot be routed', () => {
    const result = upstreamOf(spec('a.ini', 'wsgi-file = a.py\nsocket = /run/a.sock'));
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.error).toMatch(/uwsgi-protocol socket.*http-socket/);
  });

  it('takes a command vassal\'s first socket', () => {
    expect(upstreamOf(spec('c.ini', 'exec = ./serve\nsocket = tcp://127.0.0.1:8001'))).toEqual({ok: true, value: A});
    expect(upstreamOf(spec('c.ini', 'exec = ./serve\nsocket = unix:/run/c.sock'))).toEqual({ok: true, value: C});
  });

  it('falls back to a command vassal\'s tcp or http ready probe', () => {
    expect(upstreamOf(spec('c.ini', 'exec = ./serve\nready = tcp://127.0.0.1:8002'))).toEqual({ok: true, value: B});
    expect(upstreamOf(spec('c.ini', 'exec = ./serve\nready = http://localhost:8001/health'))).toEqual({ok: true, value: {host: 'localhost', port: 8001}});
  });

  it('says why a command vassal without a socket or probe address cannot be routed', () => {
    const result = upstreamOf(spec('c.ini', 'exec = ./serve'));
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.error).toMatch(/no socket/);
  });
});

describe('buildRouteTable', () => {
  it('routes vassals with domains, skips those without, and reports unroutable ones', () => {
    const {table, unroutable} = buildRouteTable([
      {spec: spec('a.ini', 'wsgi-file = a.py\nhttp-socket = :8001'), domains: ['app1.example.test']},
      {spec: spec('b.ini', 'wsgi-file = b.py\nhttp-socket = :8002'), domains: []},
      {spec: spec('c.ini', 'exec = ./serve'), domains: ['c.example.test']},
    ]);
    expect(table.domains()).toEqual([{domain: 'app1.example.test', vassal: 'a.ini'}]);
    expect(unroutable.map((u) => u.vassal)).toEqual(['c.ini']);
  });
});
