/**
 * The app server as users start it: the uWSGI quickstart command lines through `kaiser`, nginx in front with
 * uwsgi_pass, a Flask app, a Node app, bad options, and an app-server vassal under the emperor.
 */
import {afterEach, describe, expect, it} from '@jest/globals';
import {execFileSync, spawnSync} from 'node:child_process';
import {existsSync, renameSync, writeFileSync} from 'node:fs';
import {connect} from 'node:net';
import {join} from 'node:path';
import {
  KAISER_BIN,
  ROOT,
  canConnect,
  cleanupProcesses,
  freePort,
  httpGet,
  processTree,
  startKaiser,
  startProcess,
  tempDir,
  waitFor,
  waitFor200,
  withDeadline,
} from '../helpers/processes.js';

const HELLO = join(ROOT, 'test/fixtures/apps/hello.py');
const NODE_APP = join(ROOT, 'test/fixtures/node-apps/hello.mjs');
const NGINX = ['/usr/sbin/nginx', '/usr/bin/nginx'].find((p) => existsSync(p));
const HAS_FLASK = spawnSync('/usr/bin/python3', ['-c', 'import flask']).status === 0;

afterEach(cleanupProcesses);

/** Sends raw bytes on a fresh connection and returns everything read until the server closes or `until` matches. */
function rawExchange(port: number, request: string, until?: RegExp): Promise<string> {
  return withDeadline(
    new Promise<string>((resolve, reject) => {
      const socket = connect({host: '127.0.0.1', port});
      let text = '';
      socket.setEncoding('latin1');
      socket.on('connect', () => socket.write(request));
      socket.on('data', (chunk: string) => {
        text += chunk;
        if (until?.test(text)) {
          socket.destroy();
          resolve(text);
        }
      });
      socket.on('end', () => resolve(text));
      socket.on('error', reject);
    }),
    5000,
    () => `a response from port ${port}`,
  );
}

function readStats(port: number): Promise<Record<string, unknown>> {
  return rawExchange(port, '').then((text) => JSON.parse(text) as Record<string, unknown>);
}

describe('the uWSGI quickstart', () => {
  it('form 1 serves Hello World as text/html, byte for byte', async () => {
    const port = await freePort();
    const k = startKaiser(['--http', `127.0.0.1:${port}`, '--wsgi-file', HELLO]);
    await waitFor200(port, 15_000);
    const response = await rawExchange(port, 'GET / HTTP/1.0\r\nHost: x\r\n\r\n');
    expect(response).toBe('HTTP/1.0 200 OK\r\nContent-Type: text/html\r\nContent-Length: 11\r\n\r\nHello World');
    const http11 = await rawExchange(port, 'GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    expect(http11.startsWith('HTTP/1.1 200 OK\r\n')).toBe(true);
    expect(http11).toContain('\r\nContent-Type: text/html\r\n');
    expect(http11.endsWith('\r\n\r\nHello World')).toBe(true);
    k.signal('SIGINT');
    expect((await withDeadline(k.exited, 10_000, () => 'exit after SIGINT')).code).toBe(0);
  });

  it('form 2 runs a master, 4 workers of 2 threads, and a uwsgitop-compatible stats server', async () => {
    const [port, statsPort] = [await freePort(), await freePort()];
    const k = startKaiser(['--http', `:${port}`, '--wsgi-file', HELLO, '--master', '--processes', '4', '--threads', '2', '--stats', `127.0.0.1:${statsPort}`]);
    await waitFor200(port, 15_000);
    for (let i = 0; i < 20; i++) expect((await httpGet(port))?.body).toBe('Hello World');
    const stats = await readStats(statsPort);
    for (const key of ['version', 'listen_queue', 'listen_queue_errors', 'signal_queue', 'load', 'pid', 'uid', 'gid', 'cwd', 'locks', 'sockets', 'workers']) {
      expect(stats).toHaveProperty(key);
    }
    const workers = stats['workers'] as Record<string, unknown>[];
    expect(workers).toHaveLength(4);
    for (const key of ['id', 'pid', 'accepting', 'requests', 'delta_requests', 'exceptions', 'harakiri_count', 'signals', 'status', 'rss', 'vsz',
      'running_time', 'last_spawn', 'respawn_count', 'tx', 'avg_rt', 'apps', 'cores']) {
      expect(workers[0]).toHaveProperty(key);
    }
    expect((workers[0]!['cores'] as unknown[]).length).toBe(2);
    expect(workers.reduce((sum, w) => sum + (w['requests'] as number), 0)).toBeGreaterThanOrEqual(20);
    expect(processTree(k.pid).length).toBeGreaterThanOrEqual(6); // node launcher, master, 4 workers
    const overHttp = await startKaiserStatsHttp();
    expect(overHttp).toContain('"workers"');
  });

  it('runs the same options from an ini and a toml file', async () => {
    const dir = tempDir();
    for (const [name, text] of [
      ['app.ini', (p: number) => `[uwsgi]\nplugins = python3,http\nhttp-socket = 127.0.0.1:${p}\nwsgi-file = ${HELLO}\nmaster = true\nprocesses = 2\n`],
      ['app.toml', (p: number) => `plugin = "python3"\nhttp-socket = "127.0.0.1:${p}"\nwsgi-file = "${HELLO}"\nmaster = true\nprocesses = 2\n`],
    ] as const) {
      const port = await freePort();
      writeFileSync(join(dir, name), text(port));
      const flag = name.endsWith('.ini') ? '--ini' : '--toml';
      startKaiser([flag, join(dir, name)]);
      expect((await waitFor200(port, 15_000)).body).toBe('Hello World');
    }
  });
});

/** Starts a server with --stats-http and returns what an HTTP GET on the stats address answers. */
async function startKaiserStatsHttp(): Promise<string> {
  const [port, statsPort] = [await freePort(), await freePort()];
  startKaiser(['--http-socket', `127.0.0.1:${port}`, '--wsgi-file', HELLO, '--stats', `127.0.0.1:${statsPort}`, '--stats-http']);
  await waitFor200(port, 15_000);
  const res = await fetch(`http://127.0.0.1:${statsPort}/`);
  expect(res.headers.get('content-type')).toBe('application/json');
  return res.text();
}

describe('serving', () => {
  (NGINX ? it : it.skip)('answers nginx uwsgi_pass on a uwsgi socket', async () => {
    const dir = tempDir();
    const [appPort, nginxPort] = [await freePort(), await freePort()];
    startKaiser(['--socket', `127.0.0.1:${appPort}`, '--wsgi-file', HELLO, '--processes', '2']);
    await waitFor(() => canConnect(appPort), 15_000, 'uwsgi socket');
    const conf = join(dir, 'nginx.conf');
    writeFileSync(
      conf,
      `daemon off;\nworker_processes 1;\npid ${dir}/nginx.pid;\nerror_log ${dir}/error.log;\nevents { worker_connections 64; }\n` +
        `http {\n  access_log off;\n  client_body_temp_path ${dir}/body;\n  proxy_temp_path ${dir}/proxy;\n  fastcgi_temp_path ${dir}/fcgi;\n` +
        `  uwsgi_temp_path ${dir}/uwsgi;\n  scgi_temp_path ${dir}/scgi;\n` +
        `  server {\n    listen 127.0.0.1:${nginxPort};\n    location / { include /etc/nginx/uwsgi_params; uwsgi_pass 127.0.0.1:${appPort}; }\n  }\n}\n`,
    );
    startProcess(NGINX!, ['-c', conf, '-p', dir]);
    const res = await waitFor200(nginxPort, 15_000);
    expect(res.body).toBe('Hello World');
    expect(res.headers.get('content-type')).toBe('text/html');
  });

  (HAS_FLASK ? it : it.skip)('runs a Flask app unchanged', async () => {
    const dir = tempDir();
    writeFileSync(
      join(dir, 'flaskapp.py'),
      'from flask import Flask, request\napp = Flask(__name__)\n\n@app.route("/hi/<name>")\ndef hi(name):\n    return f"hi {name} {request.args.get(\'x\', \'\')}"\n',
    );
    const port = await freePort();
    startKaiser(['--http-socket', `127.0.0.1:${port}`, '--chdir', dir, '--module', 'flaskapp:app', '--processes', '1']);
    const res = await waitFor200(port, 20_000, '/hi/kaiser?x=1');
    expect(res.body).toBe('hi kaiser 1');
    expect((await httpGet(port, '/nope'))?.status).toBe(404);
  });

  it('runs a Node app with the same process options', async () => {
    const [port, statsPort] = [await freePort(), await freePort()];
    startKaiser(['--http-socket', `127.0.0.1:${port}`, '--node-app', NODE_APP, '--processes', '2', '--stats', `127.0.0.1:${statsPort}`]);
    const res = await waitFor200(port, 20_000);
    expect(res.body.length).toBeGreaterThan(0);
    for (let i = 0; i < 10; i++) await httpGet(port);
    const stats = await readStats(statsPort);
    const workers = stats['workers'] as {requests: number}[];
    expect(workers).toHaveLength(2);
    expect(workers.reduce((sum, w) => sum + w.requests, 0)).toBeGreaterThanOrEqual(10);
  });
});

describe('bad options', () => {
  const run = (args: string[]) => spawnSync(process.execPath, [KAISER_BIN, ...args], {encoding: 'utf8', timeout: 20_000});

  it('names an unknown option, with a suggestion, and exits 2', () => {
    const r = run(['--http-socket', ':0', '--wsgi-file', HELLO, '--procesess', '4']);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('procesess');
    expect(r.stderr).toContain('did you mean "--processes"');
  });

  it('names a uWSGI option kaiser does not implement', () => {
    const r = run(['--http-socket', ':0', '--wsgi-file', HELLO, '--spooler', 'spool']);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/KAISER_CONFIG_UNSUPPORTED.*spooler.*kaiser has no spooler/);
  });

  it('fails loudly with exit 22 when the app cannot be loaded', () => {
    const r = run(['--http-socket', '127.0.0.1:0', '--wsgi-file', join(ROOT, 'test/fixtures/apps/crash-at-import.py')]);
    expect(r.status).toBe(22);
  });

  it('prints help generated from the option table', () => {
    const out = execFileSync(process.execPath, [KAISER_BIN, '--help'], {encoding: 'utf8'});
    for (const flag of ['--emperor', '--http-socket', '--processes', '--harakiri', '--touch-reload', '--master-fifo']) expect(out).toContain(flag);
  });
});

describe('an app-server vassal under the emperor', () => {
  it('starts, reloads with new code when its file changes, and stops when removed', async () => {
    const dir = tempDir();
    const app = join(dir, 'app.py');
    const writeApp = (version: string) =>
      writeFileSync(app, `def application(env, start_response):\n    start_response('200 OK', [('Content-Type', 'text/plain')])\n    return [b'${version}']\n`);
    writeApp('v1');
    const port = await freePort();
    const emperor = startKaiser(['--emperor', dir]);
    const ini = `[uwsgi]\nhttp-socket = 127.0.0.1:${port}\nwsgi-file = app.py\nmaster = true\nprocesses = 2\n`;
    writeFileSync(join(dir, '.app.ini.tmp'), ini);
    renameSync(join(dir, '.app.ini.tmp'), join(dir, 'app.ini'));
    expect((await waitFor200(port, 15_000)).body).toBe('v1');
    await emperor.waitForLine('vassal app.ini is ready to accept requests');
    writeApp('v2');
    writeFileSync(join(dir, '.app.ini.tmp'), `${ini}; edited\n`);
    renameSync(join(dir, '.app.ini.tmp'), join(dir, 'app.ini'));
    await waitFor(async () => (await httpGet(port))?.body === 'v2', 15_000, 'v2 after the edit');
    renameSync(join(dir, 'app.ini'), join(dir, 'app.ini.off'));
    await waitFor(async () => !(await canConnect(port)), 15_000, 'port closed after removal');
    await emperor.waitForLine('removed uwsgi instance app.ini');
  });
});
