/**
 * The Python unit tests (`test/**\/test_*.py`, stdlib unittest) as Jest tests: one Jest test per Python test, so they
 * count in the closing `N passed, N failed` line and a failing one fails `npm test`. Each directory holding
 * `test_*.py` files is discovered and run as `python3 -m unittest discover -s DIR -t DIR -p 'test_*.py'` would
 * (test/helpers/pyunit.py), in one python3 process per directory.
 */
import {execFile, execFileSync} from 'node:child_process';
import {mkdtempSync, readdirSync, readFileSync, rmSync} from 'node:fs';
import {tmpdir} from 'node:os';
import {dirname, join, relative} from 'node:path';
import {fileURLToPath} from 'node:url';
import {afterAll, beforeAll, describe, expect, test} from '@jest/globals';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const RUNNER = join(ROOT, 'test/helpers/pyunit.py');
const PYTHON = '/usr/bin/python3';
const RUN_TIMEOUT_MS = 300_000;

interface Outcome {
  outcome: 'passed' | 'failed' | 'skipped';
  message: string;
}

/** Every directory under test/ that holds a test_*.py file. */
function testDirs(dir: string): string[] {
  const entries = readdirSync(dir, {withFileTypes: true});
  const here = entries.some((e) => e.isFile() && /^test_.*\.py$/.test(e.name)) ? [dir] : [];
  const below = entries
    .filter((e) => e.isDirectory() && e.name !== '__pycache__' && e.name !== 'fixtures')
    .flatMap((e) => testDirs(join(dir, e.name)));
  return [...here, ...below];
}

const scratch = mkdtempSync(join(tmpdir(), 'kaiser-pyunit-'));
afterAll(() => rmSync(scratch, {recursive: true, force: true}));

for (const dir of testDirs(join(ROOT, 'test'))) {
  const ids = JSON.parse(execFileSync(PYTHON, [RUNNER, 'list', dir], {cwd: ROOT, encoding: 'utf8'})) as string[];
  describe(`python ${relative(ROOT, dir)}`, () => {
    let outcomes: Record<string, Outcome> = {};
    beforeAll(async () => {
      const out = join(scratch, `${relative(ROOT, dir).replace(/\//g, '_')}.json`);
      await new Promise<void>((resolve, reject) => {
        execFile(PYTHON, [RUNNER, 'run', dir, out], {cwd: ROOT, timeout: RUN_TIMEOUT_MS, maxBuffer: 64 << 20}, (error, _stdout, stderr) => {
          if (error) reject(new Error(`python unit tests in ${dir} did not complete: ${error.message}\n${stderr}`));
          else resolve();
        });
      });
      outcomes = JSON.parse(readFileSync(out, 'utf8')) as Record<string, Outcome>;
    }, RUN_TIMEOUT_MS + 5_000);

    if (ids.length === 0) test.todo(`no python tests found in ${relative(ROOT, dir)}`);
    else test.each(ids)('%s', (id) => {
      const result = outcomes[id];
      if (result?.outcome === 'failed') throw new Error(result.message);
      expect(result?.outcome === 'passed' || result?.outcome === 'skipped').toBe(true);
    });
  });
}
