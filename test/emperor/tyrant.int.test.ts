/**
 * Tyrant mode (`--emperor-tyrant`) with real users: a vassal runs as the owner of its file (command vassals and
 * app-server masters forked by the runtime host alike), a root-owned file and a file whose uid escapes its owner are
 * refused with their error codes, and a running vassal whose file becomes root-owned is stopped. Needs root: it
 * creates the users kaiser-t1 and kaiser-t2 (idempotent; they are left in place, they own nothing).
 */
import {afterEach, beforeAll, describe, expect, it} from '@jest/globals';
import {chmodSync, chownSync, readFileSync, writeFileSync} from 'node:fs';
import {join} from 'node:path';
import {IS_ROOT, ensureUser, publishAs} from '../helpers/users.js';
import {PYTHON, ROOT, cleanupProcesses, freePort, isAlive, processTable, startKaiser, tempDir, waitFor, waitFor200, type Started} from '../helpers/processes.js';

const SERVER = join(ROOT, 'test/fixtures/procs/http-server.py');
const USERS = ['kaiser-t1', 'kaiser-t2'] as const;

afterEach(() => cleanupProcesses());

/** A directory the test users can enter (mkdtemp makes it 0700). */
function vassalDir(): string {
  const dir = tempDir();
  chmodSync(dir, 0o755);
  return dir;
}

function idsOf(pid: number): {uid: number; gid: number; groups: string} {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const field = (name: string) => (new RegExp(`^${name}:[ \\t]*(.*)$`, 'm').exec(status)?.[1] ?? '').trim();
  return {uid: Number(field('Uid').split(/\s+/)[0]), gid: Number(field('Gid').split(/\s+/)[0]), groups: field('Groups')};
}

async function spawnedPid(emperor: Started, name: string): Promise<number> {
  const line = await emperor.waitForLine(new RegExp(`vassal ${name.replace(/\./g, '\\.')} has been spawned \\(pid: (\\d+)\\)`), 15_000);
  return Number(/pid: (\d+)/.exec(line)![1]);
}

function appVassal(dir: string, name: string, port: number): string {
  const app = join(dir, `${name}.py`);
  writeFileSync(app, `def application(env, start_response):\n    start_response('200 OK', [('Content-Type', 'text/plain')])\n    return [b'${name}']\n`);
  return `[uwsgi]\nhttp-socket = 127.0.0.1:${port}\nwsgi-file = ${app}\nprocesses = 1\n`;
}

const suite = IS_ROOT ? describe : describe.skip;
const title = IS_ROOT ? 'tyrant mode' : 'tyrant mode (SKIPPED: needs root to create test users and switch to them)';

suite(title, () => {
  let t1 = {uid: -1, gid: -1};
  beforeAll(() => {
    t1 = ensureUser(USERS[0]);
    ensureUser(USERS[1]);
  });

  it('runs each vassal as the owner of its file: a command vassal, and app-server masters forked by the host', async () => {
    const dir = vassalDir();
    const [p1, p2, p3] = [await freePort(), await freePort(), await freePort()];
    const emperor = startKaiser(['--emperor', dir, '--emperor-tyrant']);
    publishAs(dir, 'cmd.toml', `exec = ["${PYTHON}", "${SERVER}", "${p1}"]\nready = "tcp://127.0.0.1:${p1}"\n`, t1);
    publishAs(dir, 'app1.ini', appVassal(dir, 'app1', p2), t1);
    publishAs(dir, 'app2.ini', appVassal(dir, 'app2', p3), t1);
    await Promise.all([waitFor200(p1, 15_000), waitFor200(p2, 15_000), waitFor200(p3, 15_000)]);
    await emperor.waitForLine(`[emperor-tyrant] dropping privileges to ${t1.uid} ${t1.gid} for instance cmd.toml`);
    for (const name of ['cmd.toml', 'app1.ini', 'app2.ini']) {
      const pid = await spawnedPid(emperor, name);
      expect({name, ...idsOf(pid)}).toEqual({name, uid: t1.uid, gid: t1.gid, groups: ''});
    }
    // One of the two app-server vassals (whichever is defined second) is forked by the runtime host, which stays root.
    const parents = await Promise.all(['app1.ini', 'app2.ini'].map(async (name) => processTable().get(await spawnedPid(emperor, name))?.ppid ?? -1));
    const host = parents.find((ppid) => ppid !== emperor.pid);
    expect(host).toBeDefined();
    expect(idsOf(host!).uid).toBe(0);
  });

  it('refuses a root-owned file and a uid that escapes the owner, and keeps running the others', async () => {
    const dir = vassalDir();
    const [ok, refused, escaping] = [await freePort(), await freePort(), await freePort()];
    const emperor = startKaiser(['--emperor', dir, '--emperor-tyrant']);
    publishAs(dir, 'root.toml', `exec = ["${PYTHON}", "${SERVER}", "${refused}"]\n`, {uid: 0, gid: 0});
    publishAs(dir, 'escape.toml', `exec = ["${PYTHON}", "${SERVER}", "${escaping}"]\nuid = "kaiser-t2"\n`, t1);
    publishAs(dir, 'fine.toml', `exec = ["${PYTHON}", "${SERVER}", "${ok}"]\nready = "tcp://127.0.0.1:${ok}"\n`, t1);
    await emperor.waitForLine(/error KAISER_TYRANT_ROOT_OWNED \[emperor-tyrant\] invalid permissions for vassal root\.toml/);
    await emperor.waitForLine(/error KAISER_TYRANT_ESCAPE \[emperor-tyrant\] vassal escape\.toml asks for uid kaiser-t2/);
    await waitFor200(ok, 15_000);
    expect(emperor.output()).not.toMatch(/vassal (root|escape)\.toml has been spawned/);
  });

  it('stops a running vassal whose file becomes root-owned (found by the rescan)', async () => {
    const dir = vassalDir();
    const port = await freePort();
    const emperor = startKaiser(['--emperor', dir, '--emperor-tyrant', '--emperor-freq', '1']);
    publishAs(dir, 'web.toml', `exec = ["${PYTHON}", "${SERVER}", "${port}"]\nready = "tcp://127.0.0.1:${port}"\n`, t1);
    await waitFor200(port, 15_000);
    const pid = await spawnedPid(emperor, 'web.toml');
    chownSync(join(dir, 'web.toml'), 0, 0);
    await emperor.waitForLine(`[emperor-tyrant] !!! permissions of file ${join(dir, 'web.toml')} changed. stopping the instance... !!!`, 5_000);
    await emperor.waitForLine(/invalid permissions for vassal web\.toml/);
    await emperor.waitForLine('stop the uwsgi instance web.toml');
    await waitFor(() => !isAlive(pid), 12_000, `exit of the stopped vassal ${pid}`);
  });
});
