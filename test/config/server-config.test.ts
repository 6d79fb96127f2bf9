import {OPTIONS} from '../../src/options.js';
import {checkServerOptions, choosePython, normalizeServerOptions} from '../../src/config/server-config.js';

describe('normalizeServerOptions', () => {
  const config = normalizeServerOptions(new Map<string, never>([['processes', 4 as never], ['socket', [':3031'] as never]]), {name: 'app.ini'});

  it('has every server option under its canonical name, and nothing of other scopes', () => {
    const serverNames = OPTIONS.filter((o) => (o.scopes as readonly string[]).includes('server')).map((o) => o.name);
    expect(Object.keys(config).filter((k) => !k.startsWith('_')).sort()).toEqual([...serverNames].sort());
    expect(config).not.toHaveProperty('exec');
    expect(config).not.toHaveProperty('stop-timeout');
  });

  it('fills defaults, null when none, [] for lists, {} for env, false for flags', () => {
    expect(config).toMatchObject({processes: 4, threads: 1, callable: 'application', 'wsgi-file': null, http: [], socket: [':3031'], env: {}, vacuum: false, 'need-app': true, _name: 'app.ini'});
  });

  it('adds _-prefixed extras', () => {
    expect(normalizeServerOptions(new Map(), {name: 'a', extras: {_node: '/usr/bin/node'}})._node).toBe('/usr/bin/node');
  });
});

describe('checkServerOptions', () => {
  it('wants exactly one app and at least one socket', () => {
    expect(checkServerOptions(new Map(), {file: 'a.ini'}).map((d) => d.code)).toEqual(['KAISER_CONFIG_NO_APP', 'KAISER_CONFIG_NO_SOCKET']);
    const two = new Map<string, string | string[]>([['wsgi-file', 'a.py'], ['node-app', 'a.mjs'], ['http', [':1']]]);
    expect(checkServerOptions(two, {file: 'a.ini'})).toEqual([expect.objectContaining({code: 'KAISER_CONFIG_CONFLICT', message: '"node-app" cannot be combined with "wsgi-file": an app server runs one app'})]);
  });
});

describe('choosePython', () => {
  const none = {baseDir: '/srv/vassals', fileExists: () => false};
  it('prefers the virtualenv, then python, then the emperor fallback, then the system python, then PATH', () => {
    expect(choosePython(new Map([['virtualenv', 'venv']]), none)).toBe('/srv/vassals/venv/bin/python3');
    expect(choosePython(new Map([['python', '/opt/py/bin/python3']]), none)).toBe('/opt/py/bin/python3');
    expect(choosePython(new Map(), {...none, fallback: '/x/python'})).toBe('/x/python');
    expect(choosePython(new Map(), {...none, fileExists: (p) => p === '/usr/bin/python3'})).toBe('/usr/bin/python3');
    expect(choosePython(new Map(), none)).toBe('python3');
  });
});
