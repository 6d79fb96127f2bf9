/**
 * The runtime host (zygote): app-server masters are forked by one python host per emperor. Spawn and reload work
 * through it, masters are its children, an emperor SIGKILL takes host, masters and workers down, a host SIGKILL
 * leaves vassals serving and the host is restarted; the waker reports a pending connection on an armed socket only.
 */
import {afterEach, describe, expect, it} from '@jest/globals';
import {readFileSync, renameSync, writeFileSync} from 'node:fs';
import {connect, type Socket} from 'node:net';
import {join} from 'node:path';
import winston from 'winston';
import {RuntimeHost} from '../../src/emperor/runtime-host.js';
import {
  ROOT,
  cleanupProcesses,
  freePort,
  httpGet,
  isAlive,
  processTable,
  processTree,
  startKaiser,
  tempDir,
  waitFor,
  waitFor200,
} from '../helpers/processes.js';

afterEach(() => cleanupProcesses());

const HOST_PY = join(ROOT, 'src/server/python/host.py');

function setupVassal(dir: string, name: string, port: number, body: string, processes = 2): void {
  const app = join(dir, `${name}.py`);
  writeFileSync(app, `def application(env, start_response):\n    start_response('200 OK', [('Content-Type', 'text/plain')])\n    return [b'${body}']\n`);
  const tmp = join(dir, `.${name}.ini.tmp`);
  writeFileSync(tmp, `[uwsgi]\nhttp-socket = 127.0.0.1:${port}\nwsgi-file = ${app}\nmaster = true\nprocesses = ${processes}\n`);
  renameSync(tmp, join(dir, `${name}.ini`));
}

function cmdline(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'latin1').replace(/\0/g, ' ');
  } catch {
    return '';
  }
}

/** The host: the emperor's child running host.py. */
function hostOf(emperorPid: number): number | undefined {
  // The host is titled `kaiser host` once it runs (procname.py); `host.py` while it starts.
  for (const [pid, row] of processTable()) if (row.ppid === emperorPid && row.state !== 'Z' && /host\.py|^kaiser host$/.test(cmdline(pid).trim())) return pid;
  return undefined;
}

/** Pid of the master serving `name`, from the emperor's spawn line. */
async function masterPid(emperor: ReturnType<typeof startKaiser>, name: string, fromLine = 0): Promise<number> {
  const line = await emperor.waitForLine(new RegExp(`vassal ${name.replace('.', '\\.')} has been spawned \\(pid: (\\d+)\\)`), 10_000, fromLine);
  return Number(/pid: (\d+)/.exec(line)![1]);
}

describe('runtime host: app-server masters forked by the host', () => {
  it('runs a single app-server vassal without the host, and starts the host with the second', async () => {
    const dir = tempDir();
    const [p1, p2] = [await freePort(), await freePort()];
    const emperor = startKaiser(['--emperor', dir]);
    setupVassal(dir, 'first', p1, 'one', 1);
    await waitFor200(p1, 15_000);
    const first = await masterPid(emperor, 'first.ini');
    expect(processTable().get(first)?.ppid).toBe(emperor.pid);
    expect(hostOf(emperor.pid)).toBeUndefined();
    setupVassal(dir, 'second', p2, 'two', 1);
    await waitFor200(p2, 15_000);
    expect(processTable().get(await masterPid(emperor, 'second.ini'))?.ppid).toBe(hostOf(emperor.pid));
  });

  it('spawns, reloads, and the master is a child of the host', async () => {
    const dir = tempDir();
    const [other, port] = [await freePort(), await freePort()];
    const emperor = startKaiser(['--emperor', dir]);
    // The host starts with the second app-server vassal.
    setupVassal(dir, 'other', other, 'o', 1);
    await waitFor200(other, 15_000);
    setupVassal(dir, 'app', port, 'v1');
    expect((await waitFor200(port, 15_000)).body).toBe('v1');
    const master = await masterPid(emperor, 'app.ini');
    const host = hostOf(emperor.pid);
    expect(host).toBeDefined();
    expect(processTable().get(master)?.ppid).toBe(host);
    // its own session (process group leader), as with a direct spawn
    expect(processTable().get(master)?.session).toBe(master);
    const workers = processTree(master).filter((pid) => pid !== master);
    expect(workers.length).toBe(2);

    setupVassal(dir, 'app', port, 'v2');
    await waitFor(async () => (await httpGet(port))?.body === 'v2', 15_000, 'v2 served after reload');
    // reloaded in place: same master, new workers
    expect(isAlive(master)).toBe(true);
    await waitFor(() => workers.every((pid) => !isAlive(pid)), 10_000, 'old workers retired');
  });

  it('can be turned off with --emperor-zygote=false', async () => {
    const dir = tempDir();
    const port = await freePort();
    const emperor = startKaiser(['--emperor', dir, '--emperor-zygote=false']);
    setupVassal(dir, 'app', port, 'direct', 1);
    expect((await waitFor200(port, 15_000)).body).toBe('direct');
    const master = await masterPid(emperor, 'app.ini');
    expect(hostOf(emperor.pid)).toBeUndefined();
    expect(processTable().get(master)?.ppid).toBe(emperor.pid);
  });

  it('SIGKILL of the emperor kills host, masters and workers (the end of its channel and pipes tells them)', async () => {
    const dir = tempDir();
    const [p1, p2] = [await freePort(), await freePort()];
    const emperor = startKaiser(['--emperor', dir]);
    setupVassal(dir, 'a', p1, 'a');
    setupVassal(dir, 'b', p2, 'b');
    await waitFor200(p1, 15_000);
    await waitFor200(p2, 15_000);
    const family = processTree(emperor.pid).filter((pid) => pid !== emperor.pid);
    expect(family.length).toBeGreaterThanOrEqual(8); // reaper, host, 2 masters, 4 workers
    emperor.signal('SIGKILL');
    await waitFor(() => family.every((pid) => !isAlive(pid)), 15_000, 'host, masters and workers gone');
  });

  it('SIGKILL of the host leaves vassals serving, and the emperor restarts the host', async () => {
    const dir = tempDir();
    const [p1, p2] = [await freePort(), await freePort()];
    const emperor = startKaiser(['--emperor', dir]);
    // The host starts with the second app-server vassal.
    setupVassal(dir, 'other', await freePort(), 'o', 1);
    await masterPid(emperor, 'other.ini');
    setupVassal(dir, 'a', p1, 'a');
    await waitFor200(p1, 15_000);
    const master = await masterPid(emperor, 'a.ini');
    const host = hostOf(emperor.pid)!;
    expect(processTable().get(master)?.ppid).toBe(host);
    process.kill(host, 'SIGKILL');
    await emperor.waitForLine('the runtime host died');
    const restarted = await emperor.waitForLine(/runtime host restarted \(pid: \d+\)/);
    const again = Number(/pid: (\d+)/.exec(restarted)![1]);
    expect(again).not.toBe(host);
    expect(hostOf(emperor.pid)).toBe(again);
    // the vassal kept serving all along
    expect((await httpGet(p1))?.body).toBe('a');
    expect(isAlive(master)).toBe(true);
    // a new vassal is forked by the new host
    const from = emperor.lines.length;
    setupVassal(dir, 'b', p2, 'b');
    expect((await waitFor200(p2, 15_000)).body).toBe('b');
    const second = await masterPid(emperor, 'b.ini', from);
    expect(processTable().get(second)?.ppid).toBe(again);
    // the orphaned master still obeys the emperor: a reload and then a stop reach it through its pipe
    setupVassal(dir, 'a', p1, 'a2');
    await waitFor(async () => (await httpGet(p1))?.body === 'a2', 15_000, 'a2 served after reload');
  });
});

describe('runtime host: waker', () => {
  const log = winston.createLogger({silent: true});
  const binding = (process as unknown as {binding(name: string): unknown}).binding.bind(process);
  type Tcp = {bind(host: string, port: number): number; close(): void; getsockname(out: Record<string, unknown>): number};
  const {TCP, constants} = binding('tcp_wrap') as {TCP: new (type: number) => Tcp; constants: {SERVER: number}};
  let host: RuntimeHost | undefined;
  const sockets: Socket[] = [];
  afterEach(async () => {
    for (const s of sockets.splice(0)) s.destroy();
    await host?.close();
    host = undefined;
  });

  it('wakes once for a pending connection on an armed socket, never for a disarmed one', async () => {
    host = new RuntimeHost({python: '/usr/bin/python3', hostPy: HOST_PY, log});
    expect(await host.start()).toBe(true);
    const bound: {tcp: Tcp; port: number}[] = [];
    for (let i = 0; i < 2; i++) {
      const tcp = new TCP(constants.SERVER);
      expect(tcp.bind('127.0.0.1', 0)).toBe(0);
      const name: Record<string, unknown> = {};
      tcp.getsockname(name);
      bound.push({tcp, port: name['port'] as number});
    }
    const wakes: string[] = [];
    host.onWake((key) => wakes.push(key));
    void host.addSocket('armed', bound[0]!.tcp);
    void host.addSocket('disarmed', bound[1]!.tcp);
    host.arm('armed');
    host.arm('disarmed');
    host.disarm('disarmed');
    await new Promise((r) => setTimeout(r, 200));
    expect(wakes).toEqual([]);
    for (const {port} of bound) {
      const s = connect(port, '127.0.0.1');
      s.on('error', () => undefined);
      sockets.push(s);
    }
    await waitFor(() => wakes.length > 0, 3000, 'a wake event');
    await new Promise((r) => setTimeout(r, 300));
    expect(wakes).toEqual(['armed']);
    for (const {tcp} of bound) tcp.close();
  });
});
