/**
 * Same input, same config: each case of test/fixtures/uwsgi-parity/ is read by real uWSGI (`uwsgi --ini main.ini
 * --show-config`, which prints every key it read with its final value, in order) and by kaiser's config reader,
 * and the two lists must be equal. Covers placeholders (order quirks, math, self reference), `$(ENV)`, `@(file)`,
 * magic variables per file, `ini =`/`include =`/`inherit =`, sections, logic blocks, setters and ini syntax.
 * Skipped where uWSGI is not installed (CI installs uwsgi-core).
 */
import {spawnSync} from 'node:child_process';
import {existsSync, readdirSync, readFileSync} from 'node:fs';
import {join, resolve} from 'node:path';
import {parseConfigFile} from '../../src/config/config-file.js';
import {currentHostFacts} from '../../src/config/magic-vars.js';

const CASES = resolve('test/fixtures/uwsgi-parity');
const UWSGI = ['/usr/bin/uwsgi-core', '/usr/bin/uwsgi'].find((path) => existsSync(path));
const ENV = {PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: '/home/parity', APP_ENV: 'prod'};
/** The selector each case is started with (`main.ini`, or `main.ini:prod`). */
const SELECTORS: Record<string, string> = {sections: 'main.ini:prod'};

/** uWSGI's view: the `key = value` lines of --show-config, without the command line's own `ini` and `show-config`. */
function uwsgiView(dir: string, selector: string): [string, string][] {
  const run = spawnSync(UWSGI ?? 'uwsgi', ['--ini', selector, '--show-config'], {cwd: dir, env: ENV, stdio: ['ignore', 'pipe', 'pipe'], timeout: 10_000, encoding: 'utf8'});
  const output = `${run.stdout}${run.stderr}`;
  const start = output.indexOf(';uWSGI instance configuration\n[uwsgi]\n');
  const end = output.indexOf(';end of configuration');
  if (start === -1 || end === -1) throw new Error(`uwsgi printed no configuration:\n${output}`);
  const lines = output.slice(start, end).split('\n').slice(2, -1);
  return lines
    .map((line): [string, string] => {
      const at = line.indexOf(' = ');
      return [line.slice(0, at), line.slice(at + 3)];
    })
    .filter(([key, value], index) => !(index === 0 && key === 'ini' && value === selector) && key !== 'show-config');
}

function kaiserView(dir: string, selector: string): [string, string][] {
  const [file, section] = selector.split(':') as [string, string | undefined];
  const parsed = parseConfigFile(file, readFileSync(join(dir, file)), {
    cwd: dir,
    env: ENV,
    host: currentHostFacts('kaiser'),
    nowMs: Date.now(),
    vassalsDir: dir,
    ...(section === undefined ? {} : {section}),
  });
  if (!parsed.ok) throw new Error(JSON.stringify(parsed.error));
  return (parsed.value.exported ?? []).map(({key, value}) => [key, value]);
}

const maybe = UWSGI === undefined ? describe.skip : describe;

maybe('uWSGI config parity (uwsgi --show-config)', () => {
  for (const name of readdirSync(CASES).sort()) {
    it(`reads ${name}/ as uWSGI 2.0 does`, () => {
      const dir = join(CASES, name);
      const selector = SELECTORS[name] ?? 'main.ini';
      expect(kaiserView(dir, selector)).toEqual(uwsgiView(dir, selector));
    });
  }
});
