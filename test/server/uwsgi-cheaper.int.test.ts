/**
 * Adaptive workers (issue 15) with real processes, the same options under kaiser and under real uWSGI 2.0: a
 * `cheaper` server (spare, the default algorithm) grows under concurrent slow requests and shrinks back to `cheaper`
 * once they stop, and its stats show the cheaped ids as uWSGI does (`"status": "cheap"`, `"pid": 0`); `backlog` grows
 * while connections wait in the listen queue; `busyness` (kaiser's approximation, uWSGI's plugin) grows and shrinks
 * with the busy share; `manual` follows the master FIFO's `+` and `-`; `cheap` starts
 * no worker until the first connection; `idle` puts the workers of a vassal in cheap mode and a request brings them
 * back. Everything waits on a stats change with a deadline. The uWSGI halves are skipped where uWSGI is not installed.
 */
import {afterAll, describe, expect, it} from '@jest/globals';
import {writeFileSync} from 'node:fs';
import {join} from 'node:path';
import {cleanupProcesses, freePort, publish, startKaiser, startProcess, tempDir, waitFor, type Started} from '../helpers/processes.js';
import {UWSGI, exchange, hasUwsgiPlugin, readStats, request} from '../workers/plugins/rig.js';

const SLOW = join(process.cwd(), 'test/fixtures/apps/slow.py');
const SERVERS = hasUwsgiPlugin('python3') ? (['kaiser', 'uwsgi'] as const) : (['kaiser'] as const);
type Kind = (typeof SERVERS)[number];

interface Worker {
  id: number;
  pid: number;
  status: string;
}

async function start(kind: Kind, options: string[]): Promise<{server: Started; port: number; stats: number}> {
  const [port, stats] = [await freePort(), await freePort()];
  const common = ['--wsgi-file', SLOW, '--http-socket', `127.0.0.1:${port}`, '--stats', `127.0.0.1:${stats}`, ...options];
  const cwd = tempDir('kaiser-cheaper-');
  const server = kind === 'kaiser'
    ? startKaiser(common, {cwd})
    : startProcess(UWSGI, ['--plugin', 'python3', '--master', '--die-on-term', ...common], {cwd});
  await waitFor(() => readStats(stats).then(() => true, () => false), 30_000, `${kind} stats on ${stats}`);
  return {server, port, stats};
}

async function workers(stats: number): Promise<Worker[]> {
  return ((await readStats(stats)).workers as unknown as Worker[]).map(({id, pid, status}) => ({id, pid, status}));
}

const running = (ws: Worker[]) => ws.filter((w) => w.pid > 0 && w.status !== 'cheap').length;

/** Waits until the stats satisfy `check`; resolves with the workers seen then. */
function statsUntil(stats: number, check: (ws: Worker[]) => boolean, what: string, withinMs = 60_000): Promise<Worker[]> {
  return waitFor(async () => {
    const ws = await workers(stats).catch(() => undefined);
    return ws !== undefined && check(ws) ? ws : undefined;
  }, withinMs, what);
}

/** `n` clients each sending /sleep?1 one after another until `stop` is set. */
function load(port: number, n: number, stop: {done: boolean}): Promise<unknown> {
  const client = async () => {
    while (!stop.done) await exchange({port}, request('GET', '/sleep?1'), 30_000).catch(() => undefined);
  };
  return Promise.all(Array.from({length: n}, client));
}

describe('cheaper, compared with uWSGI', () => {
  afterAll(cleanupProcesses);

  it.each(SERVERS)('spare grows under load and shrinks back to cheaper (%s)', async (kind) => {
    const {stats, port} = await start(kind, ['--processes', '4', '--cheaper', '1', '--cheaper-overload', '1']);
    const atStart = await statsUntil(stats, (ws) => running(ws) === 1, 'one worker at start');
    expect(atStart.map((w) => w.status === 'cheap')).toEqual([false, true, true, true]);
    expect(atStart.filter((w) => w.status === 'cheap').map((w) => w.pid)).toEqual([0, 0, 0]);
    const stop = {done: false};
    const clients = load(port, 3, stop);
    await statsUntil(stats, (ws) => running(ws) >= 3, 'at least 3 workers under 3 concurrent clients');
    stop.done = true;
    await clients;
    const after = await statsUntil(stats, (ws) => running(ws) === 1, 'back to 1 worker once the load stopped');
    expect(after.filter((w) => w.status === 'cheap')).toHaveLength(3);
  }, 120_000);

  it.each(SERVERS)('backlog adds workers while connections wait in the listen queue (%s)', async (kind) => {
    const {stats, port} = await start(kind, ['--processes', '3', '--cheaper', '1', '--cheaper-algo', 'backlog', '--cheaper-overload', '2']);
    await statsUntil(stats, (ws) => running(ws) === 1, 'one worker at start');
    const stop = {done: false};
    const clients = load(port, 8, stop);       // one worker on /sleep?1: the others wait in the queue
    await statsUntil(stats, (ws) => running(ws) >= 2, 'a second worker while the queue is long');
    stop.done = true;
    await clients;
    await statsUntil(stats, (ws) => running(ws) === 1, 'back to 1 worker once the queue is empty');
  }, 120_000);

  it.each(SERVERS)('busyness grows when the workers are busy most of the time and shrinks when they are not (%s)', async (kind) => {
    const plugin = kind === 'uwsgi' ? ['--plugin', 'cheaper_busyness'] : [];
    const {stats, port} = await start(kind, [...plugin, '--processes', '3', '--cheaper', '1', '--cheaper-algo', 'busyness',
      '--cheaper-overload', '1', '--cheaper-busyness-multiplier', '2']);
    await statsUntil(stats, (ws) => running(ws) === 1, 'one worker at start');
    const stop = {done: false};
    const clients = load(port, 3, stop);
    await statsUntil(stats, (ws) => running(ws) >= 2, 'more workers while they are busy');
    stop.done = true;
    await clients;
    await statsUntil(stats, (ws) => running(ws) === 1, 'back to 1 worker once they are idle');
  }, 120_000);

  it.each(SERVERS)('manual: the master FIFO\'s + and - start and stop one worker (%s)', async (kind) => {
    const fifo = join(tempDir('kaiser-fifo-'), 'fifo');
    const {stats} = await start(kind, ['--processes', '3', '--cheaper', '1', '--cheaper-algo', 'manual', '--master-fifo', fifo]);
    await statsUntil(stats, (ws) => running(ws) === 1, 'one worker at start');
    writeFileSync(fifo, '+');
    await statsUntil(stats, (ws) => running(ws) === 2, 'two workers after +');
    writeFileSync(fifo, '-');
    await statsUntil(stats, (ws) => running(ws) === 1, 'one worker after -');
  }, 60_000);

  it.each(SERVERS)('cheap starts no worker until the first connection (%s)', async (kind) => {
    const {stats, port} = await start(kind, ['--processes', '2', '--cheap']);
    const before = await workers(stats);
    expect(before.map((w) => [w.pid, w.status])).toEqual([[0, 'cheap'], [0, 'cheap']]);
    const answer = await exchange({port}, request('GET', '/'), 30_000);
    expect(answer.status).toBe(200);
    await statsUntil(stats, (ws) => running(ws) === 2, 'both workers after the first connection');
  }, 60_000);
});

describe('idle, compared with uWSGI', () => {
  afterAll(cleanupProcesses);

  it.each(SERVERS)('idle puts the workers in cheap mode and a request brings them back (%s)', async (kind) => {
    const [port, stats] = [await freePort(), await freePort()];
    const options = [`wsgi-file = ${SLOW}`, `http-socket = 127.0.0.1:${port}`, `stats = 127.0.0.1:${stats}`, 'master = true',
      'processes = 2', 'idle = 2'];
    const dir = tempDir('kaiser-idle-');
    let server: Started;
    if (kind === 'kaiser') {
      publish(dir, 'idle.ini', `[uwsgi]\n${options.join('\n')}\n`);      // idle is a vassal option in kaiser
      server = startKaiser(['--emperor', dir]);
    } else {
      publish(dir, 'idle.ini', `[uwsgi]\nplugin = python3\n${options.join('\n')}\n`);
      server = startProcess(UWSGI, ['--die-on-term', '--ini', join(dir, 'idle.ini')], {cwd: dir});
    }
    await statsUntil(stats, (ws) => running(ws) === 2, 'two workers at start');
    expect((await exchange({port}, request('GET', '/'), 30_000)).status).toBe(200);
    const cheap = await statsUntil(stats, (ws) => running(ws) === 0, 'every worker cheap after 2 idle seconds');
    expect(cheap.map((w) => w.pid)).toEqual([0, 0]);
    await server.waitForLine('cheap mode enabled: waiting for socket connection...', 10_000);
    expect((await exchange({port}, request('GET', '/'), 30_000)).status).toBe(200);
    await statsUntil(stats, (ws) => running(ws) === 2, 'two workers again after a request');
  }, 90_000);
});
