/**
 * The metrics server over real HTTP on 127.0.0.1:0 with a fake source: values, bounded state series, and series that
 * disappear with their vassal.
 */
import {afterEach, describe, expect, it} from '@jest/globals';
import {EmperorMetrics, type VassalMetricsRow} from '../../src/metrics/metrics.js';
import {VASSAL_STATE_IDS as VASSAL_STATES} from '../../src/emperor/vassal-states.js';
import {parseMetricsAddress, startMetricsServer, type MetricsServer} from '../../src/metrics/server.js';
import type {VassalStateId} from '../../src/emperor/vassal-states.js';

// Compile-time: VASSAL_STATES lists exactly the emperor's state ids.
type Missing = Exclude<VassalStateId, (typeof VASSAL_STATES)[number]>;
type Extra = Exclude<(typeof VASSAL_STATES)[number], VassalStateId>;
const statesInStep: [Missing, Extra] extends [never, never] ? true : false = true;

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** Parses the sample lines of the text format: `name{a="x",b="y"} value` or `name value`. */
function parseExposition(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!match) throw new Error(`not a sample line: ${line}`);
    const labels: Record<string, string> = {};
    for (const [, key, value] of (match[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[key!] = value!;
    samples.push({name: match[1]!, labels, value: Number(match[3])});
  }
  return samples;
}

function valueOf(samples: Sample[], name: string, labels: Record<string, string> = {}): number | undefined {
  return samples.find((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))?.value;
}

function row(name: string, fields: Partial<VassalMetricsRow> = {}): VassalMetricsRow {
  return {name, kind: 'command', state: 'ready', up: true, restarts: 0, cpuSeconds: 0, rssBytes: 0, uptimeSeconds: 0, lastExitCode: null, ...fields};
}

let metrics: EmperorMetrics | undefined;
let server: MetricsServer | undefined;

afterEach(async () => {
  await server?.close();
  metrics?.close();
  server = undefined;
  metrics = undefined;
});

async function serve(rows: () => VassalMetricsRow[]): Promise<MetricsServer> {
  metrics = new EmperorMetrics({snapshots: rows});
  server = await startMetricsServer('127.0.0.1:0', metrics);
  return server;
}

async function scrape(address: string, path = '/metrics'): Promise<{status: number; type: string | null; text: string}> {
  const res = await fetch(`http://${address}${path}`);
  return {status: res.status, type: res.headers.get('content-type'), text: await res.text()};
}

describe('metrics server', () => {
  it('serves every vassal figure in the Prometheus text format', async () => {
    expect(statesInStep).toBe(true);
    const {address} = await serve(() => [
      row('shop.ini', {kind: 'app-server', restarts: 3, cpuSeconds: 1.5, rssBytes: 52_428_800, uptimeSeconds: 120, lastExitCode: 1,
        requests: 1000, inflight: 2, workers: 4, busyWorkers: 2, harakiri: 1}),
      row('cron.toml', {state: 'backoff', up: false}),
    ]);
    const {status, type, text} = await scrape(address);
    expect(status).toBe(200);
    expect(type).toMatch(/^text\/plain; version=0\.0\.4/);
    const samples = parseExposition(text);
    const shop = {vassal: 'shop.ini'};

    expect(valueOf(samples, 'kaiser_vassal_up', {vassal: 'shop.ini', kind: 'app-server'})).toBe(1);
    expect(valueOf(samples, 'kaiser_vassal_up', {vassal: 'cron.toml', kind: 'command'})).toBe(0);
    expect(valueOf(samples, 'kaiser_vassal_restarts_total', shop)).toBe(3);
    expect(valueOf(samples, 'kaiser_vassal_cpu_seconds_total', shop)).toBe(1.5);
    expect(valueOf(samples, 'kaiser_vassal_rss_bytes', shop)).toBe(52_428_800);
    expect(valueOf(samples, 'kaiser_vassal_uptime_seconds', shop)).toBe(120);
    expect(valueOf(samples, 'kaiser_vassal_last_exit_code', shop)).toBe(1);
    expect(valueOf(samples, 'kaiser_vassal_requests_total', shop)).toBe(1000);
    expect(valueOf(samples, 'kaiser_vassal_requests_in_flight', shop)).toBe(2);
    expect(valueOf(samples, 'kaiser_vassal_workers', shop)).toBe(4);
    expect(valueOf(samples, 'kaiser_vassal_busy_workers', shop)).toBe(2);
    expect(valueOf(samples, 'kaiser_vassal_harakiri_total', shop)).toBe(1);
    // A command vassal has no app-server figures and has not exited yet: no series rather than made-up zeros.
    for (const name of ['kaiser_vassal_requests_total', 'kaiser_vassal_workers', 'kaiser_vassal_last_exit_code']) {
      expect(valueOf(samples, name, {vassal: 'cron.toml'})).toBeUndefined();
    }
    expect(text).toMatch(/^# TYPE kaiser_vassal_restarts_total counter$/m);
    expect(text).toMatch(/^# TYPE kaiser_vassal_rss_bytes gauge$/m);
  });

  it('exports one 0/1 series per known state, 1 for the current one', async () => {
    const {address} = await serve(() => [row('cron.toml', {state: 'backoff', up: false})]);
    const states = parseExposition((await scrape(address)).text).filter((s) => s.name === 'kaiser_vassal_state');
    expect(states.map((s) => s.labels['state']).sort()).toEqual([...VASSAL_STATES].sort());
    expect(states.filter((s) => s.value === 1).map((s) => s.labels['state'])).toEqual(['backoff']);
  });

  it('drops every series of a vassal that is gone', async () => {
    let rows = [row('shop.ini', {lastExitCode: 0, requests: 5}), row('cron.toml')];
    const {address} = await serve(() => rows);
    expect(parseExposition((await scrape(address)).text).some((s) => s.labels['vassal'] === 'cron.toml')).toBe(true);
    rows = [row('shop.ini', {lastExitCode: 0, requests: 5})];
    const after = parseExposition((await scrape(address)).text);
    expect(after.filter((s) => s.labels['vassal'] === 'cron.toml')).toEqual([]);
    expect(valueOf(after, 'kaiser_vassal_requests_total', {vassal: 'shop.ini'})).toBe(5);
  });

  it('takes one snapshot per scrape', async () => {
    let calls = 0;
    const {address} = await serve(() => {
      calls++;
      return [row('shop.ini')];
    });
    await scrape(address);
    expect(calls).toBe(1);
    await scrape(address);
    expect(calls).toBe(2);
  });

  it('exports the emperor figures and the scan and spawn histograms', async () => {
    const {address} = await serve(() => []);
    metrics!.observeScan(0.003);
    metrics!.observeSpawn(0.7);
    metrics!.observeSpawn(2);
    const samples = parseExposition((await scrape(address)).text);
    expect(valueOf(samples, 'kaiser_emperor_rss_bytes')).toBeGreaterThan(0);
    expect(valueOf(samples, 'kaiser_emperor_cpu_seconds_total')).toBeGreaterThan(0);
    expect(valueOf(samples, 'kaiser_emperor_event_loop_lag_seconds')).toBeGreaterThanOrEqual(0);
    expect(valueOf(samples, 'kaiser_emperor_scan_duration_seconds_count')).toBe(1);
    expect(valueOf(samples, 'kaiser_emperor_scan_duration_seconds_bucket', {le: '0.005'})).toBe(1);
    expect(valueOf(samples, 'kaiser_emperor_spawn_duration_seconds_count')).toBe(2);
    expect(valueOf(samples, 'kaiser_emperor_spawn_duration_seconds_sum')).toBe(2.7);
    expect(valueOf(samples, 'kaiser_emperor_spawn_duration_seconds_bucket', {le: '1'})).toBe(1);
    expect(valueOf(samples, 'kaiser_emperor_spawn_duration_seconds_bucket', {le: '+Inf'})).toBe(2);
  });

  it('answers 404 off /metrics and 405 for other methods', async () => {
    const {address} = await serve(() => []);
    expect((await scrape(address, '/')).status).toBe(404);
    expect((await scrape(address, '/metrics/x')).status).toBe(404);
    expect((await scrape(address, '/metrics?debug=1')).status).toBe(200);
    expect((await fetch(`http://${address}/metrics`, {method: 'POST'})).status).toBe(405);
  });

  it('escapes label values it did not choose (vassal names)', async () => {
    const {address} = await serve(() => [row('we"ird\\name.ini')]);
    const samples = parseExposition((await scrape(address)).text);
    expect(valueOf(samples, 'kaiser_vassal_up', {vassal: 'we\\"ird\\\\name.ini'})).toBe(1);
  });
});

describe('parseMetricsAddress', () => {
  it('reads host:port, :port (loopback) and [v6]:port', () => {
    expect(parseMetricsAddress('127.0.0.1:9117')).toEqual({host: '127.0.0.1', port: 9117});
    expect(parseMetricsAddress(':9117')).toEqual({host: '127.0.0.1', port: 9117});
    expect(parseMetricsAddress('[::1]:0')).toEqual({host: '::1', port: 0});
  });

  it('rejects what is not an address', () => {
    expect(parseMetricsAddress('9117')).toBeUndefined();
    expect(parseMetricsAddress('localhost:http')).toBeUndefined();
    expect(parseMetricsAddress('localhost:70000')).toBeUndefined();
  });

  it('makes startMetricsServer reject a port in use', async () => {
    const {address} = await serve(() => []);
    await expect(startMetricsServer(address, metrics!)).rejects.toMatchObject({code: 'EADDRINUSE'});
  });

  it('makes startMetricsServer reject a bad address', async () => {
    metrics = new EmperorMetrics({snapshots: () => []});
    await expect(startMetricsServer('nowhere', metrics)).rejects.toThrow('not a HOST:PORT');
  });
});
