/**
 * The ASGI server's Python unit tests (test/server/python/asgi/test_*.py, stdlib unittest) inside `npm test`: one
 * Jest test per Python test module, failing with unittest's report. (When the project-wide runner of Python unit
 * tests lands, it discovers this directory too and this file goes.)
 */
import {execFileSync, spawnSync} from 'node:child_process';
import {readdirSync} from 'node:fs';
import {dirname, join} from 'node:path';
import {fileURLToPath} from 'node:url';
import {describe, expect, test} from '@jest/globals';

const DIR = join(dirname(fileURLToPath(import.meta.url)), '../python/asgi');
const modules = readdirSync(DIR).filter((f) => /^test_.*\.py$/.test(f)).map((f) => f.slice(0, -3));

describe('ASGI server Python unit tests', () => {
  test('are there', () => {
    expect(modules.length).toBeGreaterThan(5);
    expect(execFileSync('/usr/bin/python3', ['-c', 'import sys; print(sys.version_info >= (3, 9))']).toString().trim()).toBe('True');
  });
  test.each(modules)('%s', (module) => {
    const run = spawnSync('/usr/bin/python3', ['-m', 'unittest', module], {cwd: DIR, encoding: 'utf8', timeout: 120_000});
    if (run.status !== 0) throw new Error(`python3 -m unittest ${module} failed:\n${run.stderr}`);
    expect(run.stderr).toMatch(/\nOK/);
  });
});
