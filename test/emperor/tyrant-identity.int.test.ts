/**
 * Tyrant mode, a hostile tenant (issue 14, "a tenant acts as root or as another tenant"): what a vassal names on
 * disk or on the network is done as its user, never as the root emperor; what the emperor holds belongs to one user;
 * a tenant starts from a clean environment. One test per finding, with real users (root creates kaiser-t1 and
 * kaiser-t2; they are left in place and own nothing). Each fails on the code before the fix: the root emperor
 * created the root-only log file, deleted the root file on rotation, unlinked the root file for its socket, handed
 * t1's listening socket to t2, bound port < 1024 for a tenant, and passed its whole environment on.
 */
import {afterEach, beforeAll, describe, expect, it} from '@jest/globals';
import {chmodSync, chownSync, existsSync, lchownSync, lstatSync, symlinkSync, mkdirSync, readdirSync, readFileSync, renameSync, statSync, writeFileSync} from 'node:fs';
import {request} from 'node:http';
import {createServer} from 'node:net';
import {detectCgroups} from '../../src/emperor/cgroups.js';
import {join} from 'node:path';
import {IS_ROOT, ensureUser, publishAs, type User} from '../helpers/users.js';
import {cleanupProcesses, freePort, isAlive, startKaiser, tempDir, waitFor, type Started} from '../helpers/processes.js';

const CGROUPS = IS_ROOT ? detectCgroups() : {kind: 'none' as const, reason: 'not root'};

afterEach(() => cleanupProcesses());

/** A vassal directory as a hosting provider has it: sticky and world-writable, below a directory tenants can enter. */
function sharedSetup(): {root: string; vassals: string; rootOnly: string; sticky: string} {
  const root = tempDir();
  chmodSync(root, 0o755);
  const vassals = join(root, 'vassals');
  const rootOnly = join(root, 'root-only');
  const sticky = join(root, 'shared');
  mkdirSync(vassals, {mode: 0o1777});
  mkdirSync(rootOnly, {mode: 0o700});
  mkdirSync(sticky, {mode: 0o1777});
  chmodSync(vassals, 0o1777);
  chmodSync(sticky, 0o1777);
  return {root, vassals, rootOnly, sticky};
}

/** A directory owned by `owner` (its own place to write). */
function homeOf(parent: string, owner: User): string {
  const dir = join(parent, `home-${owner.name}`);
  mkdirSync(dir, {mode: 0o755});
  chownSync(dir, owner.uid, owner.gid);
  return dir;
}

const sh = (script: string) => `exec = ["/bin/sh", "-c", ${JSON.stringify(script)}]\n`;

function emperor(vassals: string, extra: string[] = [], env?: NodeJS.ProcessEnv): Started {
  return startKaiser(['--emperor', vassals, '--emperor-tyrant', '--emperor-freq', '1', ...extra], env ? {env} : {});
}

/** A free TCP port below 1024 on 127.0.0.1, or undefined. */
async function lowPort(): Promise<number | undefined> {
  for (let port = 1023; port > 900; port--) {
    const free = await new Promise<boolean>((resolve) => {
      const server = createServer();
      server.once('error', () => resolve(false));
      server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
    });
    if (free) return port;
  }
  return undefined;
}

function listening(port: number): boolean {
  const table = readFileSync('/proc/net/tcp', 'utf8');
  const hex = port.toString(16).toUpperCase().padStart(4, '0');
  return table.split('\n').some((line) => new RegExp(`^\\s*\\d+: 0100007F:${hex} 00000000:0000 0A`).test(line));
}

const suite = IS_ROOT ? describe : describe.skip;
const title = IS_ROOT ? 'tyrant mode against a hostile tenant' : 'tyrant mode against a hostile tenant (SKIPPED: needs root to create test users)';

suite(title, () => {
  let t1: User;
  let t2: User;
  beforeAll(() => {
    t1 = ensureUser('kaiser-t1');
    t2 = ensureUser('kaiser-t2');
  });

  it('opens logto as the tenant: its own file works, a root-only directory stays untouched', async () => {
    const {root, vassals, rootOnly} = sharedSetup();
    const home = homeOf(root, t1);
    const own = join(home, 'own.log');
    const forbidden = join(rootOnly, 'created-by-logto');
    const e = emperor(vassals);
    publishAs(vassals, 'own.toml', sh('echo own-line; exec sleep 300') + `logto = ${JSON.stringify(own)}\n`, t1);
    publishAs(vassals, 'root.toml', sh('echo forbidden-line; exec sleep 300') + `logto = ${JSON.stringify(forbidden)}\n`, t1);
    await e.waitForLine(/KAISER_VASSAL_LOGTO vassal root\.toml: logto cannot open .*created-by-logto as uid \d+ gid \d+: .*Permission denied/, 15_000);
    await waitFor(() => existsSync(own) && readFileSync(own, 'utf8').includes('own-line'), 15_000, 'the tenant\'s own log line');
    expect(statSync(own).uid).toBe(t1.uid);
    expect(existsSync(forbidden)).toBe(false);
    // The output still reaches the emperor's log.
    await e.waitForLine(/forbidden-line/, 5_000);
  });

  it('rotates logto as the tenant: with log-backups = 0 a root file in a sticky directory is not deleted', async () => {
    const {vassals, sticky} = sharedSetup();
    const victim = join(sticky, 'victim.log');
    writeFileSync(victim, 'ORIGINAL-ROOT-CONTENT\n', {mode: 0o666});
    chmodSync(victim, 0o666);
    const e = emperor(vassals);
    publishAs(vassals, 'rot.toml', sh('echo first-line-from-t1; echo second-line-from-t1; exec sleep 300') + `logto = ${JSON.stringify(victim)}\nlog-maxsize = 10\nlog-backups = 0\n`, t1);
    await e.waitForLine(/KAISER_VASSAL_LOGTO vassal rot\.toml: logto cannot rotate .*victim\.log as uid \d+ gid \d+: .*(Operation not permitted|Permission denied)/, 15_000);
    const st = lstatSync(victim);
    expect(st.uid).toBe(0);
    expect(readFileSync(victim, 'utf8').startsWith('ORIGINAL-ROOT-CONTENT\n')).toBe(true);
  });

  it('binds a unix socket as the tenant: a root file at the path is neither removed nor replaced', async () => {
    const {root, vassals, rootOnly} = sharedSetup();
    const victim = join(rootOnly, 'victim-sock');
    writeFileSync(victim, 'ORIGINAL-ROOT-CONTENT\n', {mode: 0o600});
    const home = homeOf(root, t1);
    const own = join(home, 'app.sock');
    const e = emperor(vassals);
    publishAs(vassals, 'victim.toml', `exec = ["sleep", "300"]\nsocket = ${JSON.stringify(`unix:${victim}`)}\n`, t1);
    publishAs(vassals, 'own.toml', `exec = ["sleep", "300"]\nsocket = ${JSON.stringify(`unix:${own}`)}\n`, t1);
    await e.waitForLine(/KAISER_SOCKET_BIND_FAILED cannot bind unix:.*victim-sock: .*Permission denied/, 15_000);
    await e.waitForLine(/vassal own\.toml has been spawned/, 15_000);
    const sock = lstatSync(own);
    expect(sock.isSocket()).toBe(true);
    expect(sock.uid).toBe(t1.uid);
    expect(lstatSync(victim).isFile()).toBe(true);
    expect(readFileSync(victim, 'utf8')).toBe('ORIGINAL-ROOT-CONTENT\n');
    // The tenant's socket file goes with its vassal, removed as the tenant.
    renameSync(join(vassals, 'own.toml'), join(root, 'own.toml.gone'));
    await waitFor(() => !existsSync(own), 15_000, 'removal of the tenant\'s socket file');
  });

  it('never gives one tenant the socket another tenant holds', async () => {
    const {vassals} = sharedSetup();
    const port = await freePort();
    const e = emperor(vassals);
    publishAs(vassals, 'holder.toml', `exec = ["sleep", "300"]\nsocket = "tcp://127.0.0.1:${port}"\n`, t1);
    await e.waitForLine(/vassal holder\.toml has been spawned/, 15_000);
    publishAs(vassals, 'aaa-thief.toml', `exec = ["sleep", "300"]\nsocket = "tcp://127.0.0.1:${port}"\n`, t2);
    await e.waitForLine(new RegExp(`KAISER_SOCKET_TAKEN vassal aaa-thief\\.toml: tcp://127\\.0\\.0\\.1:${port} is held for a vassal of another user \\(uid ${t1.uid}\\)`), 15_000);
    expect(e.output()).not.toMatch(/vassal aaa-thief\.toml has been spawned/);
    // A second vassal of the same tenant may share it (a pool).
    publishAs(vassals, 'holder2.toml', `exec = ["sleep", "300"]\nsocket = "tcp://127.0.0.1:${port}"\n`, t1);
    await e.waitForLine(/vassal holder2\.toml has been spawned/, 15_000);
  });

  it('refuses a port below 1024 to a tenant unless --emperor-privileged-port allows it', async () => {
    const port = await lowPort();
    if (port === undefined) return; // every low port taken: nothing to test on this machine
    const first = sharedSetup();
    const e = emperor(first.vassals);
    publishAs(first.vassals, 'low.toml', `exec = ["sleep", "300"]\nsocket = "tcp://127.0.0.1:${port}"\n`, t1);
    await e.waitForLine(new RegExp(`KAISER_SOCKET_PRIVILEGED_PORT \\[emperor-tyrant\\] vassal low\\.toml runs as uid ${t1.uid} and names tcp://127\\.0\\.0\\.1:${port}`), 15_000);
    expect(listening(port)).toBe(false);
    e.signal('SIGINT');
    await e.exited;
    const second = sharedSetup();
    const allowed = emperor(second.vassals, ['--emperor-privileged-port', `${t1.name}:${port}`]);
    publishAs(second.vassals, 'low.toml', `exec = ["sleep", "300"]\nsocket = "tcp://127.0.0.1:${port}"\n`, t1);
    await allowed.waitForLine(/vassal low\.toml has been spawned/, 15_000);
    expect(listening(port)).toBe(true);
  });

  it('starts a tenant from a clean environment: no emperor secret, in its environment or through $(VAR)', async () => {
    const {root, vassals} = sharedSetup();
    const out = join(root, 'out');
    mkdirSync(out, {mode: 0o1777});
    chmodSync(out, 0o1777);
    const env = {...process.env, TRUST_EMPEROR_SECRET: 'secret-42', KAISER_TEST_PASSED: 'passed-7'};
    emperor(vassals, ['--emperor-pass-env', 'KAISER_TEST_*'], env);
    const report = join(out, 'env');
    publishAs(vassals, 'env.toml', sh(`echo "inherited=$TRUST_EMPEROR_SECRET expanded=$EXPANDED passed=$KAISER_TEST_PASSED user=$USER path=$PATH" > ${report}; exec sleep 300`) + 'env = { EXPANDED = "$(TRUST_EMPEROR_SECRET)" }\n', t1);
    const line = await waitFor(() => (existsSync(report) ? readFileSync(report, 'utf8') : undefined), 15_000, 'the tenant\'s environment report');
    expect(line).not.toContain('secret-42');
    expect(line).toContain('passed=passed-7');
    expect(line).toContain(`user=${t1.name}`);
    expect(line).toMatch(/path=\/\S+/);
  });

  it('reads what a tenant file includes as the tenant: a root-only file is refused, its content never shown', async () => {
    const {vassals, rootOnly} = sharedSetup();
    const secret = join(rootOnly, 'secret.ini');
    writeFileSync(secret, '[uwsgi]\nprocesses = ROOT-SECRET-VALUE\n', {mode: 0o600});
    const e = emperor(vassals);
    publishAs(vassals, 'inc.ini', `[uwsgi]\nini = ${secret}\nhttp-socket = 127.0.0.1:0\nwsgi-file = /nonexistent.py\n`, t1);
    await e.waitForLine(/inc\.ini.*permission denied for uid \d+/, 15_000);
    expect(e.output()).not.toContain('ROOT-SECRET-VALUE');
  });
  it('shows a tenant\'s symlinked vassal in the dashboard only as the emperor read it: a root-only target never', async () => {
    const {root, vassals, rootOnly} = sharedSetup();
    const secret = join(rootOnly, 'app-secret.toml');
    writeFileSync(secret, 'processes = "ROOT-SECRET-VALUE"\n', {mode: 0o600});
    const dash = join(root, 'dashboard.sock');
    const e = emperor(vassals, ['--dashboard', dash]);
    await e.waitForLine(/dashboard on/, 15_000);
    const leak = join(vassals, 'leak.toml');
    symlinkSync(secret, leak);
    lchownSync(leak, t1.uid, t1.gid);
    await e.waitForLine('KAISER_TYRANT_FOREIGN_SYMLINK', 15_000);
    const page = await new Promise<string>((resolve, reject) => {
      const req = request({socketPath: dash, path: '/api/vassals/leak.toml', headers: {host: 'localhost'}}, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (body += chunk));
        res.on('end', () => resolve(body));
      });
      req.on('error', reject);
      req.end();
    });
    expect(page).toContain('leak.toml');
    expect(page).not.toContain('ROOT-SECRET-VALUE');
    expect(e.output()).not.toContain('ROOT-SECRET-VALUE');
  });

  it('enters cwd as the tenant: a directory below a root-only one is refused, the tenant\'s own works', async () => {
    const {root, vassals, rootOnly} = sharedSetup();
    const sub = join(rootOnly, 'sub');
    mkdirSync(sub, {mode: 0o755});
    writeFileSync(join(sub, 'file.txt'), 'ROOT-SUB-CONTENT\n', {mode: 0o644});
    const home = homeOf(root, t1);
    const e = emperor(vassals);
    publishAs(vassals, 'sub.toml', sh('cat file.txt; exec sleep 300') + `cwd = ${JSON.stringify(sub)}\n`, t1);
    publishAs(vassals, 'home.toml', sh('echo "in=$(pwd)"; exec sleep 300') + `cwd = ${JSON.stringify(home)}\n`, t1);
    await e.waitForLine(/kaiser: cannot enter cwd .*\/root-only\/sub: Permission denied/, 15_000);
    await e.waitForLine(`in=${home}`, 15_000);
    expect(e.output()).not.toContain('ROOT-SUB-CONTENT');
  });

  it('applies a _defaults.toml only when root owns it, never a tenant\'s to another tenant', async () => {
    const {root, vassals} = sharedSetup();
    const out = join(root, 'out');
    mkdirSync(out, {mode: 0o1777});
    chmodSync(out, 0o1777);
    const e = emperor(vassals);
    publishAs(vassals, '_defaults.toml', 'env = { TRUST_INJECTED = "from-t1" }\n', t1);
    await e.waitForLine(/KAISER_DEFAULTS_FOREIGN_OWNER defaults file .*_defaults\.toml is owned by uid \d+/, 15_000);
    const report = join(out, 'defaults');
    publishAs(vassals, 'victim.toml', sh(`echo "injected=$TRUST_INJECTED" > ${report}; exec sleep 300`), t2);
    const line = await waitFor(() => (existsSync(report) ? readFileSync(report, 'utf8') : undefined), 15_000, 'the report of t2\'s vassal');
    expect(line).toBe('injected=\n');
  });

  (CGROUPS.kind === 'none' ? it.skip : it)('keeps the vassal environment out of the root cgroup wrapper, and gives each vassal its own cgroup', async () => {
    const {root, vassals} = sharedSetup();
    const out = join(root, 'out');
    mkdirSync(out, {mode: 0o1777});
    chmodSync(out, 0o1777);
    const e = emperor(vassals);
    publishAs(vassals, 'preload.toml', `exec = ["sleep", "300"]\nmemory-limit = 64\nenv = { LD_DEBUG = "files", LD_DEBUG_OUTPUT = ${JSON.stringify(join(out, 'lddebug'))} }\n`, t1);
    publishAs(vassals, 'a_b.toml', 'exec = ["sleep", "300"]\nmemory-limit = 256\n', t2);
    publishAs(vassals, 'a b.toml', 'exec = ["sleep", "300"]\nmemory-limit = 512\n', t1);
    const pids: Record<string, number> = {};
    for (const name of ['preload.toml', 'a_b.toml', 'a b.toml']) {
      const line = await e.waitForLine(new RegExp(`vassal ${name.replace(/\./g, '\\.')} has been spawned \\(pid: (\\d+)\\)`), 15_000);
      pids[name] = Number(/pid: (\d+)/.exec(line)![1]);
    }
    // The program itself got its environment (LD_DEBUG writes as the tenant); no root process did.
    const traces = await waitFor(() => {
      const files = readdirSync(out).filter((f) => f.startsWith('lddebug'));
      return files.length > 0 && files;
    }, 15_000, 'an LD_DEBUG trace of the tenant\'s program');
    for (const file of traces) expect({file, uid: statSync(join(out, file)).uid}).toEqual({file, uid: t1.uid});
    const group = (pid: number) => readFileSync(`/proc/${pid}/cgroup`, 'utf8');
    await waitFor(() => group(pids['a_b.toml']!).includes('kaiser-') && group(pids['a b.toml']!).includes('kaiser-'), 5_000, 'both vassals in their cgroups');
    expect(group(pids['a_b.toml']!)).not.toBe(group(pids['a b.toml']!));
    // Removing one tenant's vassal leaves the other's running.
    renameSync(join(vassals, 'a b.toml'), join(root, 'a b.toml.gone'));
    await e.waitForLine('stop the uwsgi instance a b.toml', 15_000);
    await waitFor(() => !isAlive(pids['a b.toml']!), 15_000, 'the removed vassal to exit');
    expect(isAlive(pids['a_b.toml']!)).toBe(true);
  });
});
