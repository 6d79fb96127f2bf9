/**
 * The Python master's supervision: harakiri, max-requests, reload-on-rss, crash respawn, stats JSON,
 * master FIFO, graceful SIGTERM, failed first load.
 */
import {writeFileSync} from 'node:fs';
import {join} from 'node:path';
import {afterAll, describe, expect, test} from '@jest/globals';
import {runtimeConfig} from './helpers/runtime-config.js';
import {APPS, Master, cleanup, get, readStats, startMaster, tempDir, until} from './helpers/master.js';

afterAll(cleanup);

async function statsPort(m: Master): Promise<number> {
  const s = await m.waitFor(/Stats server enabled on 127\.0\.0\.1:(\d+)/);
  return Number(s[1]);
}

describe('recycling', () => {
  test('harakiri kills a stuck worker, logs it and respawns', async () => {
    const {m, port} = await startMaster({'wsgi-file': join(APPS, 'slow.py'), harakiri: 1, stats: '127.0.0.1:0'});
    const before = (await get(port, '/')).body.toString();
    await expect(get(port, '/sleep?30')).rejects.toThrow();
    await m.waitFor(new RegExp(`HARAKIRI ON WORKER 1 \\(pid: ${before}`));
    await m.waitFor(/spawned uWSGI worker 1 .*/, 5000, m.lines.findIndex((l) => l.includes('HARAKIRI')));
    const after = (await get(port, '/')).body.toString();
    expect(after).not.toBe(before);
    const stats = JSON.parse(await readStats(await statsPort(m))) as {workers: Array<{harakiri_count: number}>};
    expect(stats.workers[0]?.harakiri_count).toBe(1);
  });

  test('max-requests recycles a worker after N requests', async () => {
    const {port} = await startMaster({'wsgi-file': join(APPS, 'slow.py'), 'max-requests': 3});
    const pids = [];
    for (let i = 0; i < 6; i++) pids.push((await get(port, '/')).body.toString());
    expect(pids[0]).toBe(pids[2]);
    expect(pids[3]).not.toBe(pids[2]);
    expect(pids[3]).toBe(pids[5]);
  });

  test('reload-on-rss recycles a worker whose RSS grew past the limit', async () => {
    const {m, port} = await startMaster({'wsgi-file': join(APPS, 'leak.py'), 'reload-on-rss': 40});
    const first = (await get(port, '/')).body.toString();
    await until(async () => (await get(port, '/')).body.toString() !== first, 15000, 'a new worker pid');
    await m.waitFor(/reached reload-on-rss/);
  });

  test('a crashed worker is respawned', async () => {
    const {m, port} = await startMaster({'wsgi-file': join(APPS, 'slow.py')});
    const pid = Number((await get(port, '/')).body.toString());
    process.kill(pid, 'SIGKILL');
    await m.waitFor(new RegExp(`DAMN ! worker 1 \\(pid: ${pid}\\) died :\\( trying respawn \\.\\.\\.`));
    await until(async () => {
      try {
        return (await get(port, '/')).body.toString() !== String(pid);
      } catch {
        return false;
      }
    }, 10000, 'respawned worker');
  });
});

describe('control', () => {
  test('stats JSON has uWSGI keys in uWSGI order', async () => {
    const {m, port} = await startMaster({'wsgi-file': join(APPS, 'hello.py'), processes: 2, threads: 2, stats: '127.0.0.1:0', 'memory-report': true});
    await get(port, '/');
    const sport = await statsPort(m);
    // the worker updates its scoreboard slot right after writing the response: poll for it
    const text = await until(async () => {
      const t = await readStats(sport);
      return t.includes('"requests": 1') ? t : undefined;
    }, 5000, 'the request in the stats');
    expect(text).toContain('\t"version": "kaiser-0.1.0"');
    const doc = JSON.parse(text) as Record<string, unknown> & {workers: Array<Record<string, unknown> & {cores: Array<Record<string, unknown>>; apps: Array<Record<string, unknown>>}>; sockets: Array<Record<string, unknown>>};
    expect(Object.keys(doc)).toEqual(['version', 'listen_queue', 'listen_queue_errors', 'signal_queue', 'load', 'pid', 'uid', 'gid', 'cwd', 'locks', 'sockets', 'workers']);
    expect(Object.keys(doc.sockets[0] ?? {})).toEqual(['name', 'proto', 'queue', 'max_queue', 'shared', 'can_offload']);
    expect(doc.workers).toHaveLength(2);
    const w = doc.workers[0]!;
    expect(Object.keys(w)).toEqual(['id', 'pid', 'accepting', 'requests', 'delta_requests', 'exceptions', 'harakiri_count', 'signals', 'signal_queue', 'status', 'rss', 'vsz', 'running_time', 'last_spawn', 'respawn_count', 'tx', 'avg_rt', 'apps', 'cores']);
    expect(Object.keys(w.apps[0] ?? {})).toEqual(['id', 'modifier1', 'mountpoint', 'startup_time', 'requests', 'exceptions', 'chdir']);
    expect(Object.keys(w.cores[0] ?? {})).toEqual(['id', 'requests', 'static_requests', 'routed_requests', 'offloaded_requests', 'write_errors', 'read_errors', 'in_request', 'vars', 'req_info']);
    expect(w.cores).toHaveLength(2);
    expect(doc.workers.reduce((n, x) => n + Number(x.requests), 0)).toBe(1);
    expect(Number(w.rss)).toBeGreaterThan(0);
    expect(w.accepting).toBe(1);
    expect(w.respawn_count).toBe(1);
  });

  test('master FIFO: r reloads the workers, q stops gracefully (exit 0), vacuum removes the pidfile', async () => {
    const dir = tempDir();
    const fifo = join(dir, 'fifo');
    const pidfile = join(dir, 'pid');
    const {m, port} = await startMaster({'wsgi-file': join(APPS, 'slow.py'), 'master-fifo': [fifo], pidfile, vacuum: true});
    const before = (await get(port, '/')).body.toString();
    writeFileSync(fifo, 'r');
    await m.waitFor(/graceful reload done/);
    await until(async () => (await get(port, '/')).body.toString() !== before, 5000, 'a new worker');
    writeFileSync(fifo, 'q');
    expect(await m.exited).toBe(0);
    await m.waitFor(/goodbye to uWSGI/);
    const {existsSync} = await import('node:fs');
    expect(existsSync(pidfile)).toBe(false);
  });

  test('SIGTERM is graceful: the in-flight request completes, then exit 0 and the port is closed', async () => {
    const {m, port} = await startMaster({'wsgi-file': join(APPS, 'slow.py'), stats: '127.0.0.1:0'});
    const sport = await statsPort(m);
    const inflight = get(port, '/sleep?1');
    await until(async () => {
      const doc = JSON.parse(await readStats(sport)) as {workers: Array<{cores: Array<{in_request: number}>}>};
      return doc.workers[0]?.cores[0]?.in_request === 1;
    }, 5000, 'request in flight');
    m.signal('SIGTERM');
    const res = await inflight;
    expect(res.status).toBe(200);
    expect(res.body.toString()).toMatch(/^slept \d+$/);
    expect(await m.exited).toBe(0);
    await expect(get(port, '/')).rejects.toThrow();
  });

  test('a first load failure exits 22 with the traceback logged', async () => {
    const m = new Master(runtimeConfig({'http-socket': ['127.0.0.1:0'], 'wsgi-file': join(APPS, 'crash-at-import.py')}));
    expect(await m.exited).toBe(22);
    expect(m.lines.join('\n')).toContain('RuntimeError: boom at import');
    expect(m.lines.join('\n')).toContain('GAME OVER');
  });
});
