import {readFileSync} from 'node:fs';
import {formatDiagnostic, loadVassalSpec, parseReadyProbe, type Diagnostic, type VassalSpec} from '../../src/config/vassal-spec.js';
import {VASSAL_CTX} from './fixed-context.js';
import {completeServerConfig} from '../../src/config/server-config.js';

const fixture = (name: string) => readFileSync(`test/fixtures/configs/${name}`);

function load(file: string, text: string | Buffer, ctx: Parameters<typeof loadVassalSpec>[2] = VASSAL_CTX) {
  return loadVassalSpec(file, text, ctx);
}
function loaded(file: string, text: string | Buffer): VassalSpec {
  const result = load(file, text);
  if (!result.ok) throw new Error(result.error.map(formatDiagnostic).join('\n'));
  return result.value;
}
function problems(file: string, text: string | Buffer): Diagnostic[] {
  const result = load(file, text);
  if (result.ok) throw new Error('expected diagnostics');
  return result.error;
}

describe('loadVassalSpec: kinds', () => {
  it('makes a file with exec a command vassal with the defaults', () => {
    expect(loaded('sleep.ini', '[uwsgi]\nexec = sleep 100\n')).toMatchObject({
      kind: 'command',
      name: 'sleep.ini',
      file: '/srv/vassals/sleep.ini',
      dir: '/srv/vassals',
      argv: ['/bin/sh', '-c', 'sleep 100'],
      cwd: '/srv/vassals',
      env: {},
      ready: {kind: 'running', forMs: 1000},
      stopSignal: 'SIGTERM',
      stopTimeoutMs: 10_000,
      startTimeoutMs: 60_000,
      sockets: [],
      reloadOverlap: false,
      logMaxBytes: 0,
      logBackups: 5,
    });
  });

  it('reads a TOML command vassal: argv array, env table, ready, signal, sockets, relative cwd', () => {
    expect(loaded('worker.toml', fixture('worker.toml'))).toMatchObject({
      kind: 'command',
      name: 'worker.toml',
      file: '/srv/vassals/worker.toml',
      dir: '/srv/vassals',
      argv: ['node', 'worker.mjs', '--queue', 'mail'],
      cwd: '/srv/vassals/app',
      env: {NODE_ENV: 'production', WORKERS: '3'},
      ready: {kind: 'tcp', host: '127.0.0.1', port: 7000},
      stopSignal: 'SIGINT',
      stopTimeoutMs: 5000,
      startTimeoutMs: 60_000,
      sockets: ['tcp://127.0.0.1:7000', 'unix:/run/worker.sock'],
      reloadOverlap: true,
      logMaxBytes: 0,
      logBackups: 5,
    });
  });

  it('makes a file with an app and a socket an app-server vassal with the options it sets (defaults filled when sent)', () => {
    const spec = loaded('hitme.ini', fixture('hitme.ini'));
    expect(spec.kind).toBe('app-server');
    if (spec.kind !== 'app-server') return;
    expect(spec.python).toBe('/usr/bin/python3');
    expect(spec.stopTimeoutMs).toBe(10_000);
    expect(spec.serverConfig).toMatchObject({_name: 'hitme.ini', http: [':9090'], 'wsgi-file': 'hitme.py', master: true, processes: 4, threads: 2, stats: '127.0.0.1:9191'});
    expect(spec.serverConfig).not.toHaveProperty('socket');
    expect(completeServerConfig(spec.serverConfig)).toMatchObject({...spec.serverConfig, socket: [], harakiri: 0});
  });

  it('uses the virtualenv python and the emperor curse tolerance as stop timeout', () => {
    const result = load('a.ini', '[uwsgi]\nhttp = :1\nmodule = app\nvenv = env\n', {...VASSAL_CTX, curseToleranceMs: 30_000});
    expect(result.ok && result.value).toMatchObject({python: '/srv/vassals/env/bin/python3', stopTimeoutMs: 30_000});
  });

  it('reports a file with neither exec nor an app as KAISER_CONFIG_NO_APP', () => {
    expect(problems('a.ini', '[uwsgi]\nlogto = a.log\n').map((d) => d.code)).toEqual(['KAISER_CONFIG_NO_APP']);
  });

  it('reports an app server with sockets but no app as KAISER_CONFIG_NO_APP', () => {
    expect(problems('a.ini', '[uwsgi]\nhttp = :9090\n').map((d) => d.code)).toEqual(['KAISER_CONFIG_NO_APP']);
  });

  it('reports an app server without a socket', () => {
    expect(problems('a.ini', '[uwsgi]\nwsgi-file = app.py\n').map((d) => d.code)).toEqual(['KAISER_CONFIG_NO_SOCKET']);
  });
});

describe('loadVassalSpec: diagnostics', () => {
  it('runs an ini file with an unknown key, as uWSGI does, with a warning naming file, line, key and a suggestion', () => {
    const spec = loaded('vassals/shop.ini', fixture('shop.ini'));
    expect(spec.warnings).toEqual([
      'vassals/shop.ini:10 [uwsgi] procesess: warning KAISER_CONFIG_UNKNOWN_KEY unknown option "procesess" (did you mean "processes"?); ignored, as uWSGI ignores it (strict = true makes it an error)',
    ]);
    expect(spec.kind === 'app-server' && spec.serverConfig).not.toHaveProperty('processes');
  });

  it('refuses an unknown key under strict = true, as uWSGI\'s strict mode does (a used placeholder too)', () => {
    const found = problems('vassals/shop.ini', `${fixture('shop.ini').toString()}strict = true\n`);
    expect(found).toEqual([
      {file: 'vassals/shop.ini', line: 8, section: 'uwsgi', key: 'port', code: 'KAISER_CONFIG_UNKNOWN_KEY', severity: 'error', message: 'unknown option "port"'},
      {file: 'vassals/shop.ini', line: 10, section: 'uwsgi', key: 'procesess', code: 'KAISER_CONFIG_UNKNOWN_KEY', severity: 'error', message: 'unknown option "procesess" (did you mean "processes"?)'},
    ]);
    expect(formatDiagnostic(found[1]!)).toBe(
      'vassals/shop.ini:10 [uwsgi] procesess: error KAISER_CONFIG_UNKNOWN_KEY unknown option "procesess" (did you mean "processes"?)',
    );
  });

  it('keeps TOML strict: an unknown key is an error', () => {
    expect(problems('a.toml', 'http = ":1"\nwsgi-file = "a.py"\nproject = "x"\n').map((d) => d.code)).toEqual(['KAISER_CONFIG_UNKNOWN_KEY']);
  });

  it('accepts a key uWSGI ignores silently, like piku\'s project = myapp, with a warning', () => {
    const spec = loaded('a.ini', '[uwsgi]\nproject = myapp\nhttp = :1\nmodule = app\n');
    expect(spec.warnings).toEqual([expect.stringMatching(/a\.ini:2 \[uwsgi\] project: warning KAISER_CONFIG_UNKNOWN_KEY/)]);
  });

  it('accepts an option whose behaviour is not there yet with a KAISER_CONFIG_NOT_APPLIED warning', () => {
    const spec = loaded('a.ini', '[uwsgi]\nhttp = :1\nmodule = app\nmax-fd = 2048\nthunder-lock\n');
    expect(spec.warnings).toEqual(['a.ini:4 [uwsgi] max-fd: warning KAISER_CONFIG_NOT_APPLIED uWSGI option "max-fd" is accepted but not applied yet by this kaiser version']);
  });

  it('treats protocol = http as http sockets and a uWSGI log-format as the request log format', () => {
    const spec = loaded('a.ini', '[uwsgi]\nsocket = :8000\nprotocol = http\nmodule = app\nlog-format = %(addr) %(status)\n');
    expect(spec.kind === 'app-server' && spec.serverConfig).toMatchObject({'http-socket': [':8000'], logformat: '%(addr) %(status)'});
    expect(spec.kind === 'app-server' && spec.serverConfig).not.toHaveProperty('socket');
    expect(spec.kind === 'app-server' && spec.serverConfig).not.toHaveProperty('log-format');
  });

  it('reads numbers as uWSGI does (atoi), with a warning: inline comments and unset $(ENV) do not stop the vassal', () => {
    const spec = loaded('a.ini', '[uwsgi]\nhttp = :1\nmodule = app\nmax-requests = 1000   # restart workers\nharakiri = $(UNSET_X)\n');
    expect(spec.kind === 'app-server' && spec.serverConfig).toMatchObject({'max-requests': 1000, harakiri: 0});
    expect(spec.warnings).toEqual([
      'a.ini:4 [uwsgi] max-requests: warning KAISER_CONFIG_BAD_VALUE bad value for "max-requests": "1000   # restart workers" is read as 1000, as uWSGI reads it',
      'a.ini:5 [uwsgi] harakiri: warning KAISER_CONFIG_BAD_VALUE bad value for "harakiri": "$(UNSET_X)" is read as 0, as uWSGI reads it',
    ]);
    expect(problems('a.toml', 'http = ":1"\nmodule = "app"\nmax-requests = "1000 # x"\n').map((d) => d.code)).toEqual(['KAISER_CONFIG_BAD_VALUE']);
  });

  it('takes the app from mount when nothing else names one, and allows module with wsgi-file (uWSGI loads both)', () => {
    const mounted = loaded('a.ini', '[uwsgi]\nsocket = :1\nmount = /=awx.wsgi:application\nmanage-script-name = true\n');
    expect(mounted.kind === 'app-server' && mounted.serverConfig).toMatchObject({module: 'awx.wsgi:application', mount: ['/=awx.wsgi:application']});
    const byFile = loaded('a.ini', '[uwsgi]\nsocket = :1\nmount = /api=%dapi/wsgi.py\n');
    expect(byFile.kind === 'app-server' && byFile.serverConfig['wsgi-file']).toBe('/srv/vassals/api/wsgi.py');
    const both = loaded('a.ini', '[uwsgi]\nhttp = :1\nwsgi-file = /etc/ckan/wsgi.py\nmodule = wsgi:application\n');
    expect(both.kind === 'app-server' && both.serverConfig).toMatchObject({'wsgi-file': '/etc/ckan/wsgi.py', module: 'wsgi:application'});
  });

  it('reads daemonize and logto2 as logto, as a uWSGI vassal does', () => {
    expect(loaded('a.ini', '[uwsgi]\nhttp = :1\nmodule = app\ndaemonize = /var/log/a.log\n').logto).toBe('/var/log/a.log');
    expect(loaded('a.ini', '[uwsgi]\nhttp = :1\nmodule = app\nlogto2 = logs/a.log\n').logto).toBe('/srv/vassals/logs/a.log');
  });

  it('treats an unknown key used as %(name) as a placeholder, and expands magic vars', () => {
    const fixed = fixture('shop.ini').toString().replace('procesess = 4', 'processes = 4');
    const spec = loaded('shop.ini', fixed);
    if (spec.kind !== 'app-server') throw new Error('expected an app server');
    expect(spec.serverConfig).toMatchObject({
      'http-socket': [':9090'],
      'wsgi-file': '/srv/vassals/shop.py',
      processes: 4,
      master: true,
      socket: ['/run/shop.sock', '@shop-abstract'],
      logto: 'logs/shop.log',
    });
    expect(spec.logto).toBe('/srv/vassals/logs/shop.log');
    expect(spec.serverConfig).not.toHaveProperty('port');
  });

  it('expands %c, %p, %% and $(ENV), leaving unset variables literal', () => {
    const spec = loaded('echo.ini', '[uwsgi]\nexec = echo %c %p 100%% $(PORT) $(UNSET_X)\n');
    expect(spec.kind === 'command' && spec.argv[2]).toBe('echo vassals /srv/vassals/echo.ini 100% 8081 $(UNSET_X)');
  });

  it('supports set-placeholder', () => {
    const spec = loaded('a.ini', '[uwsgi]\nset-placeholder = base=/opt/app\nexec = %(base)/run\n');
    expect(spec.kind === 'command' && spec.argv[2]).toBe('/opt/app/run');
  });

  it('names a uWSGI option kaiser does not implement, with the reason', () => {
    const found = problems('a.ini', '[uwsgi]\nhttp = :1\nwsgi-file = a.py\nspooler = spool\nlegion = a b c\n');
    expect(found).toEqual([
      expect.objectContaining({code: 'KAISER_CONFIG_UNSUPPORTED', key: 'spooler', line: 4, message: expect.stringMatching(/"spooler" is not supported by kaiser: kaiser has no spooler/)}),
      expect.objectContaining({code: 'KAISER_CONFIG_UNSUPPORTED', key: 'legion', line: 5}),
    ]);
  });

  it('reports a wrong type with key and reason', () => {
    const found = problems('a.toml', 'http = ":1"\nwsgi-file = "a.py"\nprocesses = "many"\n');
    expect(found).toEqual([
      expect.objectContaining({code: 'KAISER_CONFIG_BAD_VALUE', key: 'processes', line: 3, message: 'bad value for "processes": expected a non-negative integer, got "many"'}),
    ]);
  });

  it('refuses an app-server option in a command vassal', () => {
    const found = problems('a.ini', '[uwsgi]\nexec = sleep 1\nprocesses = 4\n');
    expect(found).toEqual([expect.objectContaining({code: 'KAISER_CONFIG_WRONG_SCOPE', key: 'processes', line: 3})]);
    expect(found[0]?.message).toMatch(/does not apply to a command vassal/);
  });

  it('refuses exec together with wsgi-file as a conflict', () => {
    const found = problems('a.ini', '[uwsgi]\nexec = sleep 1\nwsgi-file = app.py\n');
    expect(found).toEqual([expect.objectContaining({code: 'KAISER_CONFIG_CONFLICT', key: 'wsgi-file', line: 3})]);
  });

  it('refuses wsgi-file together with node-app', () => {
    const found = problems('a.ini', '[uwsgi]\nhttp = :1\nwsgi-file = a.py\nnode-app = a.mjs\n');
    expect(found).toEqual([expect.objectContaining({code: 'KAISER_CONFIG_CONFLICT', key: 'node-app', line: 4})]);
  });

  it('refuses a file over 1 MiB without parsing it', () => {
    const big = Buffer.alloc(1024 * 1024 + 1, 'a');
    expect(problems('big.ini', big).map((d) => d.code)).toEqual(['KAISER_CONFIG_TOO_LARGE']);
  });

  it('reports TOML syntax errors with their line', () => {
    expect(problems('broken.toml', fixture('broken.toml'))).toEqual([expect.objectContaining({code: 'KAISER_CONFIG_PARSE', line: 2})]);
  });

  it('reports an ini without [uwsgi]', () => {
    expect(problems('a.ini', 'exec = x\n').map((d) => d.code)).toEqual(['KAISER_CONFIG_NO_SECTION']);
  });

  it('refuses an unknown extension', () => {
    expect(problems('a.xml', '<uwsgi/>').map((d) => d.code)).toEqual(['KAISER_CONFIG_FORMAT']);
  });

  it('checks command vassal ready probes and sockets', () => {
    expect(problems('a.ini', '[uwsgi]\nexec = x\nready = tcp://host\n')).toEqual([expect.objectContaining({code: 'KAISER_CONFIG_BAD_VALUE', key: 'ready', line: 3})]);
    expect(problems('a.ini', '[uwsgi]\nexec = x\nsocket = 127.0.0.1:80\n')).toEqual([expect.objectContaining({code: 'KAISER_CONFIG_BAD_VALUE', key: 'socket'})]);
  });
});

describe('parseReadyProbe', () => {
  it('knows every form', () => {
    expect(parseReadyProbe('notify')).toEqual({ok: true, value: {kind: 'notify'}});
    expect(parseReadyProbe('running')).toEqual({ok: true, value: {kind: 'running', forMs: 1000}});
    expect(parseReadyProbe('running:2.5')).toEqual({ok: true, value: {kind: 'running', forMs: 2500}});
    expect(parseReadyProbe('tcp://:8080')).toEqual({ok: true, value: {kind: 'tcp', host: '127.0.0.1', port: 8080}});
    expect(parseReadyProbe('http://127.0.0.1:8080/health')).toEqual({ok: true, value: {kind: 'http', url: 'http://127.0.0.1:8080/health'}});
    expect(parseReadyProbe('ftp://x').ok).toBe(false);
  });
});

describe('loadVassalSpec: log rotation', () => {
  it('reads log-rotate and log-compress, and refuses a period it does not know', () => {
    expect(loaded('a.toml', 'exec = "x"\nlogto = "a.log"\nlog-rotate = "daily"\nlog-compress = true\n')).toMatchObject({logto: '/srv/vassals/a.log', logRotate: 'daily', logCompress: true});
    expect(loaded('a.toml', 'exec = "x"\n')).toMatchObject({logCompress: false});
    expect(problems('a.ini', '[uwsgi]\nhttp-socket = :8000\nwsgi-file = a.py\nlog-rotate = monthly\n')).toEqual([
      expect.objectContaining({code: 'KAISER_CONFIG_BAD_VALUE', key: 'log-rotate', line: 4, message: 'bad value for "log-rotate": expected hourly, daily, weekly, got "monthly"'}),
    ]);
  });
});
