/**
 * The emperor with real processes on loopback: files in, files out, broken files, crash loops, signals, orphans,
 * accounting and stats.
 */
import {afterEach, describe, expect, it} from '@jest/globals';
import {renameSync, rmSync, utimesSync, writeFileSync, openSync, writeSync, closeSync} from 'node:fs';
import {join} from 'node:path';
import {
  PYTHON,
  ROOT,
  canConnect,
  cleanupProcesses,
  freePort,
  httpGet,
  isAlive,
  processTree,
  emperorStats,
  startKaiser,
  tempDir,
  waitFor,
  waitFor200,
  withDeadline,
  type Started,
  publish,
} from '../helpers/processes.js';

const SERVER = join(ROOT, 'test/fixtures/procs/http-server.py');
const IGNORES_SIGTERM = join(ROOT, 'test/fixtures/procs/ignores-sigterm.mjs');
const ALLOCATES = join(ROOT, 'test/fixtures/procs/allocates.mjs');
const GRANDCHILD = join(ROOT, 'test/fixtures/procs/with-grandchild.sh');

afterEach(cleanupProcesses);

function serverVassal(port: number, version = 'v1', extra = ''): string {
  return `exec = ["${PYTHON}", "${SERVER}", "${port}"]\nready = "tcp://127.0.0.1:${port}"\nenv = { VERSION = "${version}" }\n${extra}`;
}


interface VassalStats {
  id: string;
  pid: number;
  state: string;
  rss: number;
  restarts: number;
  last_error: string;
  next_retry: number;
  [key: string]: unknown;
}

function stats(port: number): Promise<{vassals: VassalStats[]; [key: string]: unknown}> {
  return emperorStats<VassalStats>(port);
}

async function startEmperor(extra: string[] = []): Promise<{emperor: Started; dir: string; statsPort: number}> {
  const dir = tempDir();
  const statsPort = await freePort();
  const emperor = startKaiser(['--emperor', dir, '--emperor-stats', `127.0.0.1:${statsPort}`, ...extra]);
  await emperor.waitForLine('Emperor stats server enabled', 10_000);
  return {emperor, dir, statsPort};
}

async function vassalState(statsPort: number, name: string): Promise<VassalStats | undefined> {
  return (await stats(statsPort)).vassals.find((v) => v.id === name);
}

describe('emperor: files drive vassals', () => {
  it('spawns a vassal when its file appears, reloads it on change and touch, stops it on removal', async () => {
    const {dir, statsPort} = await startEmperor();
    const port = await freePort();
    publish(dir, 'web.toml', serverVassal(port, 'v1'));
    expect((await waitFor200(port)).body).toBe('v1');

    publish(dir, 'web.toml', serverVassal(port, 'v2'));
    await waitFor(async () => (await httpGet(port))?.body === 'v2', 10_000, 'v2 after an edit');

    const before = (await waitFor(() => vassalState(statsPort, 'web.toml').then((v) => v?.state === 'ready' && v), 5000, 'ready'))!.pid;
    const later = new Date(Date.now() + 5000);
    utimesSync(join(dir, 'web.toml'), later, later);
    await waitFor(async () => {
      const v = await vassalState(statsPort, 'web.toml');
      return v !== undefined && v.pid !== before && v.state === 'ready';
    }, 10_000, 'a new pid after touch');
    await waitFor200(port);

    rmSync(join(dir, 'web.toml'));
    await waitFor(async () => !(await canConnect(port)), 10_000, 'port closed after removal');
    await waitFor(async () => (await vassalState(statsPort, 'web.toml')) === undefined, 5000, 'vassal forgotten');
  });

  it('applies the second of two edits made 30 ms apart', async () => {
    const {dir} = await startEmperor();
    const port = await freePort();
    publish(dir, 'web.toml', serverVassal(port, 'v1'));
    await waitFor200(port);
    // The delay is the scenario, not synchronisation: a second edit 30 ms after the first, after the emperor has
    // read the first one but inside chokidar's change throttle, which drops it.
    publish(dir, 'web.toml', serverVassal(port, 'v2'));
    await new Promise((resolve) => setTimeout(resolve, 30));
    publish(dir, 'web.toml', serverVassal(port, 'v3'));
    await waitFor(async () => (await httpGet(port))?.body === 'v3', 10_000, 'v3 after two quick edits');
  });

  it('treats a rename as stop of the old name and start of the new one', async () => {
    const {dir, statsPort} = await startEmperor();
    const port = await freePort();
    publish(dir, 'a.toml', serverVassal(port));
    await waitFor200(port);
    renameSync(join(dir, 'a.toml'), join(dir, 'b.toml'));
    await waitFor(async () => {
      const all = (await stats(statsPort)).vassals;
      return all.length === 1 && all[0]!.id === 'b.toml' && all[0]!.state === 'ready';
    }, 10_000, 'b.toml ready and a.toml gone');
    expect((await httpGet(port))?.status).toBe(200);
  });

  it('ignores editor swap files, dotfiles and other extensions', async () => {
    const {dir, emperor, statsPort} = await startEmperor();
    const port = await freePort();
    for (const name of ['.web.toml.swp', 'web.toml~', '.hidden.toml', 'notes.txt', '#web.toml#', 'web.toml.tmp']) {
      writeFileSync(join(dir, name), serverVassal(port));
    }
    // A real vassal as the synchronisation point: once it is served, the others were seen (and ignored) too.
    const marker = await freePort();
    publish(dir, 'marker.toml', serverVassal(marker));
    await waitFor200(marker);
    expect(await canConnect(port)).toBe(false);
    expect((await stats(statsPort)).vassals.map((v) => v.id)).toEqual(['marker.toml']);
    expect(emperor.output()).not.toContain('swp');
  });

  it('never spawns a half-written file, and spawns it once complete', async () => {
    const {dir, statsPort, emperor} = await startEmperor();
    const port = await freePort();
    const full = serverVassal(port);
    const fd = openSync(join(dir, 'half.toml'), 'w');
    writeSync(fd, full.slice(0, 20));
    // While the file stays half-written the vassal must not run; the emperor reports it only once stable.
    await waitFor(() => vassalState(statsPort, 'half.toml'), 5000, 'half.toml known');
    expect(await canConnect(port)).toBe(false);
    writeSync(fd, full.slice(20));
    closeSync(fd);
    await waitFor200(port);
    expect(emperor.output()).not.toMatch(/half\.toml has been spawned[\s\S]*half\.toml has been spawned/);
  });
});

describe('emperor: bad input is contained', () => {
  it('reports an invalid file with file, key and suggestion, keeps others serving, and starts it once fixed', async () => {
    const {dir, emperor, statsPort} = await startEmperor();
    const healthy = await freePort();
    publish(dir, 'healthy.toml', serverVassal(healthy));
    await waitFor200(healthy);
    const port = await freePort();
    publish(dir, 'typo.toml', serverVassal(port, 'v1', 'stop-timout = 3\n'));
    await emperor.waitForLine(/typo\.toml.*stop-timout/, 10_000);
    expect(emperor.output()).toMatch(/did you mean "stop-timeout"/);
    expect((await vassalState(statsPort, 'typo.toml'))?.state).toBe('invalid');
    publish(dir, 'garbage.toml', 'exec = [unterminated\n\u0000 = = =\n');
    await emperor.waitForLine(/garbage\.toml/, 10_000);
    expect((await httpGet(healthy))?.status).toBe(200);
    publish(dir, 'typo.toml', serverVassal(port));
    await waitFor200(port);
    expect((await httpGet(healthy))?.status).toBe(200);
  });

  it('backs off a crash-looping vassal while a healthy one keeps serving', async () => {
    const {dir, statsPort} = await startEmperor();
    const healthy = await freePort();
    publish(dir, 'healthy.toml', serverVassal(healthy));
    await waitFor200(healthy);
    const starts = join(dir, 'starts.log');
    publish(dir, 'crashy.toml', `exec = "echo x >> ${starts}; exit 3"\n`);
    const v = await waitFor(async () => {
      const s = await vassalState(statsPort, 'crashy.toml');
      return s && s.state === 'backoff' && s.restarts >= 3 ? s : undefined;
    }, 15_000, 'three failed starts');
    // 1 s, 2 s, 4 s: the retry after the third failure is ~4 s away.
    expect(v.next_retry * 1000 - Date.now()).toBeGreaterThan(1500);
    expect(v.last_error).toMatch(/exit code 3/);
    expect((await httpGet(healthy))?.status).toBe(200);
  });
});

describe('emperor: signals', () => {
  it('reloads every vassal on SIGHUP', async () => {
    const {dir, emperor, statsPort} = await startEmperor();
    const port = await freePort();
    publish(dir, 'web.toml', serverVassal(port));
    await waitFor200(port);
    const before = (await waitFor(() => vassalState(statsPort, 'web.toml').then((v) => v?.state === 'ready' && v), 5000, 'ready'))!.pid;
    emperor.signal('SIGHUP');
    await waitFor(async () => {
      const v = await vassalState(statsPort, 'web.toml');
      return v !== undefined && v.pid !== before && v.state === 'ready';
    }, 10_000, 'a new pid after SIGHUP');
  });

  it('stops gracefully on SIGTERM, killing a vassal that ignores SIGTERM after its stop-timeout', async () => {
    const {dir, emperor, statsPort} = await startEmperor();
    publish(dir, 'stubborn.toml', `exec = ["${process.execPath}", "${IGNORES_SIGTERM}"]\nready = "notify"\nstop-timeout = 1\n`);
    const v = await waitFor(() => vassalState(statsPort, 'stubborn.toml').then((s) => s?.state === 'ready' && s), 10_000, 'ready');
    const t0 = Date.now();
    emperor.signal('SIGTERM');
    const exit = await withDeadline(emperor.exited, 10_000, () => 'emperor exit');
    expect(exit.code).toBe(0);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(900);
    expect(isAlive(v.pid)).toBe(false);
    expect(emperor.output()).toContain('NO MERCY for vassal stubborn.toml');
  });

  it('leaves no process behind, grandchildren included, when the emperor is SIGKILLed', async () => {
    const {dir, emperor, statsPort} = await startEmperor();
    const port = await freePort();
    publish(dir, 'web.toml', serverVassal(port));
    publish(dir, 'tree.toml', `exec = ["${GRANDCHILD}"]\nready = "notify"\n`);
    await waitFor200(port);
    await waitFor(() => vassalState(statsPort, 'tree.toml').then((s) => s?.state === 'ready'), 10_000, 'tree ready');
    const family = processTree(emperor.pid).filter((pid) => pid !== emperor.pid);
    expect(family.length).toBeGreaterThanOrEqual(4); // reaper, python, sh, sleep
    emperor.signal('SIGKILL');
    await waitFor(() => family.every((pid) => !isAlive(pid)), 2000, 'every vassal process gone');
  });
});

describe('emperor: accounting and stats', () => {
  it('reports the RSS of a vassal that allocates memory, and uWSGI stats keys', async () => {
    const {dir, statsPort} = await startEmperor(['--emperor-accounting-freq', '1']);
    publish(dir, 'fat.toml', `exec = ["${process.execPath}", "${ALLOCATES}"]\nready = "notify"\n`);
    const v = await waitFor(async () => {
      const s = await vassalState(statsPort, 'fat.toml');
      return s && s.rss > 64 * 1024 * 1024 ? s : undefined;
    }, 15_000, 'rss above 64 MB');
    const doc = await stats(statsPort);
    expect(Object.keys(doc)).toEqual(['version', 'pid', 'uid', 'gid', 'cwd', 'emperor', 'emperor_tyrant', 'throttle_level', 'vassals', 'blacklist']);
    for (const key of ['id', 'pid', 'born', 'last_mod', 'last_heartbeat', 'loyal', 'ready', 'accepting', 'last_loyal', 'last_ready',
      'last_accepting', 'first_run', 'last_run', 'cursed', 'zerg', 'on_demand', 'uid', 'gid', 'monitor', 'respawns', 'state', 'cpu', 'rss', 'restarts', 'last_error']) {
      expect(v).toHaveProperty(key);
    }
  });

  it('answers an HTTP GET on the stats address with HTTP headers', async () => {
    const {statsPort} = await startEmperor();
    const res = await fetch(`http://127.0.0.1:${statsPort}/`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/json');
    expect(await res.json()).toHaveProperty('vassals');
  });

  it('exits 2 with a clear error for a missing directory', async () => {
    const missing = join(tempDir(), 'nope');
    const k = startKaiser(['--emperor', missing]);
    const exit = await withDeadline(k.exited, 10_000, () => 'exit');
    expect(exit.code).toBe(2);
    expect(k.output()).toContain('no such directory');
  });
});

