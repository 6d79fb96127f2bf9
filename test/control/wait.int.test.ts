/**
 * `kaiser reload|restart|stop|start … --wait` against a real emperor and real app-server vassals: the command returns
 * once the new instance serves (its app has loaded), or exits 1 with the load error when it does not; `--all`,
 * `restart`, and `kaiser logs` without a name.
 */
import {afterEach, describe, expect, it} from '@jest/globals';
import {spawn} from 'node:child_process';
import {mkdirSync, readFileSync, readdirSync, writeFileSync} from 'node:fs';
import {join} from 'node:path';
import {KAISER_BIN, cleanupProcesses, freePort, httpGet, publish, startKaiser, tempDir, waitFor, waitFor200} from '../helpers/processes.js';

afterEach(cleanupProcesses);

/** An app that takes a second to load and leaves a `loaded-PID` file each time it loads. */
function slowApp(dir: string, tag: string): string {
  return `import os, time
time.sleep(1.0)
open(os.path.join(${JSON.stringify(dir)}, 'loaded-${tag}-%d' % os.getpid()), 'w').close()
BOOT = '${tag}-%d' % os.getpid()
def application(env, start_response):
    print('${tag}-HIT', flush=True)
    start_response('200 OK', [('Content-Type', 'text/plain')])
    return [BOOT.encode()]
`;
}

/** Runs `kaiser ARGS --control PATH` to its end (a child process: the command blocks while it waits). */
function kaiser(control: string, ...args: string[]): Promise<{code: number | null; stdout: string; stderr: string}> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [KAISER_BIN, ...args, '--control', control], {stdio: ['ignore', 'pipe', 'pipe']});
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('exit', (code) => resolve({code, stdout, stderr}));
  });
}

async function emperorWith(names: string[]) {
  const dir = tempDir();
  const vassals = join(dir, 'vassals');
  const control = join(dir, 'control.sock');
  const ports: Record<string, number> = {};
  const apps: Record<string, string> = {};
  mkdirSync(vassals);
  for (const name of names) {
    const port = await freePort();
    const tag = name.replace(/\..*$/, '');
    const app = join(dir, `${tag}.py`);
    writeFileSync(app, slowApp(dir, tag));
    ports[name] = port;
    apps[name] = app;
    publish(vassals, name, `[uwsgi]\nhttp-socket = 127.0.0.1:${port}\nwsgi-file = ${app}\nmaster = true\nprocesses = 1\n`);
  }
  const emperor = startKaiser(['--emperor', vassals, '--control', control]);
  await emperor.waitForLine('control socket on');
  for (const name of names) await waitFor200(ports[name]!, 20_000);
  const loads = (tag: string) => readdirSync(dir).filter((f) => f.startsWith(`loaded-${tag}-`)).length;
  return {dir, vassals, control, ports, apps, emperor, loads};
}

describe('kaiser reload --wait', () => {
  it('returns once the new workers have loaded the app and serve, and exits 0', async () => {
    const w = await emperorWith(['one.ini']);
    expect(w.loads('one')).toBe(1);
    const before = (await httpGet(w.ports['one.ini']!))?.body;
    const reload = await kaiser(w.control, 'reload', 'one.ini', '--wait');
    expect(reload).toMatchObject({code: 0, stdout: 'one.ini: reloaded, serving\n'});
    // The app takes a second to load: a reload that returned at once would find one load only.
    expect(w.loads('one')).toBe(2);
    const ls = JSON.parse((await kaiser(w.control, 'ls', '--json')).stdout) as {name: string; state: string}[];
    expect(ls.find((row) => row.name === 'one.ini')?.state).toBe('ready');
    // The old worker stops accepting as the new one starts to: the next answers come from the new one.
    const after = await waitFor(async () => {
      const body = (await httpGet(w.ports['one.ini']!))?.body;
      return body !== undefined && body !== before && body;
    }, 5_000, 'an answer from the new worker');
    expect(after).toMatch(/^one-\d+$/);
  }, 60_000);

  it('exits 1 with the load error when the new app does not load, and the old one keeps serving', async () => {
    const w = await emperorWith(['one.ini']);
    const before = (await httpGet(w.ports['one.ini']!))?.body;
    writeFileSync(w.apps['one.ini']!, "def application(env, start_response:\n    return [b'broken']\n");
    const reload = await kaiser(w.control, 'reload', 'one.ini', '--wait');
    expect(reload.code).toBe(1);
    expect(reload.stderr).toContain('one.ini: error KAISER_VASSAL_RELOAD_FAILED reload failed, the previous instance keeps serving: SyntaxError:');
    expect(reload.stderr).toContain("def application(env, start_response:");
    expect((await httpGet(w.ports['one.ini']!))?.body).toBe(before);
    // ls shows the useful line of the traceback, not its first line.
    const table = (await kaiser(w.control, 'ls')).stdout;
    expect(table).toMatch(/one\.ini\s+app-server\s+reload-failed .*… SyntaxError: /);
    expect(table).not.toContain('Traceback (most recent call last)');
  }, 60_000);
});

describe('kaiser restart|stop|start --wait, --all, and logs of every vassal', () => {
  it('restarts with a new master, stops and starts all, reloads all, and tails every vassal', async () => {
    const w = await emperorWith(['one.ini', 'two.ini']);
    const pidOf = async (name: string) => (JSON.parse((await kaiser(w.control, 'ls', '--json')).stdout) as {name: string; pid: number; state: string}[]).find((r) => r.name === name);
    const firstPid = (await pidOf('one.ini'))?.pid;
    expect(await kaiser(w.control, 'restart', 'one.ini', '--wait')).toMatchObject({code: 0, stdout: 'one.ini: restarted, serving\n'});
    const restarted = await pidOf('one.ini');
    expect(restarted?.state).toBe('ready');
    expect(restarted?.pid).not.toBe(firstPid);

    expect(await kaiser(w.control, 'stop', '--all', '--wait')).toMatchObject({code: 0, stdout: 'one.ini: stopped\ntwo.ini: stopped\n'});
    expect((await pidOf('two.ini'))?.state).toBe('held');
    expect(await kaiser(w.control, 'start', '--all', '--wait')).toMatchObject({code: 0, stdout: 'one.ini: started, serving\ntwo.ini: started, serving\n'});
    expect((await httpGet(w.ports['two.ini']!))?.status).toBe(200);

    const loadsBefore = w.loads('two');
    expect((await kaiser(w.control, 'reload', '--all', '--wait')).code).toBe(0);
    expect(w.loads('two')).toBe(loadsBefore + 1);

    await httpGet(w.ports['one.ini']!);
    await httpGet(w.ports['two.ini']!);
    await w.emperor.waitForLine('[two.ini] two-HIT');
    await w.emperor.waitForLine('[one.ini] one-HIT');
    const logs = await kaiser(w.control, 'logs', '-n', '200');
    expect(logs.code).toBe(0);
    expect(logs.stdout).toContain('[one.ini] one-HIT');
    expect(logs.stdout).toContain('[two.ini] two-HIT');
    expect(logs.stdout.split('\n').filter((line) => line !== '').every((line) => /^\[(one|two)\.ini\] /.test(line))).toBe(true);
  }, 120_000);

  it('says which name was meant and does nothing for an unknown one (exit 2)', async () => {
    const w = await emperorWith(['one.ini']);
    const result = await kaiser(w.control, 'reload', 'one', '--wait');
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('no vassal named "one" (did you mean "one.ini"?); nothing was done');
    expect(readFileSync(w.apps['one.ini']!, 'utf8')).toContain('time.sleep');
    expect(w.loads('one')).toBe(1);
  }, 60_000);
});
