/** `kaiser ls|status|reload|stop|start|logs` end to end: the CLI commands through the client to a real control server with a fake emperor. */
import {join} from 'node:path';
import {afterEach, describe, expect, it} from '@jest/globals';
import {runControlCommand, type ControlCommand} from '../../src/control/commands.js';
import {startControlServer, type ControlServer} from '../../src/control/server.js';
import {LS_COLUMNS} from '../../src/control/format.js';
import type {VassalRow} from '../../src/control/protocol.js';
import {Capture, FakeEmperor, captureLog, removeTempDirs, tempDir} from './control-rig.js';

const servers: ControlServer[] = [];

async function serve(emperor = new FakeEmperor()): Promise<{path: string; emperor: FakeEmperor}> {
  const path = join(tempDir(), 'control.sock');
  const started = await startControlServer(path, emperor, captureLog());
  if (!started.ok) throw new Error(started.error);
  servers.push(started.value);
  return {path, emperor};
}

async function run(name: ControlCommand, args: string[], env: Record<string, string> = {}, signal?: AbortSignal) {
  const stdout = new Capture();
  const stderr = new Capture();
  const code = await runControlCommand(name, args, {env, stdout, stderr, timeoutMs: 5_000, ...(signal ? {signal} : {})});
  return {code, stdout: stdout.text, stderr: stderr.text};
}

afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
  removeTempDirs();
});

describe('kaiser ls', () => {
  it('prints a table with every column and human units', async () => {
    const {path} = await serve();
    const {code, stdout} = await run('ls', ['--control', path]);
    expect(code).toBe(0);
    const [header, shop, blog] = stdout.split('\n');
    for (const column of LS_COLUMNS) expect(header).toContain(column);
    expect(shop).toMatch(/^shop\.ini\s+app-server\s+ready\s+4242\s+1\.5\s+25\.0M\s+1h02m\s+2\s+http=127\.0\.0\.1:8080\s+-\s+-$/);
    expect(blog).toContain('exited with code 1 …');
    expect(blog).not.toContain('traceback');
  });

  it('prints the rows as JSON with --json', async () => {
    const {path} = await serve();
    const {code, stdout} = await run('ls', ['--json', `--control=${path}`]);
    expect(code).toBe(0);
    const rows = JSON.parse(stdout) as VassalRow[];
    expect(rows.map((r) => r.name)).toEqual(['shop.ini', 'blog.ini']);
    expect(rows[0]).toMatchObject({rss: 25 * 1024 * 1024, sockets: ['http=127.0.0.1:8080'], source: 'dir'});
  });

  it('finds the socket through KAISER_CONTROL', async () => {
    const {path} = await serve();
    expect((await run('ls', [], {KAISER_CONTROL: path})).code).toBe(0);
  });

  it('says how to start an emperor when nothing listens, and exits 1', async () => {
    const path = join(tempDir(), 'none.sock');
    const {code, stderr} = await run('ls', ['--control', path]);
    expect(code).toBe(1);
    expect(stderr).toContain(`no emperor is listening on ${path}: start one with --control ${path} or set KAISER_CONTROL`);
    expect(stderr).toContain('KAISER_CONTROL_NOT_LISTENING');
  });

  it('exits 2 on an unknown flag or a stray argument', async () => {
    expect((await run('ls', ['--jsn'])).code).toBe(2);
    expect((await run('ls', ['extra'])).code).toBe(2);
  });

  it('prints its usage on --help and exits 0', async () => {
    const {code, stdout} = await run('ls', ['--help']);
    expect(code).toBe(0);
    expect(stdout).toContain('usage: kaiser ls');
  });
});

describe('kaiser status', () => {
  it('prints the summary, and JSON with --json', async () => {
    const {path} = await serve();
    const human = await run('status', ['--control', path]);
    expect(human.stdout).toContain('pid 99');
    expect(human.stdout).toContain('2 (1 ready, 1 failing');
    const json = await run('status', ['--control', path, '--json']);
    expect(JSON.parse(json.stdout)).toMatchObject({pid: 99, vassals: 2, dir: '/srv/vassals'});
  });
});

describe('kaiser reload|stop|start', () => {
  it('asks the emperor and says what happens', async () => {
    const {path, emperor} = await serve();
    expect(await run('reload', ['shop.ini', '--control', path])).toMatchObject({code: 0, stdout: 'shop.ini: reload requested\n'});
    expect((await run('stop', ['blog.ini', '--control', path])).stdout).toContain('kaiser start blog.ini');
    expect(JSON.parse((await run('start', ['blog.ini', '--json', '--control', path])).stdout)).toEqual({ok: true, cmd: 'start', name: 'blog.ini'});
    expect(emperor.actions).toEqual(['reload shop.ini', 'stop blog.ini', 'start blog.ini']);
  });

  it('exits 1 with the code for an unknown vassal, and 2 without a name', async () => {
    const {path} = await serve();
    const unknown = await run('reload', ['nope.ini', '--control', path]);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain('KAISER_CONTROL_UNKNOWN_VASSAL');
    expect((await run('stop', ['--control', path])).code).toBe(2);
  });
});

describe('kaiser logs', () => {
  it('prints the last -n lines', async () => {
    const {path} = await serve();
    expect(await run('logs', ['shop.ini', '-n', '2', '--control', path])).toMatchObject({code: 0, stdout: 'line 2\nline 3\n'});
    expect((await run('logs', ['shop.ini', '-nx', '--control', path])).code).toBe(2);
  });

  it('follows with -f until interrupted', async () => {
    const {path, emperor} = await serve();
    const stdout = new Capture();
    const abort = new AbortController();
    const running = runControlCommand('logs', ['shop.ini', '-f', '-n1', '--control', path], {env: {}, stdout, stderr: new Capture(), signal: abort.signal});
    await emperor.followersAre(1);
    emperor.emit('live one');
    await stdout.waitFor('live one\n');
    abort.abort();
    expect(await running).toBe(0);
    expect(stdout.text).toBe('line 3\nlive one\n');
    await emperor.followersAre(0);
  });
});
