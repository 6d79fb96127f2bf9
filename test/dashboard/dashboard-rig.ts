/**
 * Test rig for the dashboard: a fake `EmperorControl` that records the actions it is asked for and can change a
 * vassal's state (pushing the transition through a real `TransitionFeed`), a dashboard started on 127.0.0.1:0 or a
 * UNIX socket in a temp dir, a raw HTTP client that sends exactly the headers given, and a captured log.
 */
import {request as httpRequest} from 'node:http';
import {mkdtempSync, rmSync} from 'node:fs';
import {tmpdir} from 'node:os';
import {join} from 'node:path';
import {err, ok, type Result} from '../../src/result.js';
import type {OutcomeWatch} from '../../src/control/outcome-watch.js';
import type {ControlLog, EmperorControl} from '../../src/control/server.js';
import type {EmperorStatus, VassalRow} from '../../src/control/protocol.js';
import {parseTokenBook} from '../../src/dashboard/auth.js';
import {TransitionFeed} from '../../src/dashboard/event-stream.js';
import {VassalHistory} from '../../src/dashboard/history.js';
import {startDashboard, type Dashboard} from '../../src/dashboard/server.js';

export const TOKEN = 'ops-token-0123456789abcdef';
export const OTHER_TOKEN = 'ci-token-fedcba9876543210';

/** A row with sensible values, overridable. */
export function row(name: string, fields: Partial<VassalRow> = {}): VassalRow {
  return {
    name,
    kind: 'command',
    state: 'ready',
    pid: 4000,
    cpu: 1.5,
    rss: 25 * 1024 * 1024,
    uptime: 3725,
    restarts: 0,
    sockets: ['tcp://127.0.0.1:8080'],
    lastError: null,
    source: 'dir',
    ...fields,
  };
}

/** An `EmperorControl` over an array of rows; records actions. */
export class FakeControl implements EmperorControl {
  vassals: VassalRow[];
  readonly actions: string[] = [];
  readonly logs = new Map<string, string[]>();
  readonly followers = new Map<string, Set<(line: string) => void>>();
  readonly feed = new TransitionFeed();

  constructor(vassals: VassalRow[]) {
    this.vassals = vassals;
  }

  rows(): VassalRow[] {
    return this.vassals.map((r) => ({...r}));
  }
  status(): EmperorStatus {
    const ready = this.vassals.filter((r) => r.state === 'ready').length;
    return {pid: 99, uptime: 61, rss: 40 << 20, version: 'kaiser-test', dir: '/srv/vassals', vassals: this.vassals.length, ready, failing: 0, held: 0};
  }
  reload(name: string): Result<void, string> {
    return this.#act('reload', name);
  }
  stop(name: string): Result<void, string> {
    return this.#act('stop', name);
  }
  restart(name: string): Result<void, string> {
    return this.#act('restart', name);
  }
  watchOutcome(name: string): OutcomeWatch {
    return {outcome: Promise.resolve({name, ok: true}), afterAction: () => undefined, cancel: () => undefined};
  }
  start(name: string): Result<void, string> {
    const found = this.vassals.find((r) => r.name === name);
    if (found?.state === 'ready') return err('it is already running');
    return this.#act('start', name);
  }
  logTail(name: string, lines: number): Result<string[], string> {
    return ok((this.logs.get(name) ?? []).slice(-lines));
  }
  followLogs(name: string, onLine: (line: string) => void): Result<() => void, string> {
    const set = this.followers.get(name) ?? new Set();
    this.followers.set(name, set);
    set.add(onLine);
    return ok(() => set.delete(onLine));
  }

  /** Appends a log line and hands it to followers. */
  print(name: string, line: string): void {
    this.logs.set(name, [...(this.logs.get(name) ?? []), line]);
    for (const follower of this.followers.get(name) ?? []) follower(line);
  }

  /** Moves a vassal to `to` and announces the transition. */
  transition(name: string, to: string, event: string, fields: Partial<VassalRow> = {}): void {
    const found = this.vassals.find((r) => r.name === name);
    if (!found) throw new Error(`no ${name}`);
    const from = found.state;
    Object.assign(found, fields, {state: to});
    this.feed.emit({vassal: name, from, to, event, at: Date.now()});
  }

  #act(action: string, name: string): Result<void, string> {
    if (!this.vassals.some((r) => r.name === name)) return err(`no vassal named ${name}`);
    this.actions.push(`${action} ${name}`);
    return ok(undefined);
  }
}

/** A log that keeps every message with its fields. */
export class CapturedLog implements ControlLog {
  readonly entries: {level: string; message: string; fields: Record<string, unknown>}[] = [];
  debug(message: string, fields: object = {}): void {
    this.entries.push({level: 'debug', message, fields: fields as Record<string, unknown>});
  }
  info(message: string, fields: object = {}): void {
    this.entries.push({level: 'info', message, fields: fields as Record<string, unknown>});
  }
  warn(message: string, fields: object = {}): void {
    this.entries.push({level: 'warn', message, fields: fields as Record<string, unknown>});
  }
  error(message: string, fields: object = {}): void {
    this.entries.push({level: 'error', message, fields: fields as Record<string, unknown>});
  }
}

/** A started dashboard with its fakes. */
export interface Rig {
  dashboard: Dashboard;
  control: FakeControl;
  history: VassalHistory;
  log: CapturedLog;
  /** TCP: the port; UNIX: undefined. */
  port: number | undefined;
  socketPath: string | undefined;
  dir: string;
  close(): Promise<void>;
}

/** Starts a dashboard over `vassals` on 127.0.0.1:0, or on a UNIX socket when `unix` is set. */
export async function startRig(
  vassals: VassalRow[],
  {unix = false, sampleMs = 2_000, seed}: {unix?: boolean; sampleMs?: number; seed?: (history: VassalHistory) => void} = {},
): Promise<Rig> {
  const dir = mkdtempSync(join(tmpdir(), 'kaiser-dashboard-'));
  const control = new FakeControl(vassals);
  const history = new VassalHistory();
  seed?.(history);
  const log = new CapturedLog();
  const tokens = parseTokenBook(`ops:${TOKEN}\n# a comment\n\nci:${OTHER_TOKEN}\n`);
  if (!tokens.ok) throw new Error(tokens.error);
  const started = await startDashboard({
    address: unix ? join(dir, 'dashboard.sock') : '127.0.0.1:0',
    control,
    history,
    events: control.feed.subscribe,
    tokens: tokens.value,
    log,
    emperorStats: () => ({rss: 50 << 20, cpu: 0.5, loopLagMs: 0.2}),
    configOf: async (name) => `# ${name}\nexec = ["python3", "-m", "http.server"]\n<script>alert(1)</script>\n`,
    sampleMs,
  });
  if (!started.ok) throw new Error(started.error);
  const dashboard = started.value;
  const port = unix ? undefined : Number(dashboard.address.split(':').pop());
  return {
    dashboard,
    control,
    history,
    log,
    port,
    socketPath: unix ? dashboard.address : undefined,
    dir,
    close: async () => {
      await dashboard.close();
      rmSync(dir, {recursive: true, force: true});
    },
  };
}

/** One HTTP answer. */
export interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** Sends exactly `headers` (plus Host) to the rig's dashboard. */
export function send(rig: Rig, path: string, {method = 'GET', headers = {}, body}: {method?: string; headers?: Record<string, string>; body?: string} = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      {
        ...(rig.socketPath ? {socketPath: rig.socketPath} : {host: '127.0.0.1', port: rig.port}),
        path,
        method,
        headers: {...(rig.socketPath ? {Host: 'localhost'} : {}), ...headers},
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8')}));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

/** The Authorization header of the rig's token. */
export const BEARER = {Authorization: `Bearer ${TOKEN}`};

/** `n` vassals named vassal-0000.toml…, in assorted states. */
export function manyVassals(n: number): VassalRow[] {
  const states = ['ready', 'ready', 'ready', 'backoff', 'held', 'starting'];
  return Array.from({length: n}, (_, i) => {
    const state = states[i % states.length]!;
    return row(`vassal-${String(i).padStart(4, '0')}.toml`, {
      state,
      pid: state === 'ready' || state === 'starting' ? 10_000 + i : -1,
      cpu: (i % 37) / 3,
      rss: (10 + (i % 90)) << 20,
      restarts: i % 5,
      lastError: state === 'backoff' ? `exited with code ${i % 3}` : null,
    });
  });
}

