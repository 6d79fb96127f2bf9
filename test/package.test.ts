/**
 * What `npm install -g kaiser` gets: the files `npm pack` ships (LICENSE, the docs, the man page; no source maps
 * pointing at sources it does not ship), and a man page generated from the option table that `man kaiser` finds
 * after a global install. Needs the build (`npm test` runs it first).
 */
import {afterEach, describe, expect, it} from '@jest/globals';
import {spawnSync} from 'node:child_process';
import {existsSync, readFileSync} from 'node:fs';
import {join} from 'node:path';
import {OPTIONS} from '../src/options.js';
import {manPage} from '../src/man-page.js';
import {ROOT, cleanupProcesses, tempDir} from './helpers/processes.js';

afterEach(cleanupProcesses);

const GROFF = ['/usr/bin/groff'].find((path) => existsSync(path));
const MAN = ['/usr/bin/man'].find((path) => existsSync(path));

/** The paths `npm pack` would put in the tarball. */
function packedFiles(): string[] {
  const result = spawnSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], {cwd: ROOT, encoding: 'utf8', timeout: 120_000});
  expect(result.status).toBe(0);
  return (JSON.parse(result.stdout) as {files: {path: string}[]}[])[0]!.files.map((file) => file.path);
}

describe('the npm package', () => {
  it('ships LICENSE, README, CHANGELOG, the docs, the man page, the units, and no source maps', () => {
    const files = packedFiles();
    for (const needed of ['LICENSE', 'README.md', 'CHANGELOG.md', 'docs/errors.md', 'docs/runtime-protocol.md', 'man/kaiser.1', 'systemd/kaiser.service', 'bin/kaiser.js', 'dist/cli.js']) {
      expect(files).toContain(needed);
    }
    expect(files.filter((file) => file.endsWith('.map'))).toEqual([]);
    expect(files.filter((file) => file.startsWith('src/') || file.startsWith('test/'))).toEqual([]);
    // A .js that names a source map would point at something the package does not have.
    const mapped = files.filter((file) => file.endsWith('.js') && readFileSync(join(ROOT, file), 'utf8').includes('sourceMappingURL'));
    expect(mapped).toEqual([]);
  });

  // Issue 17: a master or worker compiling its modules from source keeps ~0.6-1.1 MB more private memory, and
  // vassals can seldom write __pycache__ themselves (other users, PYTHONDONTWRITEBYTECODE); docstrings cost 0.15 MB.
  it('ships the Python server byte-compiled, in .pyc files that npm resetting mtimes does not invalidate', () => {
    const files = packedFiles();
    const modules = files.filter((file) => file.startsWith('dist/server/python/') && file.endsWith('.py'));
    expect(modules).toContain('dist/server/python/master.py');
    expect(modules).toContain('dist/server/python/start_master.py');
    for (const module of modules) {
      const dir = module.slice(0, module.lastIndexOf('/'));
      const name = module.slice(dir.length + 1, -'.py'.length);
      const pyc = files.find((file) => file.startsWith(`${dir}/__pycache__/${name}.cpython-`) && file.endsWith('.pyc'));
      expect([module, pyc !== undefined]).toEqual([module, true]);
      // PEP 552 flags (bytes 4-7): 3 = hash-based and checked against the source, not its mtime
      expect([pyc, readFileSync(join(ROOT, pyc!)).readUInt32LE(4)]).toEqual([pyc, 3]);
    }
    // compiled without docstrings (0.15 MB of a 1-worker FastAPI vassal): master.py's does not reach its .pyc
    expect(readFileSync(join(ROOT, 'src/server/python/master.py'), 'utf8')).toContain('kaiser app-server master: start-up');
    const masterPyc = files.find((file) => file.startsWith('dist/server/python/__pycache__/master.cpython-'));
    expect(readFileSync(join(ROOT, masterPyc!), 'latin1')).not.toContain('kaiser app-server master: start-up');
  });

  it('says MIT in package.json and in LICENSE', () => {
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {license: string; man: string[]};
    expect(pkg.license).toBe('MIT');
    expect(readFileSync(join(ROOT, 'LICENSE'), 'utf8')).toMatch(/^MIT License/);
    expect(pkg.man).toEqual(['./man/kaiser.1']);
  });
});

describe('the man page', () => {
  const page = manPage('1.2.3');

  it('is the one the build wrote, plain ASCII, with every option and command', () => {
    expect(readFileSync(join(ROOT, 'man/kaiser.1'), 'utf8')).toBe(manPage((JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {version: string}).version));
    expect(page).toMatch(/^[\t\n\x20-\x7e]*$/);
    for (const option of OPTIONS) expect(page).toContain(option.name.replace(/-/g, '\\-'));
    for (const command of ['install\\-service', 'reload', 'restart', 'logs', 'fleet']) expect(page).toContain(`.B ${command}`);
    expect(page).toContain('KAISER_CONTROL_UNKNOWN_VASSAL');
  });

  // Skipped (and named so) where groff or man is missing; .ci/run installs groff-base and man-db.
  (GROFF ? it : it.skip)(`renders without a warning${GROFF ? '' : ' (SKIPPED: needs groff, Debian package groff-base)'}`, () => {
    const result = spawnSync(GROFF!, ['-man', '-Tutf8', '-ww', '-z'], {input: page, encoding: 'utf8'});
    expect(result.status).toBe(0);
    expect(result.stderr).toBe('');
  });

  (MAN ? it : it.skip)(`is what \`man kaiser\` shows after npm install -g${MAN ? '' : ' (SKIPPED: needs man, Debian package man-db)'}`, () => {
    const prefix = tempDir();
    // A global install of this checkout (a link to it, so nothing is downloaded), into a prefix of its own.
    const install = spawnSync('npm', ['install', '-g', '--prefix', prefix, '--offline', '--ignore-scripts', '--no-audit', '--no-fund', ROOT], {encoding: 'utf8', timeout: 120_000});
    expect(install.status).toBe(0);
    const env = {...process.env, MANPATH: join(prefix, 'share/man'), MANPAGER: 'cat', PAGER: 'cat', MANWIDTH: '80'};
    const shown = spawnSync(MAN!, ['kaiser'], {encoding: 'utf8', env});
    expect(shown.status).toBe(0);
    expect(shown.stdout).toContain('KAISER(1)');
    expect(shown.stdout).toContain('--emperor');
  });
});
