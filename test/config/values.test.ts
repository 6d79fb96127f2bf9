import {findOption, type OptionSpec} from '../../src/options.js';
import {coerceSignal, coerceValue, mergeValues, parseAddress} from '../../src/config/values.js';

function option(name: string): OptionSpec {
  const spec = findOption(name);
  if (spec === undefined) throw new Error(`no option ${name}`);
  return spec;
}

describe('coerceValue', () => {
  it('reads ints from strings and TOML integers, and refuses the rest with a reason', () => {
    expect(coerceValue(option('processes'), '4')).toEqual({ok: true, value: 4});
    expect(coerceValue(option('processes'), 4)).toEqual({ok: true, value: 4});
    expect(coerceValue(option('processes'), 'many')).toEqual({ok: false, error: 'expected a non-negative integer, got "many"'});
    expect(coerceValue(option('processes'), '1.5').ok).toBe(false);
    expect(coerceValue(option('processes'), -1).ok).toBe(false);
  });

  it('reads seconds as numbers', () => {
    expect(coerceValue(option('harakiri'), '2.5')).toEqual({ok: true, value: 2.5});
  });

  it('reads uWSGI flags: false, off, no and 0 are false; anything else is true', () => {
    for (const falsy of ['false', 'OFF', 'no', '0']) expect(coerceValue(option('master'), falsy)).toEqual({ok: true, value: false});
    for (const truthy of ['true', 'yes', '1', 'on', 'whatever']) expect(coerceValue(option('master'), truthy)).toEqual({ok: true, value: true});
    expect(coerceValue(option('master'), false)).toEqual({ok: true, value: false});
  });

  it('reads signals by name, short name or number', () => {
    expect(coerceValue(option('stop-signal'), 'SIGTERM')).toEqual({ok: true, value: 'SIGTERM'});
    expect(coerceValue(option('stop-signal'), 'int')).toEqual({ok: true, value: 'SIGINT'});
    expect(coerceValue(option('stop-signal'), '15')).toEqual({ok: true, value: 'SIGTERM'});
    expect(coerceSignal(9)).toEqual({ok: true, value: 'SIGKILL'});
    expect(coerceValue(option('stop-signal'), 'SIGFOO').ok).toBe(false);
  });

  it('runs a string command through /bin/sh -c and takes an array as the argv', () => {
    expect(coerceValue(option('exec'), 'node app.js > out')).toEqual({ok: true, value: ['/bin/sh', '-c', 'node app.js > out']});
    expect(coerceValue(option('exec'), ['node', 'app.js'])).toEqual({ok: true, value: ['node', 'app.js']});
    expect(coerceValue(option('exec'), []).ok).toBe(false);
    expect(coerceValue(option('exec'), ['node', 3]).ok).toBe(false);
  });

  it('reads env from a TOML table or from KEY=VALUE strings', () => {
    expect(coerceValue(option('env'), {A: '1', B: 2, C: true})).toEqual({ok: true, value: {A: '1', B: '2', C: 'true'}});
    expect(coerceValue(option('env'), 'A=x=y')).toEqual({ok: true, value: {A: 'x=y'}});
    expect(coerceValue(option('env'), ['A=1', 'B='])).toEqual({ok: true, value: {A: '1', B: ''}});
    expect(coerceValue(option('env'), 'NOEQUALS')).toEqual({ok: false, error: 'expected KEY=VALUE, got "NOEQUALS"'});
  });

  it('makes a multi option a list, from one value or a TOML array', () => {
    expect(coerceValue(option('socket'), ':3031')).toEqual({ok: true, value: [':3031']});
    expect(coerceValue(option('socket'), [':3031', '/run/a.sock'])).toEqual({ok: true, value: [':3031', '/run/a.sock']});
  });

  it('refuses a list for a single-value option', () => {
    expect(coerceValue(option('processes'), [1, 2])).toEqual({ok: false, error: 'expected a single value, not a list'});
  });

  it('checks addresses', () => {
    expect(coerceValue(option('http'), ':9090').ok).toBe(true);
    expect(coerceValue(option('http'), 'localhost:http').ok).toBe(false);
    expect(coerceValue(option('http'), 'a:b:c').ok).toBe(false);
  });
});

describe('mergeValues', () => {
  it('appends lists, merges env and lets the last single value win', () => {
    expect(mergeValues(option('socket'), ['a'], ['b'])).toEqual(['a', 'b']);
    expect(mergeValues(option('env'), {A: '1', B: '1'}, {B: '2'})).toEqual({A: '1', B: '2'});
    expect(mergeValues(option('processes'), 2, 4)).toBe(4);
  });
});

describe('parseAddress', () => {
  it('knows uWSGI address forms', () => {
    expect(parseAddress('127.0.0.1:9090')).toEqual({ok: true, value: {kind: 'tcp', host: '127.0.0.1', port: 9090}});
    expect(parseAddress(':9090')).toEqual({ok: true, value: {kind: 'tcp', host: '', port: 9090}});
    expect(parseAddress('[::1]:80')).toEqual({ok: true, value: {kind: 'tcp', host: '::1', port: 80}});
    expect(parseAddress('/run/app.sock')).toEqual({ok: true, value: {kind: 'unix', path: '/run/app.sock'}});
    expect(parseAddress('app.sock')).toEqual({ok: true, value: {kind: 'unix', path: 'app.sock'}});
    expect(parseAddress('@app')).toEqual({ok: true, value: {kind: 'abstract', name: 'app'}});
    expect(parseAddress(':99999').ok).toBe(false);
  });
});
