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
    // The last line of a multi-line error: in a Python traceback, the line that says what went wrong.
    expect(blog).toContain('… traceback…');
    expect(blog).not.toContain('exited with code 1');
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

describe('kaiser reload|restart|stop|start', () => {
  it('asks the emperor and says what happens', async () => {
    const {path, emperor} = await serve();
    expect(await run('reload', ['shop.ini', '--control', path])).toMatchObject({code: 0, stdout: 'shop.ini: reload requested\n'});
    expect((await run('stop', ['blog.ini', '--control', path])).stdout).toContain('kaiser start blog.ini');
    expect(JSON.parse((await run('start', ['blog.ini', '--json', '--control', path])).stdout)).toEqual({ok: true, cmd: 'start', results: [{name: 'blog.ini', ok: true}]});
    expect((await run('restart', ['shop.ini', '--control', path])).stdout).toBe('shop.ini: restart requested\n');
    expect(emperor.actions).toEqual(['reload shop.ini', 'stop blog.ini', 'start blog.ini', 'restart shop.ini']);
    expect(emperor.waits).toEqual([]);
  });

  it('acts on several names, or on --all skipping the vassals the action does not apply to', async () => {
    const {path, emperor} = await serve();
    expect(await run('reload', ['shop.ini', 'blog.ini', '--control', path])).toMatchObject({code: 0, stdout: 'shop.ini: reload requested\nblog.ini: reload requested\n'});
    const all = await run('restart', ['--all', '--control', path]);
    expect(all).toMatchObject({code: 0, stdout: 'blog.ini: skipped: it is stopping\nshop.ini: restart requested\n'});
    expect(emperor.actions).toEqual(['reload shop.ini', 'reload blog.ini', 'restart shop.ini']);
  });

  it('refuses an explicitly named vassal the action does not apply to, exit 1', async () => {
    const {path} = await serve();
    const refused = await run('restart', ['blog.ini', '--control', path]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toBe('kaiser restart: blog.ini: error KAISER_CONTROL_REFUSED cannot restart blog.ini: it is stopping\n');
  });

  it('exits 2 for a name no vassal has, suggests the closest, and does nothing', async () => {
    const {path, emperor} = await serve();
    const unknown = await run('reload', ['shop.ini', 'shp.ini', '--control', path]);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('KAISER_CONTROL_UNKNOWN_VASSAL no vassal named "shp.ini" (did you mean "shop.ini"?); nothing was done');
    const stem = await run('reload', ['blog', '--control', path]);
    expect(stem.stderr).toContain('(did you mean "blog.ini"?)');
    expect(emperor.actions).toEqual([]);
  });

  it('exits 2 without a name, or with names and --all', async () => {
    const {path} = await serve();
    expect((await run('stop', ['--control', path])).code).toBe(2);
    expect((await run('stop', ['shop.ini', '--all', '--control', path])).code).toBe(2);
    expect((await run('reload', ['shop.ini', '--wait=soon', '--control', path])).code).toBe(2);
  });

  it('with --wait, answers once each vassal has an outcome: serving exits 0, a load error exits 1 and is printed', async () => {
    const {path, emperor} = await serve();
    const waiting = run('reload', ['shop.ini', 'blog.ini', '--wait', '--control', path]);
    await until(() => emperor.settle('shop.ini', {name: 'shop.ini', ok: true, state: 'ready'}));
    await until(() => emperor.settle('blog.ini', {name: 'blog.ini', ok: false, state: 'reload-failed', code: 'KAISER_VASSAL_RELOAD_FAILED', error: "reload failed, the previous instance keeps serving: SyntaxError: '(' was never closed"}));
    const done = await waiting;
    expect(done.code).toBe(1);
    expect(done.stdout).toBe('shop.ini: reloaded, serving\n');
    expect(done.stderr).toContain("kaiser reload: blog.ini: error KAISER_VASSAL_RELOAD_FAILED reload failed, the previous instance keeps serving: SyntaxError: '(' was never closed");
    expect(emperor.waits).toEqual(['reload shop.ini default', 'reload blog.ini default']);
  });

  it('passes --wait=SECONDS (or --wait SECONDS) on, and waits by default on a terminal unless --no-wait', async () => {
    const {path, emperor} = await serve();
    emperor.outcomes.set('shop.ini', {name: 'shop.ini', ok: true, state: 'held'});
    expect((await run('stop', ['shop.ini', '--wait=2.5', '--control', path])).stdout).toBe('shop.ini: stopped\n');
    expect((await run('stop', ['shop.ini', '--wait', '3', '--control', path])).code).toBe(0);
    const tty = new Capture(true);
    expect(await runControlCommand('stop', ['shop.ini', '--control', path], {env: {}, stdout: tty, stderr: new Capture(), timeoutMs: 5_000})).toBe(0);
    expect(tty.text).toContain('shop.ini: stopped\n');
    expect(await runControlCommand('stop', ['shop.ini', '--no-wait', '--control', path], {env: {}, stdout: new Capture(true), stderr: new Capture(), timeoutMs: 5_000})).toBe(0);
    expect(emperor.waits).toEqual(['stop shop.ini 2500', 'stop shop.ini 3000', 'stop shop.ini default']);
  });
});

/** Resolves once `attempt` returns true, retrying on each turn of the event loop (no fixed sleep). */
async function until(attempt: () => boolean): Promise<void> {
  for (let i = 0; i < 10_000; i++) {
    if (attempt()) return;
    await new Promise((resolve) => setImmediate(resolve));
  }
  throw new Error('never happened');
}

describe('kaiser logs', () => {
  it('prints the last lines of every vassal, prefixed, without a name', async () => {
    const {path, emperor} = await serve();
    emperor.allLines = ['[shop.ini] one', '[blog.ini] two'];
    expect(await run('logs', ['-n', '5', '--control', path])).toMatchObject({code: 0, stdout: '[shop.ini] one\n[blog.ini] two\n'});
    expect(emperor.tails).toEqual(['(all) 5']);
  });

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
