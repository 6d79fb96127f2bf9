/**
 * ASGI vassals under the emperor, with everything a WSGI vassal has: reloads under load with zero failed requests
 * (touch, chain), rollback when the new app's startup fails, harakiri (a request cancelled with 504; a blocked loop
 * killed and respawned), max-requests and reload-on-rss recycling, the uWSGI stats server, Prometheus metrics, the
 * dashboard's API (row, detail, reload action), and on-demand/idle.
 */
import {chmodSync, mkdirSync, readdirSync, rmSync, utimesSync, writeFileSync} from 'node:fs';
import {connect} from 'node:net';
import {dirname, join} from 'node:path';
import {fileURLToPath} from 'node:url';
import {afterEach, describe, expect, it} from '@jest/globals';
import {startLoad} from '../../helpers/load.js';
import {cleanupProcesses, emperorStats, freePort, httpGet, publish, startKaiser, tempDir, waitFor, waitFor200} from '../../helpers/processes.js';

const FIXTURES = join(dirname(fileURLToPath(import.meta.url)), '../../fixtures/asgi');

let load: ReturnType<typeof startLoad> | undefined;
afterEach(async () => {
  await load?.stop();
  load = undefined;
  await cleanupProcesses();
});

interface Vassal {
  dir: string;
  marks: string;
  port: number;
  emperor: ReturnType<typeof startKaiser>;
  write: (extra?: string) => void;
}

async function asgiVassal(extra = '', emperorArgs: string[] = []): Promise<Vassal> {
  const dir = tempDir();
  const marks = join(dir, 'marks');
  mkdirSync(marks);
  const port = await freePort();
  const write = (more = extra) => publish(dir, 'api.toml',
    `http-socket = "127.0.0.1:${port}"\nasgi = "conformance:app"\nchdir = "${FIXTURES}"\nenv = { MARKS = "${marks}" }\n${more}`);
  const emperor = startKaiser(['--emperor', dir, '--control', join(dir, 'control.sock'), ...emperorArgs]);
  write();
  return {dir, marks, port, emperor, write};
}

const pidOf = async (port: number) => (JSON.parse((await httpGet(port))?.body ?? '{}') as {pid?: number}).pid;

function readJson(port: number): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    const s = connect(port, '127.0.0.1');
    let text = '';
    s.setEncoding('utf8');
    s.on('data', (c: string) => (text += c));
    s.on('end', () => resolve(JSON.parse(text) as Record<string, unknown>));
    s.on('error', reject);
  });
}

describe('ASGI vassals under the emperor', () => {
  it('serve, and a touch reloads them under load with zero failed requests and a lifespan per worker', async () => {
    const v = await asgiVassal('processes = 2\n');
    await waitFor200(v.port, 20_000);
    await v.emperor.waitForLine('vassal api.toml is ready to accept requests');
    const before = readdirSync(v.marks).filter((f) => f.startsWith('start-'));
    expect(before).toHaveLength(2);
    load = startLoad(v.port, 4);
    await waitFor(() => load!.result.ok > 20, 5000, 'load running');
    const later = new Date(Date.now() + 2000);
    utimesSync(join(v.dir, 'api.toml'), later, later);
    await waitFor(() => readdirSync(v.marks).filter((f) => f.startsWith('stop-')).length === 2, 20_000, 'old workers shut down');
    const at = load.result.ok;
    await waitFor(() => load!.result.ok > at + 20, 5000, 'load after the reload');
    const result = await load.stop();
    load = undefined;
    // the emperor's and the master's lines say what happened if a request failed (seen once in CI under load)
    if (result.failed) throw new Error(`${result.failed} failed requests ${JSON.stringify(result.errors)}; emperor:\n${v.emperor.lines.slice(-80).join('\n')}`);
    expect(result.errors).toEqual({});
    expect(result.failed).toBe(0);
    expect(readdirSync(v.marks).filter((f) => f.startsWith('start-'))).toHaveLength(4);
  });

  it('roll back when the new workers fail their lifespan startup, and recover once it is fixed', async () => {
    const statsPort = await freePort();
    const v = await asgiVassal('processes = 1\n', ['--emperor-stats', `127.0.0.1:${statsPort}`]);
    await waitFor200(v.port, 20_000);
    const pid = await pidOf(v.port);
    writeFileSync(join(v.marks, 'fail-startup'), '');
    v.write('processes = 1\n# edited\n');
    await v.emperor.waitForLine(/reload failed|reload-failed/, 20_000);
    await waitFor(async () => (await emperorStats<{id: string; state: string}>(statsPort)).vassals.find((x) => x.id === 'api.toml')?.state === 'reload-failed', 10_000, 'reload-failed');
    expect(await pidOf(v.port)).toBe(pid);
    rmSync(join(v.marks, 'fail-startup'));
    v.write('processes = 1\n# fixed\n');
    await waitFor(async () => (await pidOf(v.port)) !== pid, 20_000, 'the new app');
  });

  it('load a reload’s new app at a lower priority (load-nice) and serve at the old one’s', async () => {
    type Nice = {import: number; startup: number; now: number; pid: number};
    const v = await asgiVassal('processes = 1\nload-nice = 10\n');
    await waitFor200(v.port, 20_000);
    const first = JSON.parse((await httpGet(v.port, '/nice'))!.body) as Nice;
    expect(first.import).toBe(first.now);                 // a first start loads at full priority
    expect(first.startup).toBe(first.now);
    v.write('processes = 1\nload-nice = 10\n# edited\n');
    await waitFor(async () => (await pidOf(v.port)) !== first.pid, 20_000, 'the new worker');
    const second = JSON.parse((await httpGet(v.port, '/nice'))!.body) as Nice;
    if (second.import !== Math.min(first.now + 10, 19)) {
      // seen once under load: the new worker loaded at full priority (no worker ready when it was spawned?)
      throw new Error(`the new worker imported at nice ${second.import}; emperor:\n${v.emperor.lines.slice(-80).join('\n')}`);
    }
    expect(second.import).toBe(Math.min(first.now + 10, 19));
    expect(second.startup).toBe(Math.min(first.now + 10, 19));
    expect(second.now).toBe(first.now);
  });

  it('harakiri: an overdue request is cancelled with 504 and counted; a blocked event loop gets the worker killed', async () => {
    const statsPort = await freePort();
    const v = await asgiVassal(`processes = 1\nharakiri = 2\nstats = "127.0.0.1:${statsPort}"\n`);
    await waitFor200(v.port, 20_000);
    const pid = await pidOf(v.port);
    expect((await httpGet(v.port, '/sleep?s=30', 15_000))?.status).toBe(504);
    await v.emperor.waitForLine('HARAKIRI ON ASGI REQUEST GET /sleep');
    expect(await pidOf(v.port)).toBe(pid);               // the worker itself lives on
    const blocked = httpGet(v.port, '/block?s=30', 20_000);
    await v.emperor.waitForLine(/HARAKIRI ON WORKER 1/, 15_000);
    expect(await blocked).toBeUndefined();               // the connection went with the killed worker
    await waitFor(async () => (await pidOf(v.port)) !== undefined && (await pidOf(v.port)) !== pid, 15_000, 'a respawned worker');
    const stats = await readJson(statsPort);
    const worker = (stats['workers'] as Record<string, unknown>[])[0]!;
    expect(worker['harakiri_count']).toBe(2);
  });

  it('max-requests and reload-on-rss recycle workers without a failed request', async () => {
    const v = await asgiVassal('processes = 1\nmax-requests = 40\n');
    await waitFor200(v.port, 20_000);
    const first = await pidOf(v.port);
    load = startLoad(v.port, 2);
    await waitFor(async () => (await pidOf(v.port)) !== first, 20_000, 'recycled after max-requests');
    await v.emperor.waitForLine('reached max-requests (40), recycling');
    const afterMax = await pidOf(v.port);
    const maxResult = await load.stop();
    load = undefined;
    expect(maxResult.failed).toBe(0);
    expect(afterMax).not.toBe(first);
    // reload-on-rss on a vassal of its own: under load, max-requests recycles the leaking worker first on a fast machine.
    const r = await asgiVassal('processes = 1\nreload-on-rss = 60\n');
    await waitFor200(r.port, 20_000);
    load = startLoad(r.port, 2);
    await httpGet(r.port, '/leak?mb=80', 10_000);
    await r.emperor.waitForLine('reached reload-on-rss', 20_000);
    const result = await load.stop();
    load = undefined;
    expect(result.failed).toBe(0);
  });

  it('count in the stats server (uWSGI keys) and in the Prometheus metrics', async () => {
    const [statsPort, metricsPort] = [await freePort(), await freePort()];
    const v = await asgiVassal(`processes = 2\nstats = "127.0.0.1:${statsPort}"\n`, ['--metrics', `127.0.0.1:${metricsPort}`]);
    await waitFor200(v.port, 20_000);
    for (let i = 0; i < 10; i++) await httpGet(v.port);
    const slow = httpGet(v.port, '/sleep?s=3', 10_000);
    const busy = (doc: Record<string, unknown>) => (doc['workers'] as Record<string, unknown>[]).some((w) => w['status'] === 'busy');
    const stats = await waitFor(async () => {
      const doc = await readJson(statsPort);
      return busy(doc) ? doc : undefined;
    }, 5000, 'a worker busy with the slow request');
    const workers = stats['workers'] as Record<string, unknown>[];
    expect(workers).toHaveLength(2);
    for (const key of ['id', 'pid', 'accepting', 'requests', 'exceptions', 'harakiri_count', 'status', 'running_time', 'avg_rt', 'tx', 'cores']) {
      expect(workers[0]).toHaveProperty(key);
    }
    expect(workers.reduce((n, w) => n + (w['requests'] as number), 0)).toBeGreaterThanOrEqual(11);
    expect((await slow)?.status).toBe(200);
    expect(busy(await readJson(statsPort))).toBe(false);
    const text = (await httpGet(metricsPort, '/metrics'))!.body;
    const requests = Number(/^kaiser_vassal_requests_total\{[^}]*vassal="api\.toml"[^}]*\} ([0-9.e+]+)$/m.exec(text)?.[1]);
    expect(requests).toBeGreaterThanOrEqual(11);
  });

  it('show in the dashboard as an app-server vassal, and its reload action renews the workers', async () => {
    const token = 'ops-token-0123456789abcdef';
    const tokens = join(tempDir(), 'tokens');
    writeFileSync(tokens, `ops:${token}\n`);
    chmodSync(tokens, 0o600);
    const v = await asgiVassal('processes = 1\n', ['--dashboard', '127.0.0.1:0', '--dashboard-token-file', tokens]);
    const base = /http:\/\/127\.0\.0\.1:\d+/.exec(await v.emperor.waitForLine(/kaiser dashboard on http:\/\/127\.0\.0\.1:\d+\//, 15_000))![0];
    await waitFor200(v.port, 20_000);
    const pid = await pidOf(v.port);
    const auth = {Authorization: `Bearer ${token}`};
    type Row = {name: string; kind: string; state: string; pid: number; rss: number; sockets: string[]};
    const row = await waitFor(async () => {
      const rows = (await (await fetch(`${base}/api/vassals`, {headers: auth})).json()) as Row[];
      const found = rows.find((r) => r.name === 'api.toml');
      return found?.state === 'ready' && found.rss > 0 ? found : undefined;
    }, 10_000, 'the ASGI vassal ready in the dashboard');
    expect(row).toMatchObject({kind: 'app-server', sockets: [`http-socket=127.0.0.1:${v.port}`]});
    expect(row.pid).toBeGreaterThan(0);
    const detail = (await (await fetch(`${base}/api/vassals/api.toml`, {headers: auth})).json()) as Record<string, unknown>;
    expect(JSON.stringify(detail)).toContain('conformance:app');
    const reload = await fetch(`${base}/api/vassals/api.toml/reload`, {method: 'POST', headers: {...auth, 'X-Requested-With': 'kaiser', Origin: base}});
    expect(reload.status).toBe(200);
    await waitFor(async () => (await pidOf(v.port)) !== pid, 20_000, 'a new worker after the dashboard reload');
    await waitFor(() => readdirSync(v.marks).filter((f) => f.startsWith('stop-')).length === 1, 10_000, 'the old worker ran its lifespan shutdown');
  });

  it('start on demand at the first request and go back to on-demand when idle', async () => {
    const statsPort = await freePort();
    const v = await asgiVassal('processes = 1\non-demand = true\nidle = 1\n', ['--emperor-stats', `127.0.0.1:${statsPort}`]);
    const state = async () => (await emperorStats<{id: string; state: string}>(statsPort)).vassals.find((x) => x.id === 'api.toml')?.state;
    await waitFor(async () => (await state().catch(() => undefined)) === 'on-demand', 10_000, 'on-demand state');
    const first = await httpGet(v.port, '/', 20_000);
    expect(JSON.parse(first!.body)).toMatchObject({hello: 'asgi', started: true});
    await v.emperor.waitForLine('is idle: back to on-demand mode', 20_000);
    await waitFor(async () => (await state()) === 'on-demand', 10_000, 'asleep again');
    expect(readdirSync(v.marks).some((f) => f.startsWith('stop-'))).toBe(true);
    expect((await httpGet(v.port, '/', 20_000))?.status).toBe(200);
  });
});
