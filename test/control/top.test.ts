/** `kaiser top`: frames from the emperor, from a uWSGI-style instance stats server and from an emperor stats document; rates from deltas. */
import {createServer, type Server} from 'node:net';
import {join} from 'node:path';
import {afterEach, describe, expect, it} from '@jest/globals';
import {runControlCommand} from '../../src/control/commands.js';
import {startControlServer, type ControlServer} from '../../src/control/server.js';
import {TopView, renderTopFrame} from '../../src/control/top.js';
import {Capture, FakeEmperor, captureLog, removeTempDirs, row, tempDir} from './control-rig.js';

const servers: (ControlServer | Server)[] = [];

/** uWSGI 2.0's instance stats, trimmed (UWSGI-REFERENCE §12.1); `requests` grows by 10 per served document. */
function instanceStats(served: number): object {
  const worker = (id: number, pid: number) => ({
    id, pid, accepting: 1, requests: 100 * id + 10 * served, delta_requests: 1, exceptions: 0, harakiri_count: 0, signals: 0,
    signal_queue: 0, status: id === 1 ? 'busy' : 'idle', rss: 30 * 1024 * 1024, vsz: 0, running_time: 1_500_000,
    last_spawn: 1_795_499_404, respawn_count: 1, tx: 2048, avg_rt: 1500, apps: [], cores: [],
  });
  return {
    version: '2.0.21-debian', listen_queue: 0, listen_queue_errors: 0, signal_queue: 0, load: 0, pid: 7318, uid: 0, gid: 0,
    cwd: '/srv/app', locks: [], sockets: [], workers: [worker(1, 7320), worker(2, 7321)],
  };
}

/** A stats server like uWSGI's: one JSON document per connection, then EOF. */
function startStatsServer(listen: (server: Server, ready: () => void) => void, doc: (served: number) => object): Promise<Server> {
  let served = 0;
  const server = createServer((socket) => {
    socket.on('error', () => undefined);
    socket.end(JSON.stringify(doc(served++), null, '\t'));
  });
  servers.push(server);
  return new Promise((resolve) => listen(server, () => resolve(server)));
}

async function run(args: string[], env: Record<string, string> = {}) {
  const stdout = new Capture();
  const stderr = new Capture();
  const code = await runControlCommand('top', args, {env, stdout, stderr, timeoutMs: 5_000});
  return {code, stdout: stdout.text, stderr: stderr.text};
}

afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => ('path' in s ? s.close() : new Promise<void>((resolve) => s.close(() => resolve())))));
  removeTempDirs();
});

describe('kaiser top', () => {
  it('shows the emperor rows once with --once', async () => {
    const path = join(tempDir(), 'control.sock');
    const started = await startControlServer(path, new FakeEmperor(), captureLog());
    if (!started.ok) throw new Error(started.error);
    servers.push(started.value);
    const {code, stdout} = await run(['--once', '--control', path]);
    expect(code).toBe(0);
    expect(stdout).toContain(`kaiser top - emperor on ${path}`);
    expect(stdout).toContain('vassals 2 (1 ready)');
    expect(stdout).toMatch(/NAME\s+KIND\s+STATE/);
    expect(stdout).toContain('shop.ini');
    expect(stdout).not.toContain('\x1b[');
  });

  it('shows the workers of a uWSGI-style stats server at HOST:PORT', async () => {
    const server = await startStatsServer((s, ready) => s.listen(0, '127.0.0.1', ready), instanceStats);
    const address = server.address();
    if (address === null || typeof address === 'string') throw new Error('no port');
    const {code, stdout} = await run(['--once', `127.0.0.1:${address.port}`]);
    expect(code).toBe(0);
    expect(stdout).toContain('2.0.21-debian  pid 7318');
    expect(stdout).toContain('workers 2 (1 busy)');
    expect(stdout).toMatch(/WID\s+PID\s+STATUS\s+REQ\s+RPS/);
    expect(stdout).toMatch(/\n1\s+7320\s+busy\s+100\s+-\s+0\s+1\.5ms\s+30\.0M/);
    expect(stdout).toMatch(/\n2\s+7321\s+idle\s+200/);
  });

  it('counts cheaped workers (cheaper: status "cheap", no pid) apart from the running ones', async () => {
    const cheaper = (served: number) => {
      const doc = instanceStats(served) as {workers: Record<string, unknown>[]};
      doc.workers.push({...doc.workers[1], id: 3, pid: 0, status: 'cheap', requests: 0});
      return doc;
    };
    const server = await startStatsServer((s, ready) => s.listen(0, '127.0.0.1', ready), cheaper);
    const address = server.address();
    if (address === null || typeof address === 'string') throw new Error('no port');
    const {stdout} = await run(['--once', `127.0.0.1:${address.port}`]);
    expect(stdout).toContain('workers 2 (1 busy, 1 cheap)');
    expect(stdout).toMatch(/\n3\s+-\s+cheap\s+0/);
  });

  it('prints a frame as JSON with --json', async () => {
    const server = await startStatsServer((s, ready) => s.listen(0, '127.0.0.1', ready), instanceStats);
    const address = server.address();
    if (address === null || typeof address === 'string') throw new Error('no port');
    const {stdout} = await run(['--once', '--json', `127.0.0.1:${address.port}`]);
    const frame = JSON.parse(stdout) as {kind: string; workers: {pid: number}[]};
    expect(frame.kind).toBe('instance');
    expect(frame.workers.map((w) => w.pid)).toEqual([7320, 7321]);
  });

  it('shows the vassals of an emperor stats document on a UNIX socket', async () => {
    const path = join(tempDir(), 'stats.sock');
    const doc = {version: 'kaiser-0.1.0', pid: 1, emperor: ['/srv'], vassals: [{id: 'app1.ini', pid: 30705, ready: 1, loyal: 1, respawns: 0, state: 'ready', rss: 1024}], blacklist: []};
    await startStatsServer((s, ready) => s.listen(path, ready), () => doc);
    const {code, stdout} = await run(['--once', path]);
    expect(code).toBe(0);
    expect(stdout).toMatch(/\napp1\.ini\s+30705\s+ready\s+yes\s+yes/);
  });

  it('clears the screen before each frame when stdout is a terminal', async () => {
    const path = join(tempDir(), 'stats.sock');
    await startStatsServer((s, ready) => s.listen(path, ready), instanceStats);
    const stdout = new Capture(true);
    expect(await runControlCommand('top', ['--once', path], {env: {}, stdout, stderr: new Capture()})).toBe(0);
    expect(stdout.text.startsWith('\x1b[H\x1b[2J')).toBe(true);
  });

  it('exits 1 when the stats server is not there, and 2 on a bad address', async () => {
    expect((await run(['--once', join(tempDir(), 'missing.sock')])).code).toBe(1);
    expect((await run(['--once', 'localhost:99999'])).code).toBe(2);
  });

  it('refreshes until interrupted, as plain blocks when stdout is not a terminal', async () => {
    const server = await startStatsServer((s, ready) => s.listen(0, '127.0.0.1', ready), instanceStats);
    const address = server.address();
    if (address === null || typeof address === 'string') throw new Error('no port');
    const stdout = new Capture();
    const abort = new AbortController();
    const running = runControlCommand('top', [`127.0.0.1:${address.port}`], {env: {}, stdout, stderr: new Capture(), signal: abort.signal});
    await stdout.waitFor('requests 320');
    abort.abort();
    expect(await running).toBe(0);
    expect(stdout.text.match(/kaiser top - /g)).toHaveLength(2);
    expect(stdout.text).not.toContain('\x1b[');
  });
});

describe('TopView', () => {
  it('computes requests per second from the previous sample, never negative', () => {
    const view = new TopView();
    const at = 1_795_499_500_000;
    const first = view.frame({kind: 'stats', document: instanceStats(0)}, at);
    expect(first.kind === 'instance' && first.rps).toBeNull();
    const second = view.frame({kind: 'stats', document: instanceStats(2)}, at + 2_000);
    if (second.kind !== 'instance') throw new Error(second.kind);
    expect(second.workers.map((w) => w.rps)).toEqual([10, 10]);
    expect(second.rps).toBe(20);
    const restarted = view.frame({kind: 'stats', document: instanceStats(0)}, at + 3_000);
    if (restarted.kind !== 'instance') throw new Error(restarted.kind);
    expect(restarted.workers.map((w) => w.rps)).toEqual([0, 0]);
    expect(renderTopFrame(second, 'x', at + 2_000)).toMatch(/\n1\s+7320\s+busy\s+120\s+10\.0/);
  });

  it('counts as ready every vassal that serves, also mid-reload (as `kaiser status` and the metrics do)', () => {
    const rows = [row('a.ini'), row('b.ini', {state: 'reloading'}), row('c.ini', {state: 'reload-failed'}), row('d.ini', {state: 'starting'})];
    const frame = new TopView().frame({kind: 'emperor', rows}, 0);
    expect(renderTopFrame(frame, 'x', 0)).toContain('vassals 4 (3 ready)');
  });

  it('says what it cannot show', () => {
    expect(new TopView().frame({kind: 'stats', document: [1, 2]}, 0).kind).toBe('unknown');
    expect(new TopView().frame({kind: 'stats', document: {hello: 1}}, 0)).toMatchObject({kind: 'unknown'});
  });
});
