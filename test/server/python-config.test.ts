/**
 * The Python master's config defaults (src/server/python/config.py) against the option table (src/options.ts): every
 * `server` option is there with the same default, nothing else is, and the keys config.py coerces to lists, ints and
 * seconds are exactly the options of those types. A new server option fails here until the Python side knows it.
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
const names = (filter: (spec: OptionSpec) => boolean) => SERVER.filter(filter).map((spec) => spec.name).sort();

describe('config.py defaults', () => {
  const py = pythonConfig();

  test('are the option table\'s defaults of every server option, and nothing else', () => {
    const expected = Object.fromEntries(SERVER.map((spec) => [spec.name, defaultValue(spec) ?? null]));
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
