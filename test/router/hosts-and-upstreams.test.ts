import {loadVassalSpec, type VassalSpec} from '../../src/config/vassal-spec.js';
import {checkDomain, normalizeHost, upstreamOf, upstreamOfAddress, type Upstream} from '../../src/router/hosts-and-upstreams.js';

const A: Upstream = {host: '127.0.0.1', port: 8001};
const B: Upstream = {host: '127.0.0.1', port: 8002};
const C: Upstream = {socketPath: '/run/c.sock'};

function spec(file: string, text: string): VassalSpec {
  const loaded = loadVassalSpec(file, `[uwsgi]\n${text}\n`, {vassalDir: '/srv/vassals', fileExists: () => false, nowMs: 0});
  if (!loaded.ok) throw new Error(JSON.stringify(loaded.error));
  return loaded.value;
}

describe('normalizeHost', () => {
  it('lower-cases a Host and strips its port and trailing dot', () => {
    for (const host of ['app1.example.test', 'APP1.example.TEST', 'app1.example.test:8080', 'app1.example.test.']) expect(normalizeHost(host)).toBe('app1.example.test');
  });

  it('strips the port from bracketed IPv6 hosts', () => {
    expect(normalizeHost('[::1]:8080')).toBe('::1');
    expect(normalizeHost('[::1]')).toBe('::1');
  });
});

describe('checkDomain', () => {
  it('takes host names and one-label wildcards, and refuses anything else', () => {
    expect(checkDomain('Shop.Example.Test')).toEqual({ok: true, value: 'shop.example.test'});
    expect(checkDomain('*.example.test')).toEqual({ok: true, value: '*.example.test'});
    for (const bad of ['not a host', '*', 'a.*.test', '']) expect(checkDomain(bad).ok).toBe(false);
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

  it('has no HTTP upstream for an app server with only a uwsgi socket (pools reach it over the uwsgi protocol)', () => {
    expect(upstreamOf(spec('a.ini', 'wsgi-file = a.py\nsocket = /run/a.sock')).ok).toBe(false);
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
