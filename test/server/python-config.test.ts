/**
 * The Python master's config defaults (src/server/python/config.py) against the option table (src/options.ts): every
 * `server` option the master applies (no `effect`) is there with the same default, any other key is a server option
 * with its default too, and the keys config.py coerces to lists, ints and seconds are exactly its options of those
 * types. A server option that becomes applied fails here until the Python side knows it.
 */
import {execFileSync} from 'node:child_process';
import {dirname, join} from 'node:path';
import {fileURLToPath} from 'node:url';
import {describe, expect, test} from '@jest/globals';
import {OPTIONS, type OptionSpec} from '../../src/options.js';
import {defaultValue} from '../../src/config/values.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '../..');
const PY_DIR = join(ROOT, 'src/server/python');

interface PythonConfig {
  defaults: Record<string, unknown>;
  lists: string[];
  ints: string[];
  seconds: string[];
}

function pythonConfig(): PythonConfig {
  const script = [
    'import json, sys',
    `sys.path.insert(0, ${JSON.stringify(PY_DIR)})`,
    'import _kaiser_bootstrap',
    'from _kaiser import config',
    'print(json.dumps({"defaults": config.DEFAULTS, "lists": list(config.LIST_KEYS), "ints": list(config.INT_KEYS),',
    '                  "seconds": list(config.SECONDS_KEYS)}))',
  ].join('\n');
  return JSON.parse(execFileSync('/usr/bin/python3', ['-c', script], {encoding: 'utf8'})) as PythonConfig;
}

const SERVER = (OPTIONS as readonly OptionSpec[]).filter((spec) => spec.scopes.includes('server'));

describe('config.py defaults', () => {
  const py = pythonConfig();
  const known = SERVER.filter((spec) => spec.name in py.defaults);
  const names = (filter: (spec: OptionSpec) => boolean) => known.filter(filter).map((spec) => spec.name).sort();

  test('cover every server option the master applies', () => {
    const applied = SERVER.filter((spec) => spec.effect === undefined).map((spec) => spec.name);
    expect(applied.filter((name) => !(name in py.defaults))).toEqual([]);
  });

  test('are server options, with the option table\'s defaults', () => {
    const expected = Object.fromEntries(known.map((spec) => [spec.name, defaultValue(spec) ?? null]));
    expect(py.defaults).toEqual(expected);
  });

  test('list keys are the multi options (env is an object)', () => {
    expect([...py.lists].sort()).toEqual(names((spec) => spec.multi === true && spec.type !== 'env'));
  });

  test('int keys are the int options, seconds keys the seconds options', () => {
    expect([...py.ints].sort()).toEqual(names((spec) => spec.type === 'int'));
    expect([...py.seconds].sort()).toEqual(names((spec) => spec.type === 'seconds'));
  });
});
