/**
 * memory-limit and cpu-limit through cgroups, with real processes: a vassal that allocates past its limit is killed by
 * the OOM killer in its own cgroup, reported as over memory-limit and backed off while a neighbour keeps serving; a
 * busy loop under cpu-limit = 20 gets its CFS quota and stays near it; app-server masters forked by the runtime host
 * join their cgroup (workers too); the emperor removes its groups when it stops. Needs root and cgroups (v1 or v2).
 */
import {afterEach, describe, expect, it} from '@jest/globals';
import {existsSync, readFileSync, writeFileSync} from 'node:fs';
import {join} from 'node:path';
import {detectCgroups} from '../../src/emperor/cgroups.js';
import {PYTHON, ROOT, cleanupProcesses, emperorStats, freePort, processTree, publish, startKaiser, tempDir, waitFor, waitFor200, type Started} from '../helpers/processes.js';

const SERVER = join(ROOT, 'test/fixtures/procs/http-server.py');
const SUPPORT = detectCgroups();
const suite = SUPPORT.kind === 'none' ? describe.skip : describe;
const title = SUPPORT.kind === 'none' ? `vassal limits (SKIPPED: cgroups unavailable: ${SUPPORT.reason})` : `vassal limits (cgroup ${SUPPORT.kind})`;

afterEach(() => cleanupProcesses());

interface VassalStats {
  id: string;
  pid: number;
  state: string;
  cpu: number;
  rss: number;
  restarts: number;
  last_error: string;
}

async function stats(port: number): Promise<VassalStats[]> {
  return (await emperorStats<VassalStats>(port)).vassals;
}

async function startEmperor(dir: string): Promise<{emperor: Started; statsPort: number}> {
  const statsPort = await freePort();
  const emperor = startKaiser(['--emperor', dir, '--emperor-stats', `127.0.0.1:${statsPort}`, '--emperor-accounting-freq', '1']);
  await emperor.waitForLine('Emperor stats server enabled', 10_000);
  return {emperor, statsPort};
}

/** The directory of `pid`'s cgroup for `controller` (v1) or its unified cgroup (v2), from /proc. */
function cgroupDirOf(pid: number, controller: 'memory' | 'cpu'): string {
  const lines = readFileSync(`/proc/${pid}/cgroup`, 'utf8').split('\n');
  const mountinfo = readFileSync('/proc/self/mountinfo', 'utf8').split('\n');
  if (SUPPORT.kind === 'v1') {
    const path = lines.map((l) => /^\d+:([^:]*):(.*)$/.exec(l)).find((m) => m?.[1]?.split(',').includes(controller))?.[2] ?? '';
    const mount = mountinfo.find((l) => / - cgroup /.test(l) && l.split(' - ')[1]!.split(' ')[2]!.split(',').includes(controller))!.split(' ');
    return join(mount[4]!, path.slice(mount[3] === '/' ? 0 : mount[3]!.length));
  }
  const path = lines.find((l) => l.startsWith('0::'))!.slice(3);
  const mount = mountinfo.find((l) => / - cgroup2 /.test(l))!.split(' ');
  return join(mount[4]!, path.slice(mount[3] === '/' ? 0 : mount[3]!.length));
}

/** Waits until `pid` has joined its group (the spawn wrapper writes cgroup.procs right after the fork). */
function joined(pid: number, controller: 'memory' | 'cpu', group: string): Promise<string> {
  const pattern = new RegExp(`/${group.replace(/\./g, '\\.')}$`);
  return waitFor(() => {
    const dir = cgroupDirOf(pid, controller);
    return pattern.test(dir) && dir;
  }, 15_000, `pid ${pid} in the ${controller} cgroup ${group}`);
}

async function spawnedPid(emperor: Started, name: string, fromLine = 0): Promise<number> {
  const line = await emperor.waitForLine(new RegExp(`vassal ${name.replace(/\./g, '\\.')} has been spawned \\(pid: (\\d+)\\)`), 15_000, fromLine);
  return Number(/pid: (\d+)/.exec(line)![1]);
}

/** SIGTERM, wait for the exit, then check the emperor removed its kaiser-<pid> groups. */
async function stopAndCheckCleanup(emperor: Started, groupDirs: string[]): Promise<void> {
  emperor.signal('SIGTERM');
  await emperor.exited;
  for (const dir of groupDirs) expect({dir, exists: existsSync(dir)}).toEqual({dir, exists: false});
}

const cpuUsageSeconds = (dir: string): number =>
  SUPPORT.kind === 'v1'
    ? Number(readFileSync(join(dir.replace(/\/cpu(\/|$)/, '/cpuacct$1'), 'cpuacct.usage'), 'utf8')) / 1e9
    : Number(/^usage_usec (\d+)$/m.exec(readFileSync(join(dir, 'cpu.stat'), 'utf8'))![1]) / 1e6;

suite(title, () => {
  it('kills a vassal over its memory-limit, reports it and backs off, while a neighbour keeps serving', async () => {
    const dir = tempDir();
    const port = await freePort();
    const {emperor, statsPort} = await startEmperor(dir);
    publish(dir, 'neighbour.toml', `exec = ["${PYTHON}", "${SERVER}", "${port}"]\nready = "tcp://127.0.0.1:${port}"\n`);
    await waitFor200(port, 15_000);
    const neighbour = await spawnedPid(emperor, 'neighbour.toml');
    // 10 MB more every 20 ms, up to 200 MB, each page touched.
    const hog = `const a = []; const t = setInterval(() => { a.push(Buffer.alloc(10 * 1048576, 1)); if (a.length >= 20) clearInterval(t); }, 20); setInterval(() => a.length, 1000);`;
    publish(dir, 'hog.toml', `exec = ["${process.execPath}", "-e", ${JSON.stringify(hog)}]\nmemory-limit = 64\n`);
    const hogPid = await spawnedPid(emperor, 'hog.toml');
    const memoryDir = await joined(hogPid, 'memory', `kaiser-${emperor.pid}/hog.toml`);
    const limitFile = SUPPORT.kind === 'v1' ? 'memory.limit_in_bytes' : 'memory.max';
    expect(readFileSync(join(memoryDir, limitFile), 'utf8').trim()).toBe(String(64 * 1048576));
    await emperor.waitForLine(`vassal hog.toml (pid: ${hogPid}) killed: over memory-limit 64 MB`, 15_000);
    await emperor.waitForLine(/vassal hog\.toml failed 1 time\(s\); respawning in 1 s/);
    const hog1 = (await stats(statsPort)).find((v) => v.id === 'hog.toml');
    expect(hog1?.last_error).toBe('killed: over memory-limit 64 MB');
    // Backoff, not an immediate respawn: the second failure waits 2 s.
    await emperor.waitForLine(/vassal hog\.toml failed 2 time\(s\); respawning in 2 s/, 15_000);
    expect((await waitFor200(port)).status).toBe(200);
    const after = (await stats(statsPort)).find((v) => v.id === 'neighbour.toml');
    expect(after).toMatchObject({pid: neighbour, restarts: 0, state: 'ready', last_error: ''});
    await stopAndCheckCleanup(emperor, [join(memoryDir, '..')]);
  });

  it('applies cpu-limit = 20 as a CFS quota: a busy loop stays near 20 % of one core', async () => {
    const dir = tempDir();
    const {emperor, statsPort} = await startEmperor(dir);
    publish(dir, 'busy.toml', `exec = ["${process.execPath}", "-e", "for (;;) {}"]\ncpu-limit = 20\n`);
    const pid = await spawnedPid(emperor, 'busy.toml');
    const cpuDir = await joined(pid, 'cpu', `kaiser-${emperor.pid}/busy.toml`);
    if (SUPPORT.kind === 'v1') {
      expect(readFileSync(join(cpuDir, 'cpu.cfs_quota_us'), 'utf8').trim()).toBe('20000');
      expect(readFileSync(join(cpuDir, 'cpu.cfs_period_us'), 'utf8').trim()).toBe('100000');
    } else {
      expect(readFileSync(join(cpuDir, 'cpu.max'), 'utf8').trim()).toBe('20000 100000');
    }
    // A measurement over a window of 2 s (not a synchronisation): CPU time of the group / wall time.
    const before = {cpu: cpuUsageSeconds(cpuDir), at: performance.now()};
    await new Promise((resolve) => setTimeout(resolve, 2_000));
    const percent = ((cpuUsageSeconds(cpuDir) - before.cpu) / ((performance.now() - before.at) / 1000)) * 100;
    expect(percent).toBeGreaterThan(5);
    expect(percent).toBeLessThan(60);
    // The emperor's accounting reads the same group (two passes: its period stretches with the cost of a pass on a
    // loaded machine, 100 times the pass's CPU time, so the wait is generous; a missing figure still fails).
    const busy = await waitFor(async () => (await stats(statsPort)).find((v) => v.id === 'busy.toml' && v.cpu > 0), 30_000, 'cpu figure of busy.toml');
    expect(busy.cpu).toBeLessThan(60);
    await stopAndCheckCleanup(emperor, [join(cpuDir, '..')]);
  });

  it('puts app-server masters forked by the runtime host (and their workers) into their cgroup', async () => {
    const dir = tempDir();
    const [p1, p2] = [await freePort(), await freePort()];
    const {emperor} = await startEmperor(dir);
    for (const [name, port] of [['app1', p1], ['app2', p2]] as const) {
      const app = join(dir, `${name}.py`);
      writeFileSync(app, `def application(env, start_response):\n    start_response('200 OK', [('Content-Type', 'text/plain')])\n    return [b'${name}']\n`);
      publish(dir, `${name}.ini`, `[uwsgi]\nhttp-socket = 127.0.0.1:${port}\nwsgi-file = ${app}\nprocesses = 2\nmemory-limit = 128\ncpu-limit = 50\n`);
      await waitFor200(port, 15_000);
    }
    // app2 is the host's fork (the host starts with the second app-server vassal).
    const master = await spawnedPid(emperor, 'app2.ini');
    const tree = processTree(master);
    expect(tree.length).toBeGreaterThanOrEqual(3);
    for (const pid of tree) {
      expect(cgroupDirOf(pid, 'memory')).toMatch(new RegExp(`/kaiser-${emperor.pid}/app2\\.ini$`));
      expect(cgroupDirOf(pid, 'cpu')).toMatch(new RegExp(`/kaiser-${emperor.pid}/app2\\.ini$`));
    }
    const memoryDir = cgroupDirOf(master, 'memory');
    expect(readFileSync(join(memoryDir, SUPPORT.kind === 'v1' ? 'memory.limit_in_bytes' : 'memory.max'), 'utf8').trim()).toBe(String(128 * 1048576));
    const direct = await spawnedPid(emperor, 'app1.ini');
    expect(cgroupDirOf(direct, 'memory')).toMatch(new RegExp(`/kaiser-${emperor.pid}/app1\\.ini$`));
    await stopAndCheckCleanup(emperor, [join(memoryDir, '..')]);
  });
});

describe('vassal limits without cgroups (KAISER_NO_CGROUPS=1)', () => {
  it('says so once, enforces memory-limit by sampling, and warns that cpu-limit is not enforced', async () => {
    const dir = tempDir();
    const statsPort = await freePort();
    const emperor = startKaiser(['--emperor', dir, '--emperor-stats', `127.0.0.1:${statsPort}`, '--emperor-accounting-freq', '1'], {
      env: {...process.env, KAISER_NO_CGROUPS: '1'},
    });
    await emperor.waitForLine('Emperor stats server enabled', 10_000);
    const hog = `const a = []; const t = setInterval(() => { a.push(Buffer.alloc(10 * 1048576, 1)); if (a.length >= 20) clearInterval(t); }, 20); setInterval(() => a.length, 1000);`;
    publish(dir, 'hog.toml', `exec = ["${process.execPath}", "-e", ${JSON.stringify(hog)}]\nmemory-limit = 64\ncpu-limit = 20\n`);
    await emperor.waitForLine(/cgroups unavailable \(KAISER_NO_CGROUPS=1\): memory-limit is enforced by sampling every 1 s/);
    await emperor.waitForLine('vassal hog.toml: cpu-limit needs cgroups: not enforced');
    // 30 s: the accounting period stretches to 100 times a /proc pass: about 6 s with 2500 processes on the machine
    // (estimated from vassal-accounting.ts's ~25 µs a process, not measured here)
    await emperor.waitForLine(/vassal hog\.toml uses \d+ MB, over its memory-limit of 64 MB: killing it/, 30_000);
    await emperor.waitForLine(/vassal hog\.toml \(pid: \d+\) killed: over memory-limit 64 MB/);
    await emperor.waitForLine(/vassal hog\.toml failed 1 time\(s\); respawning in 1 s/);
    expect(emperor.lines.filter((l) => l.includes('cgroups unavailable'))).toHaveLength(1);
  });
});
