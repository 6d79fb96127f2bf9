import {formatDiagnostic, loadVassalSpec, type VassalSpec} from '../../src/config/vassal-spec.js';
import {launchRequestFor, emperorSocketsOf} from '../../src/emperor/child-spec.js';
import {VASSAL_CTX} from '../config/fixed-context.js';

function spec(file: string, text: string): VassalSpec {
  const result = loadVassalSpec(file, text, VASSAL_CTX);
  if (!result.ok) throw new Error(result.error.map(formatDiagnostic).join('\n'));
  return result.value;
}

const owned = (address: string) => ({address, fd: address.endsWith('7000') ? 11 : 12, name: address.replace(/[^A-Za-z0-9_.-]/g, '_')});

describe('launchRequestFor', () => {
  it('hands a command vassal its sockets as fds from 3, with LISTEN_FDS, LISTEN_FDNAMES and LISTEN_PID', () => {
    const child = launchRequestFor(spec('api.toml', 'exec = "node server.js"\nsocket = ["tcp://127.0.0.1:7000", "unix:/run/api.sock"]\n'), owned);
    if (child.kind !== 'program') throw new Error(`a command vassal launched as ${child.kind}`);
    expect(child).toMatchObject({file: '/bin/sh', listenFds: [11, 12]});
    expect(child.args.slice(0, 3)).toEqual(['-c', 'LISTEN_PID=$$; export LISTEN_PID; exec "$0" "$@"', '/bin/sh']);
    expect(child.env).toMatchObject({LISTEN_FDS: '2', LISTEN_FDNAMES: 'tcp___127.0.0.1_7000:unix__run_api.sock', KAISER_VASSAL: 'api.toml'});
    expect(child.env['NOTIFY_SOCKET']).toBeUndefined();
  });

  it('runs an app-server vassal as the master with a complete KAISER_CONFIG and the on-demand sockets to adopt', () => {
    const child = launchRequestFor(spec('shop.ini', '[uwsgi]\nhttp-socket = 127.0.0.1:9000\nwsgi-file = app.py\non-demand = true\nidle = 30\n'), owned);
    if (child.kind !== 'master') throw new Error(`an app-server vassal launched as ${child.kind}`);
    expect(child).toMatchObject({python: '/usr/bin/python3', cwd: '/srv/vassals'});
    expect(child.inherit).toEqual({'127.0.0.1:9000': 'tcp://127.0.0.1:9000'});
    expect(child.env['KAISER_CONFIG']).toBeUndefined();
    const config = child.config;
    // Every server option is present (runtime-protocol.md §1), the file's values win, the emperor adds its internals.
    expect(config).toMatchObject({'http-socket': ['127.0.0.1:9000'], 'wsgi-file': 'app.py', idle: 30, _name: 'shop.ini', socket: [], harakiri: 0});
    expect(config['_node_worker']).toEqual(expect.stringMatching(/workers\/node\/worker\.js$/));
  });
});

describe('emperorSocketsOf', () => {
  it('holds nothing for an app server that is not on demand, and refuses abstract sockets on demand', () => {
    expect(emperorSocketsOf(spec('a.ini', '[uwsgi]\nhttp-socket = :9000\nwsgi-file = app.py\n'))).toEqual({ok: true, value: []});
    expect(emperorSocketsOf(spec('b.ini', '[uwsgi]\nhttp-socket = :9000\nsocket = /run/b.sock\nwsgi-file = app.py\non-demand = true\n'))).toEqual({
      ok: true,
      value: [
        {key: 'tcp://0.0.0.0:9000', written: ':9000'},
        {key: 'unix:/run/b.sock', written: '/run/b.sock'},
      ],
    });
    const abstract = emperorSocketsOf(spec('c.ini', '[uwsgi]\nsocket = @hidden\nwsgi-file = app.py\non-demand = true\n'));
    expect(abstract.ok ? 'held' : abstract.error).toMatch(/KAISER_CONFIG_BAD_VALUE .*abstract socket @hidden/);
  });
});
