/**
 * Operating a running emperor end to end: the control CLI (ls, stop/start, reload, logs, status), Prometheus
 * metrics with app-server figures, and sd_notify over a real datagram socket.
 */
import {afterEach, describe, expect, it} from '@jest/globals';
import {spawnSync} from 'node:child_process';
import {statSync, writeFileSync} from 'node:fs';
import {join} from 'node:path';
import {KAISER_BIN, PYTHON, ROOT, canConnect, cleanupProcesses, freePort, httpGet, startKaiser, startProcess, tempDir, waitFor, waitFor200, publish} from '../helpers/processes.js';

const SERVER = join(ROOT, 'test/fixtures/procs/http-server.py');
const HELLO = join(ROOT, 'test/fixtures/apps/hello.py');

afterEach(cleanupProcesses);


function kaiser(control: string, ...args: string[]): {status: number | null; stdout: string; stderr: string} {
  return spawnSync(process.execPath, [KAISER_BIN, ...args, '--control', control], {encoding: 'utf8', timeout: 20_000});
}

describe('operations', () => {
  it('lists, stops, starts, reloads and tails vassals through the control socket', async () => {
    const dir = tempDir();
    const control = join(dir, 'control.sock');
    const port = await freePort();
    publish(dir, 'web.toml', `exec = ["${PYTHON}", "${SERVER}", "${port}"]\nready = "tcp://127.0.0.1:${port}"\n`);
    const k = startKaiser(['--emperor', dir, '--control', control]);
    await k.waitForLine('control socket on');
    await waitFor200(port);
    expect(statSync(control).mode & 0o777).toBe(0o600);

    const ls = JSON.parse(kaiser(control, 'ls', '--json').stdout) as {vassals: {name: string; state: string; pid: number}[]} | {name: string}[];
    const rows = Array.isArray(ls) ? ls : ls.vassals;
    expect(rows.map((r) => r.name)).toEqual(['web.toml']);
    const table = kaiser(control, 'ls').stdout;
    for (const column of ['NAME', 'KIND', 'STATE', 'PID', 'CPU', 'RSS', 'UPTIME', 'RESTARTS']) expect(table).toContain(column);

    expect(kaiser(control, 'stop', 'web.toml').status).toBe(0);
    await waitFor(async () => !(await canConnect(port)), 10_000, 'stopped');
    // A held vassal stays down, even across a SIGHUP to the emperor.
    k.signal('SIGHUP');
    await k.waitForLine('reloading all vassals');
    expect(await canConnect(port)).toBe(false);
    expect(kaiser(control, 'start', 'web.toml').status).toBe(0);
    await waitFor200(port);

    expect(kaiser(control, 'reload', 'web.toml').status).toBe(0);
    await waitFor200(port);
    const unknown = kaiser(control, 'reload', 'nope.toml');
    expect(unknown.status).toBe(2);
    expect(unknown.stderr).toContain('nope.toml');

    const logs = kaiser(control, 'logs', 'web.toml');
    expect(logs.status).toBe(0);
    const status = JSON.parse(kaiser(control, 'status', '--json').stdout) as Record<string, unknown>;
    expect(JSON.stringify(status)).toContain('vassals');
  });

  it('serves Prometheus metrics with per-vassal and app-server figures', async () => {
    const dir = tempDir();
    const [port, metricsPort] = [await freePort(), await freePort()];
    publish(dir, 'app.ini', `[uwsgi]\nhttp-socket = 127.0.0.1:${port}\nwsgi-file = ${HELLO}\nprocesses = 2\n`);
    const k = startKaiser(['--emperor', dir, '--metrics', `127.0.0.1:${metricsPort}`, '--control', join(dir, 'c.sock')]);
    await k.waitForLine('Prometheus metrics on');
    await waitFor200(port, 15_000);
    // The first worker answers before the master reports the vassal ready (once both workers accept): wait for that.
    await k.waitForLine('vassal app.ini is ready', 15_000);
    for (let i = 0; i < 5; i++) await httpGet(port);
    const text = (await httpGet(metricsPort, '/metrics'))!.body;
    const sample = (name: string) => {
      const m = new RegExp(`^${name}\\{[^}]*vassal="app\\.ini"[^}]*\\} ([0-9.e+-]+)$`, 'm').exec(text);
      return m ? Number(m[1]) : undefined;
    };
    expect(sample('kaiser_vassal_up')).toBe(1);
    expect(sample('kaiser_vassal_requests_total')).toBeGreaterThanOrEqual(6);
    expect(sample('kaiser_vassal_workers')).toBe(2);
    expect(text).toMatch(/^kaiser_emperor_rss_bytes [0-9.e+]+$/m);
    expect(text).toMatch(/^kaiser_emperor_spawn_duration_seconds_count [1-9]/m);
  });

  it('keeps kaiser_vassal_up at 1 during a graceful reload, while the old workers serve', async () => {
    const dir = tempDir();
    const control = join(dir, 'c.sock');
    const [port, metricsPort] = [await freePort(), await freePort()];
    // The app's second load (the reload's new worker) waits for a file, so the reload stays in progress.
    const app = join(dir, 'gated.py');
    writeFileSync(app, [
      'import os, time',
      'here = os.path.dirname(os.path.abspath(__file__))',
      "if os.path.exists(os.path.join(here, 'loaded')):",
      "    while not os.path.exists(os.path.join(here, 'go')):",
      '        time.sleep(0.05)',
      "open(os.path.join(here, 'loaded'), 'w').close()",
      'def application(environ, start_response):',
      "    start_response('200 OK', [('Content-Type', 'text/plain')])",
      "    return [b'ok']",
      '',
    ].join('\n'));
    publish(dir, 'app.ini', `[uwsgi]\nhttp-socket = 127.0.0.1:${port}\nwsgi-file = ${app}\nprocesses = 1\n`);
    const k = startKaiser(['--emperor', dir, '--metrics', `127.0.0.1:${metricsPort}`, '--control', control]);
    await k.waitForLine('Prometheus metrics on');
    await waitFor200(port, 15_000);
    const sample = async (name: string, labels = '') => {
      const text = (await httpGet(metricsPort, '/metrics'))?.body ?? '';
      const m = new RegExp(`^${name}\\{[^}]*vassal="app\\.ini"${labels}[^}]*\\} ([0-9.e+-]+)$`, 'm').exec(text);
      return m ? Number(m[1]) : undefined;
    };
    expect(await sample('kaiser_vassal_up')).toBe(1);

    expect(kaiser(control, 'reload', 'app.ini').status).toBe(0);
    await waitFor(async () => (await sample('kaiser_vassal_state', ',state="reloading"')) === 1, 15_000, 'the vassal reloading');
    expect(await sample('kaiser_vassal_up')).toBe(1);
    expect((await httpGet(port))?.status).toBe(200);

    writeFileSync(join(dir, 'go'), '');
    await waitFor(async () => (await sample('kaiser_vassal_state', ',state="ready"')) === 1, 15_000, 'the reload done');
    expect(await sample('kaiser_vassal_up')).toBe(1);
  });

  it('talks sd_notify: READY=1 after the first scan, RELOADING=1 on SIGHUP, STOPPING=1 on SIGTERM', async () => {
    const dir = tempDir();
    const socketPath = join(dir, 'notify.sock');
    const receiver = startProcess(PYTHON, [
      '-c',
      "import socket,sys\ns=socket.socket(socket.AF_UNIX,socket.SOCK_DGRAM)\ns.bind(sys.argv[1])\nprint('bound',flush=True)\nwhile True: print(s.recv(65536).decode().replace('\\n','|'),flush=True)",
      socketPath,
    ]);
    await receiver.waitForLine('bound');
    const port = await freePort();
    publish(dir, 'web.toml', `exec = ["${PYTHON}", "${SERVER}", "${port}"]\nready = "tcp://127.0.0.1:${port}"\n`);
    const k = startKaiser(['--emperor', dir, '--control', join(dir, 'c.sock')], {env: {...process.env, NOTIFY_SOCKET: socketPath}});
    const ready = await receiver.waitForLine('READY=1', 10_000);
    expect(ready).toContain(`MAINPID=${k.pid}`);
    await receiver.waitForLine(/STATUS=The Emperor is governing 1 vassals/, 10_000);
    k.signal('SIGHUP');
    await receiver.waitForLine(/RELOADING=1\|MONOTONIC_USEC=\d+/, 10_000);
    k.signal('SIGTERM');
    await receiver.waitForLine('STOPPING=1', 10_000);
    expect((await k.exited).code).toBe(0);
  });
});
