/**
 * uWSGI's ini reading with includes, logic blocks, setters and the expansion passes, against a map of files (the
 * same behaviours are compared with real uWSGI in uwsgi-parity.int.test.ts), and the bounds of issue 14.
 */
import {readFileSync} from 'node:fs';
import {parseConfigFile, type ConfigFile} from '../../src/config/config-file.js';
import {memoryConfigFs, REAL_CONFIG_FS} from '../../src/config/config-fs.js';
import {CONFIG_LIMITS} from '../../src/config/config-limits.js';
import type {Diagnostic} from '../../src/config/diagnostic.js';
import {loadVassalSpec} from '../../src/config/vassal-spec.js';
import {HOST, NOW_MS, VASSAL_CTX} from './fixed-context.js';

const DIR = '/srv/vassals';

function read(files: Record<string, string>, top = 'app.ini', section?: string, env: Record<string, string> = {APP_ENV: 'prod'}): {ok: true; value: ConfigFile} | {ok: false; error: Diagnostic[]} {
  const all = Object.fromEntries(Object.entries(files).map(([name, text]) => [name.startsWith('/') ? name : `${DIR}/${name}`, text]));
  const text = all[`${DIR}/${top}`] ?? '';
  return parseConfigFile(top, text, {cwd: DIR, env, host: HOST, nowMs: NOW_MS, vassalsDir: DIR, fs: memoryConfigFs(all, [`${DIR}/static`]), ...(section === undefined ? {} : {section})});
}

function pairs(files: Record<string, string>, top?: string, section?: string): string[] {
  const result = read(files, top, section);
  if (!result.ok) throw new Error(JSON.stringify(result.error));
  return result.value.entries.map((e) => `${e.key}=${String(e.value)}`);
}

function failure(files: Record<string, string>, top?: string): Diagnostic {
  const result = read(files, top);
  if (result.ok) throw new Error('expected an error');
  const [first] = result.error;
  if (first === undefined) throw new Error('no diagnostic');
  return first;
}

describe('ini reading: includes', () => {
  it('splices an included file where it is named, so later lines override it', () => {
    const files = {'app.ini': '[uwsgi]\nprocesses = 1\nini = base.ini\nthreads = 8\n', 'base.ini': '[uwsgi]\nprocesses = 4\nthreads = 2\n'};
    expect(pairs(files)).toEqual(['processes=1', 'processes=4', 'threads=2', 'threads=8']);
  });

  it('reads file.ini:section and :section of the file read last', () => {
    const files = {'app.ini': '[uwsgi]\nini = base.ini:prod\nini = :extra\n', 'base.ini': '[uwsgi]\na = 1\n[prod]\nb = 2\n[extra]\nc = 3\n'};
    expect(pairs(files)).toEqual(['b=2', 'c=3']);
  });

  it('selects the section of the vassal file itself', () => {
    expect(pairs({'app.ini': '[uwsgi]\na = 1\n[staging]\nb = %x\n'}, 'app.ini', 'staging')).toEqual(['b=staging']);
  });

  it('applies inherit after everything else, unexpanded, as uWSGI does with templates', () => {
    const files = {'app.ini': '[uwsgi]\ninherit = tpl.ini\nname = app\nprocesses = 2\n', 'tpl.ini': '[uwsgi]\nprocesses = 8\nlabel = %n-%N-%(name)\n'};
    expect(pairs(files)).toEqual(['name=app', 'processes=2', 'processes=8', 'label=tpl-app-%(name)']);
  });

  it('warns when an included file lacks the section, as uWSGI does, and reads on', () => {
    const result = read({'app.ini': '[uwsgi]\nini = base.ini:nope\na = 1\n', 'base.ini': '[uwsgi]\n'});
    expect(result.ok && result.value.warnings.map((d) => [d.code, d.severity, d.file])).toEqual([['KAISER_CONFIG_NO_SECTION', 'warning', 'base.ini']]);
  });

  it('names a missing include: file, line, key and cause', () => {
    expect(failure({'app.ini': '[uwsgi]\n\nini = %dmissing.ini\n'})).toMatchObject({
      file: 'app.ini', line: 3, key: 'ini', code: 'KAISER_CONFIG_INCLUDE', message: 'cannot include "/srv/vassals/missing.ini": ENOENT: no such file or directory',
    });
  });

  it('refuses a file that includes itself at the depth limit, quickly', () => {
    expect(failure({'app.ini': '[uwsgi]\nini = app.ini\n'})).toMatchObject({code: 'KAISER_CONFIG_INCLUDE', message: expect.stringMatching(/deeper than 16/)});
  });

  it('refuses more than the included-files limit', () => {
    const many = Array.from({length: CONFIG_LIMITS.includedFiles + 1}, () => 'include = base.ini').join('\n');
    expect(failure({'app.ini': `[uwsgi]\n${many}\n`, 'base.ini': '[uwsgi]\na = 1\n'})).toMatchObject({code: 'KAISER_CONFIG_INCLUDE', message: expect.stringMatching(/more than 64 included files/)});
  });

  it('refuses including xml, yaml or json', () => {
    expect(failure({'app.ini': '[uwsgi]\ninclude = app.xml\n'})).toMatchObject({code: 'KAISER_CONFIG_INCLUDE', message: expect.stringMatching(/ini files only/)});
  });
});

describe('ini reading: logic blocks', () => {
  it('adds the lines of a true if-env block with %(_) as the value, and skips a false one', () => {
    const files = {'app.ini': '[uwsgi]\nif-env = APP_ENV\nmode = %(_)\nendif\nif-env = APP_ENV=dev\ndebug = 1\nendif\nif-not-env = NOPE\nx = %(_)\nendif\n'};
    expect(pairs(files)).toEqual(['mode=prod', 'x=%(_)']);
  });

  it('checks files and directories relative to the vassal directory', () => {
    const files = {'app.ini': '[uwsgi]\nif-exists = app.ini\na = %(_)\nendif\nif-dir = static\nb = %(_)\nendif\nif-file = static\nc = 1\nendif\nif-not-exists = nope\nd = %(_)\nendif\n'};
    expect(pairs(files)).toEqual(['a=app.ini', 'b=static', 'd=nope']);
  });

  it('repeats each line of a for block once per item, line by line as uWSGI reads them', () => {
    expect(pairs({'app.ini': '[uwsgi]\nfor = a b\nsocket = /run/%(_).sock\nenv = X_%(_)=1\nendfor\n'})).toEqual(['socket=/run/a.sock', 'socket=/run/b.sock', 'env=X_a=1', 'env=X_b=1']);
  });

  it('counts with for-times and reads lines with for-readline', () => {
    expect(pairs({'app.ini': '[uwsgi]\nfor-times = 2\nn = %(_)\nendfor\nfor-readline = list.txt\nl = %(_)\nendfor\n', 'list.txt': 'x\ny\n'})).toEqual(['n=1', 'n=2', 'l=x', 'l=y']);
  });

  it('refuses a block inside a block, as uWSGI does', () => {
    expect(failure({'app.ini': '[uwsgi]\nif-env = APP_ENV\nfor = a b\nx = 1\nendfor\nendif\n'})).toMatchObject({line: 3, key: 'for', code: 'KAISER_CONFIG_LOGIC'});
  });

  it('refuses a for-times count above the entries limit', () => {
    expect(failure({'app.ini': '[uwsgi]\nfor-times = 99999999\nx = %(_)\nendfor\n'})).toMatchObject({line: 2, code: 'KAISER_CONFIG_LOGIC'});
  });

  it('refuses a for block that produces more entries than the limit', () => {
    const items = Array.from({length: 101}, (_, i) => `i${i}`).join(' ');
    const body = Array.from({length: 100}, (_, i) => `k${i} = %(_)`).join('\n');
    expect(failure({'app.ini': `[uwsgi]\nfor = ${items}\n${body}\nendfor\n`})).toMatchObject({code: 'KAISER_CONFIG_EXPANSION', message: expect.stringMatching(/more than 10000 entries/)});
  });
});

describe('ini reading: setters and passes', () => {
  it('sets placeholders and options with set-ph / set, and expands them', () => {
    expect(pairs({'app.ini': '[uwsgi]\nset-ph = base=/opt/%n\nset = processes=2\nchdir = %(base)\nthreads = %(processes * 2)\n'})).toEqual(['processes=2', 'chdir=/opt/app', 'threads=4']);
  });

  it('refuses an option name as a placeholder, as uWSGI does', () => {
    expect(failure({'app.ini': '[uwsgi]\nset-ph = processes=2\n'})).toMatchObject({code: 'KAISER_CONFIG_BAD_VALUE', key: 'set-ph'});
  });

  it('reads @(file) without its trailing newline, and refuses URLs and exec://', () => {
    expect(pairs({'app.ini': '[uwsgi]\nenv = TOKEN=@(token.txt)\n', 'token.txt': 's3cret\n'})).toEqual(['env=TOKEN=s3cret']);
    expect(failure({'app.ini': '[uwsgi]\nenv = X=@(exec://id)\n'})).toMatchObject({code: 'KAISER_CONFIG_EXPANSION', key: 'env', message: expect.stringMatching(/plain files only/)});
    expect(failure({'app.ini': '[uwsgi]\nenv = X=@(nope.txt)\n'})).toMatchObject({code: 'KAISER_CONFIG_EXPANSION', message: expect.stringMatching(/ENOENT/)});
  });

  it('expands $(ENV) before %(name), so an environment value may hold a placeholder', () => {
    const result = read({'app.ini': '[uwsgi]\nname = app\nv = $(TPL)\n'}, 'app.ini', undefined, {TPL: 'x-%(name)'});
    expect(result.ok && result.value.entries.map((e) => e.value)).toEqual(['app', 'x-app']);
  });

  it('marks placeholders: keys looked up as %(name), in math too, and set-placeholder names', () => {
    const result = read({'app.ini': '[uwsgi]\nport = 80\nbase = 1\nset-ph = h=x\nhttp = :%(port base +)\nunused = 1\n'});
    expect(result.ok && [...result.value.placeholders].sort()).toEqual(['base', 'h', 'port']);
  });

  it('is strict when the file sets strict = true', () => {
    expect(read({'app.ini': '[uwsgi]\nstrict = true\n'}).ok && read({'app.ini': '[uwsgi]\nstrict = true\n'})).toMatchObject({value: {strict: true}});
    expect(read({'app.ini': '[uwsgi]\nstrict = false\n'})).toMatchObject({value: {strict: false}});
  });
});

describe('REAL_CONFIG_FS', () => {
  it('reads /proc files, which report size 0 (uWSGI: listen = @(/proc/sys/net/core/somaxconn))', () => {
    const read = REAL_CONFIG_FS.readFile('/proc/sys/net/core/somaxconn', CONFIG_LIMITS.atFileBytes);
    expect(read.ok && read.value.toString()).toMatch(/^\d+\n$/);
  });

  it('refuses what is not a regular file, and files over the limit', () => {
    expect(REAL_CONFIG_FS.readFile('/tmp', 100)).toEqual({ok: false, error: 'not a regular file'});
    expect(REAL_CONFIG_FS.readFile('/proc/self/status', 10)).toEqual({ok: false, error: 'larger than 10 bytes'});
  });
});

describe('issue 14: the placeholder bomb', () => {
  it('gives the ~800-byte %(…) chain a KAISER_CONFIG_EXPANSION error naming file, line, key and reason', () => {
    const text = readFileSync('test/fixtures/vassals/issue-14-placeholder-bomb.ini');
    const loaded = loadVassalSpec('bomb.ini', text, VASSAL_CTX);
    expect(loaded.ok).toBe(false);
    expect(!loaded.ok && loaded.error).toEqual([
      expect.objectContaining({file: 'bomb.ini', key: 'i', line: 13, code: 'KAISER_CONFIG_EXPANSION', severity: 'error', message: expect.stringMatching(/grows past 65536 bytes while expanding %\(h\)/)}),
    ]);
  });
});
