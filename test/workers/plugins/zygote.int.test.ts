/**
 * Per-generation zygotes (src/server/python/zygote.py, docs/runtime-protocol.md §3): for PSGI and Rack the
 * runtime starts once per generation, loads the app and forks the workers. The workers of a generation are children
 * of one zygote (itself the master's child), the master's stats show exactly those pids, and a reload starts a new
 * zygote whose workers replace the old ones while the old zygote exits. `lazy-apps` keeps one exec'd runtime per
 * worker (children of the master), as uWSGI's option does; so do Lua workers (a zygote saves them nothing: Lua 5.1
 * marks objects in their headers, so a worker's first collection copies the whole heap).
 */
import {join} from 'node:path';
import {afterEach, describe, expect, it} from '@jest/globals';
import {cleanupProcesses, isAlive, processTable, ROOT, waitFor} from '../../helpers/processes.js';
import {readStats, startKaiserApp} from './rig.js';

const FIXTURES = join(ROOT, 'test/fixtures/plugins');

afterEach(cleanupProcesses);

const LANGS = [
  {lang: 'rack', args: ['--rack', 'config.ru'], dir: 'rack'},
  {lang: 'psgi', args: ['--psgi', 'app.psgi'], dir: 'psgi'},
] as const;

/** The direct children of `pid`. */
function childrenOf(pid: number): number[] {
  return [...processTable()].filter(([, row]) => row.ppid === pid && row.state !== 'Z').map(([child]) => child);
}

async function workerPids(statsPort: number): Promise<number[]> {
  return (await readStats(statsPort)).workers.map((w) => w.pid).sort((a, b) => a - b);
}

async function start(args: readonly string[], dir: string) {
  const {server} = await startKaiserApp([...args, '--processes', '2', '--stats', '127.0.0.1:0'], join(FIXTURES, dir));
  const statsLine = await server.waitForLine(/Stats server enabled on 127\.0\.0\.1:(\d+)/);
  const statsPort = Number(/127\.0\.0\.1:(\d+)/.exec(statsLine)?.[1]);
  const masterLine = await server.waitForLine(/spawned uWSGI master process \(pid: (\d+)\)/);
  const master = Number(/pid: (\d+)/.exec(masterLine)?.[1]);
  return {server, statsPort, master};
}

describe.each(LANGS)('$lang workers', ({args, dir}) => {
  it('share one zygote per generation, and a reload starts a new one', async () => {
    const {server, statsPort, master} = await start(args, dir);
    const before = await workerPids(statsPort);
    expect(before).toHaveLength(2);
    const [zygote] = childrenOf(master);
    expect(childrenOf(master)).toEqual([zygote]);          // the master's one child is the zygote…
    expect(childrenOf(zygote!).sort((a, b) => a - b)).toEqual(before);   // …whose children are the workers it sees

    const mark = server.lines.length;
    process.kill(master, 'SIGHUP');
    await server.waitForLine('graceful reload done', 30_000, mark);
    await waitFor(() => !isAlive(zygote!), 30_000, `the old zygote ${zygote} exiting`);
    const after = await waitFor(async () => {
      const pids = await workerPids(statsPort);
      return pids.length === 2 && pids.every((p) => !before.includes(p)) ? pids : undefined;
    }, 30_000, 'two new workers in the stats');
    const [next] = childrenOf(master);
    expect(childrenOf(master)).toEqual([next]);
    expect(next).not.toBe(zygote);
    expect(childrenOf(next!).sort((a, b) => a - b)).toEqual(after);
  });
});

describe('lazy-apps', () => {
  it('execs a runtime per worker, each a child of the master', async () => {
    const {statsPort, master} = await start(['--rack', 'config.ru', '--lazy-apps'], 'rack');
    const workers = await workerPids(statsPort);
    expect(workers).toHaveLength(2);
    expect(childrenOf(master).sort((a, b) => a - b)).toEqual(workers);
  });
});

describe('lua workers', () => {
  it('are exec\'d one by one, each a child of the master', async () => {
    const {statsPort, master} = await start(['--lua', 'app.lua'], 'lua');
    const workers = await workerPids(statsPort);
    expect(workers).toHaveLength(2);
    expect(childrenOf(master).sort((a, b) => a - b)).toEqual(workers);
  });
});
