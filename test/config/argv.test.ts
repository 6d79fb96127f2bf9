import {readFileSync} from 'node:fs';
import {parseCommandLine, type CommandLineContext} from '../../src/config/argv.js';
import {formatDiagnostic} from '../../src/config/diagnostic.js';
import {err, ok} from '../../src/result.js';
import {HOST, NOW_MS} from './fixed-context.js';

const files: Record<string, string> = {
  '/work/app/hitme.ini': readFileSync('test/fixtures/configs/hitme.ini', 'utf8'),
  '/work/app/stage.ini': '[uwsgi]\nhttp = :1\nmodule = app\n[staging]\nhttp = :2\nmodule = app\nprocesses = 3\n',
  '/work/app/emperor.toml': 'emperor = ["/etc/vassals"]\nemperor-freq = 5\n',
  '/work/app/with-vassal-keys.ini': '[uwsgi]\nhttp = :1\nmodule = app\nstop-timeout = 3\n',
};
const ctx: CommandLineContext = {
  cwd: '/work/app',
  env: {},
  host: HOST,
  nowMs: NOW_MS,
  fileExists: () => false,
  readFile: (path) => (path in files ? ok(files[path]!) : err(`ENOENT: no such file or directory, open '${path}'`)),
};
const parse = (...args: string[]) => parseCommandLine(args, ctx);
function mode(...args: string[]) {
  const result = parse(...args);
  if (!result.ok) throw new Error(result.error.map(formatDiagnostic).join('\n'));
  return result.value;
}
function codes(...args: string[]) {
  const result = parse(...args);
  if (result.ok) throw new Error('expected diagnostics');
  return result.error;
}

describe('parseCommandLine: the quickstart', () => {
  it('normalizes --http :9090 --wsgi-file hitme.py --master --processes 4 --threads 2 --stats 127.0.0.1:9191', () => {
    const m = mode('--http', ':9090', '--wsgi-file', 'hitme.py', '--master', '--processes', '4', '--threads', '2', '--stats', '127.0.0.1:9191');
    expect(m.mode).toBe('server');
    if (m.mode !== 'server') return;
    expect(m.python).toBe('python3');
    expect(m.logto).toBeUndefined();
    expect(m.serverConfig).toMatchObject({
      _name: 'kaiser',
      http: [':9090'],
      'http-socket': [],
      socket: [],
      'wsgi-file': 'hitme.py',
      module: null,
      master: true,
      processes: 4,
      threads: 2,
      stats: '127.0.0.1:9191',
      harakiri: 0,
      'need-app': true,
      env: {},
    });
  });

  it('gives the same server config from the ini file, whether named by --ini or bare', () => {
    const fromFlags = mode('--http', ':9090', '--wsgi-file', 'hitme.py', '--master', '--processes', '4', '--threads', '2', '--stats', '127.0.0.1:9191');
    const fromIni = mode('--ini', 'hitme.ini');
    const bare = mode('hitme.ini');
    if (fromFlags.mode !== 'server' || fromIni.mode !== 'server' || bare.mode !== 'server') throw new Error('expected servers');
    expect({...fromIni.serverConfig, _name: 'x'}).toEqual({...fromFlags.serverConfig, _name: 'x'});
    expect(bare.serverConfig).toEqual(fromIni.serverConfig);
    expect(fromIni.serverConfig._name).toBe('hitme.ini');
  });
});

describe('parseCommandLine: flag forms', () => {
  const server = (...args: string[]) => {
    const m = mode('--http', ':1', '--module', 'app', ...args);
    if (m.mode !== 'server') throw new Error('expected a server');
    return m.serverConfig;
  };

  it('reads --name=value, one-letter aliases, -p4 and combined flags', () => {
    expect(server('--processes=3').processes).toBe(3);
    expect(server('-p', '5').processes).toBe(5);
    expect(server('-p5').processes).toBe(5);
    expect(server('-MT')).toMatchObject({master: true, 'enable-threads': true});
    expect(server('-Mp', '6')).toMatchObject({master: true, processes: 6});
    expect(server('-H', 'venv').virtualenv).toBe('venv');
  });

  it('appends repeated list options', () => {
    expect(server('--socket', ':3031', '-s', '/run/a.sock').socket).toEqual([':3031', '/run/a.sock']);
    expect(server('--env', 'A=1', '--env', 'B=2').env).toEqual({A: '1', B: '2'});
  });

  it('lets flags after an --ini file override it', () => {
    const m = mode('--ini', 'hitme.ini', '--processes', '8', '--http', ':8080');
    expect(m.mode === 'server' && m.serverConfig).toMatchObject({processes: 8, http: [':9090', ':8080']});
  });

  it('reads a named ini section with file.ini:section', () => {
    const m = mode('--ini', 'stage.ini:staging');
    expect(m.mode === 'server' && m.serverConfig).toMatchObject({http: [':2'], processes: 3});
  });

  it('allows vassal keys in a file but resolves logto against the cwd', () => {
    expect(mode('with-vassal-keys.ini').mode).toBe('server');
    const m = mode('--http', ':1', '--module', 'app', '--logto', 'logs/app.log');
    expect(m.mode === 'server' && m.logto).toBe('/work/app/logs/app.log');
  });
});

describe('parseCommandLine: modes', () => {
  it('detects help, version and subcommands', () => {
    expect(mode('--help')).toEqual({mode: 'help'});
    expect(mode('-h')).toEqual({mode: 'help'});
    expect(mode('--http', ':1', '--help')).toEqual({mode: 'help'});
    expect(mode('--version')).toEqual({mode: 'version'});
    expect(mode('ls', '--json')).toEqual({mode: 'subcommand', name: 'ls', args: ['--json']});
    expect(mode('reload', 'shop.ini')).toEqual({mode: 'subcommand', name: 'reload', args: ['shop.ini']});
  });

  it('runs the emperor with typed options and defaults', () => {
    expect(mode('--emperor', 'vassals/', '--emperor-stats', '127.0.0.1:9192')).toMatchObject({
      mode: 'emperor',
      options: {
        emperor: ['vassals/'],
        emperorStats: '127.0.0.1:9192',
        reloadMercySeconds: 30,
        emperorFreqSeconds: 60,
        accountingSeconds: 2,
        spawnConcurrency: 32,
        curseToleranceSeconds: 10,
        python: undefined,
        logFormat: 'human',
      },
    });
  });

  it('reads emperor options from a TOML file', () => {
    const m = mode('--toml', 'emperor.toml', '--log-format', 'json');
    expect(m.mode === 'emperor' && m.options).toMatchObject({emperor: ['/etc/vassals'], emperorFreqSeconds: 5, logFormat: 'json'});
  });
});

describe('parseCommandLine: errors', () => {
  it('suggests the closest flag for an unknown one', () => {
    const [d] = codes('--http', ':1', '--module', 'app', '--procesess', '4');
    expect(d).toMatchObject({code: 'KAISER_USAGE', key: '--procesess', message: 'unknown option "--procesess" (did you mean "--processes"?)'});
    expect(formatDiagnostic(d!)).toBe('kaiser --procesess: error KAISER_USAGE unknown option "--procesess" (did you mean "--processes"?)');
  });

  it('reports an unknown one-letter flag', () => {
    expect(codes('-Z')).toEqual([expect.objectContaining({code: 'KAISER_USAGE', key: '-Z'})]);
  });

  it('names an unsupported uWSGI flag', () => {
    const found = codes('--http', ':1', '--module', 'app', '--spooler', 'spool/');
    expect(found).toEqual([expect.objectContaining({code: 'KAISER_CONFIG_UNSUPPORTED', key: '--spooler'})]);
    expect(found[0]?.message).toMatch(/kaiser has no spooler/);
    expect(codes('--xml', 'app.xml')).toEqual([expect.objectContaining({code: 'KAISER_CONFIG_UNSUPPORTED', key: '--xml'})]);
  });

  it('accepts a uWSGI flag kaiser does not apply yet with a warning, knowing whether it takes a value', () => {
    const found = parseCommandLine(['--http', ':1', '--module', 'app', '--max-fd', '100', '--no-default-app', '--processes', '2'], {cwd: '/srv', env: {}, fileExists: () => true});
    expect(found.ok && found.value.mode === 'server' && found.value.warnings.map((d) => [d.code, d.key])).toEqual([
      ['KAISER_CONFIG_NOT_APPLIED', '--max-fd'],
      ['KAISER_CONFIG_NOT_APPLIED', '--no-default-app'],
    ]);
    expect(found.ok && found.value.mode === 'server' && found.value.serverConfig.processes).toBe(2);
  });

  it('reports a missing value, including one swallowed by the next flag', () => {
    expect(codes('--http', ':1', '--module', 'app', '--processes')).toEqual([expect.objectContaining({code: 'KAISER_USAGE', message: 'option "--processes" needs a value (N)'})]);
    expect(codes('--processes', '--master', '--http', ':1', '--module', 'a')).toEqual([expect.objectContaining({code: 'KAISER_USAGE', key: '--processes'})]);
  });

  it('reports bad values with the flag', () => {
    expect(codes('--http', ':1', '--module', 'app', '-p', 'x')).toEqual([expect.objectContaining({code: 'KAISER_CONFIG_BAD_VALUE', key: '-p'})]);
    expect(codes('--emperor', 'v', '--log-format', 'xml')).toEqual([expect.objectContaining({code: 'KAISER_CONFIG_BAD_VALUE'})]);
  });

  it('refuses options of the wrong mode', () => {
    expect(codes('--emperor', 'v', '--http', ':1')).toEqual([expect.objectContaining({code: 'KAISER_CONFIG_WRONG_SCOPE', key: '--http'})]);
    expect(codes('--http', ':1', '--module', 'a', '--emperor-freq', '3')).toEqual([expect.objectContaining({code: 'KAISER_CONFIG_WRONG_SCOPE'})]);
    expect(codes('--http', ':1', '--module', 'a', '--stop-timeout', '3')).toEqual([expect.objectContaining({code: 'KAISER_CONFIG_WRONG_SCOPE'})]);
    expect(codes('--http', ':1', '--module', 'a', '--exec', 'x')).toEqual([expect.objectContaining({code: 'KAISER_CONFIG_WRONG_SCOPE'})]);
  });

  it('reports an unreadable file, stray arguments, and an empty command line', () => {
    expect(codes('--ini', 'missing.ini')).toEqual([expect.objectContaining({code: 'KAISER_CONFIG_UNREADABLE', file: 'missing.ini'})]);
    expect(codes('--http', ':1', '--module', 'a', 'stray')).toEqual([expect.objectContaining({code: 'KAISER_USAGE'})]);
    expect(codes()).toEqual([expect.objectContaining({code: 'KAISER_USAGE'})]);
  });

  it('needs an app and a socket for a server', () => {
    expect(codes('--http', ':1').map((d) => d.code)).toEqual(['KAISER_CONFIG_NO_APP']);
    expect(codes('--module', 'app').map((d) => d.code)).toEqual(['KAISER_CONFIG_NO_SOCKET']);
  });
});
