/**
 * `kaiser top` frames, like uwsgitop: one text block per sample from one of three sources — the emperor's rows (over
 * the control socket), a uWSGI-style instance stats document (`workers[]`), or an emperor stats document
 * (`vassals[]`). `TopView` remembers the previous sample so requests per second come from deltas, as uwsgitop
 * computes them; the first frame has no rate yet. Also the `--json` form of a frame. Pure: the clock is passed in.
 */
import {SERVING} from '../emperor/vassal-states.js';
import {formatBytes, formatDuration, formatTable, formatVassalTable, shorten} from './format.js';
import type {VassalRow} from './protocol.js';

/** One sample, as fetched. */
export type TopSample = {kind: 'emperor'; rows: VassalRow[]} | {kind: 'stats'; document: unknown};

/** A worker line of an instance frame, with its rate. */
export interface TopWorker {
  id: number;
  pid: number;
  status: string;
  requests: number;
  /** Requests per second since the previous sample; null on the first. */
  rps: number | null;
  exceptions: number;
  avgRtMs: number;
  rssBytes: number;
  vszBytes: number;
  txBytes: number;
  respawns: number;
  harakiri: number;
  runningTimeSeconds: number;
  lastSpawn: number;
}

/** What a frame shows, as data (`top --json`). */
export type TopFrame =
  | {kind: 'emperor'; vassals: VassalRow[]}
  | {kind: 'instance'; version: string; pid: number; listenQueue: number; cwd: string; requests: number; rps: number | null; workers: TopWorker[]}
  | {kind: 'emperor-stats'; version: string; pid: number; vassals: Record<string, unknown>[]}
  | {kind: 'unknown'; reason: string};

const WORKER_COLUMNS = ['WID', 'PID', 'STATUS', 'REQ', 'RPS', 'EXC', 'AVG', 'RSS', 'VSZ', 'TX', 'RESPAWNS', 'HARAKIRI', 'RUNTIME', 'LASTSPAWN'];
const EMPEROR_STATS_COLUMNS = ['VASSAL', 'PID', 'STATE', 'READY', 'LOYAL', 'CPU%', 'RSS', 'RESPAWNS', 'LAST-ERROR'];

/** Turns samples into frames, keeping what rates need. */
export class TopView {
  #previous: {atMs: number; requests: Map<number, number>} | undefined;

  /** The frame for `sample`, taken at `nowMs`. */
  frame(sample: TopSample, nowMs: number): TopFrame {
    if (sample.kind === 'emperor') return {kind: 'emperor', vassals: sample.rows};
    const doc = sample.document;
    if (!isObject(doc)) return {kind: 'unknown', reason: 'the stats document is not a JSON object'};
    if (Array.isArray(doc['workers'])) return this.#instance(doc, doc['workers'], nowMs);
    if (Array.isArray(doc['vassals'])) {
      return {kind: 'emperor-stats', version: str(doc, 'version'), pid: num(doc, 'pid'), vassals: doc['vassals'].filter(isObject)};
    }
    return {kind: 'unknown', reason: 'the stats document has neither "workers" (instance stats) nor "vassals" (emperor stats)'};
  }

  #instance(doc: Record<string, unknown>, rawWorkers: unknown[], nowMs: number): TopFrame {
    const previous = this.#previous;
    const elapsedSeconds = previous === undefined ? 0 : (nowMs - previous.atMs) / 1000;
    const requests = new Map<number, number>();
    const workers = rawWorkers.filter(isObject).map((w): TopWorker => {
      const id = num(w, 'id');
      const count = num(w, 'requests');
      requests.set(id, count);
      const before = previous?.requests.get(id);
      // A respawned slot keeps its count in uWSGI, but a restarted master starts again at 0: never show a negative rate.
      const rps = before === undefined || elapsedSeconds <= 0 ? null : Math.max(0, count - before) / elapsedSeconds;
      return {
        id,
        pid: num(w, 'pid'),
        status: str(w, 'status') || '-',
        requests: count,
        rps,
        exceptions: num(w, 'exceptions'),
        avgRtMs: num(w, 'avg_rt') / 1000,
        rssBytes: num(w, 'rss'),
        vszBytes: num(w, 'vsz'),
        txBytes: num(w, 'tx'),
        respawns: num(w, 'respawn_count'),
        harakiri: num(w, 'harakiri_count'),
        runningTimeSeconds: num(w, 'running_time') / 1e6,
        lastSpawn: num(w, 'last_spawn'),
      };
    });
    this.#previous = {atMs: nowMs, requests};
    const rates = workers.map((w) => w.rps);
    const total = rates.some((r) => r === null) ? null : rates.reduce<number>((sum, r) => sum + (r ?? 0), 0);
    return {
      kind: 'instance',
      version: str(doc, 'version'),
      pid: num(doc, 'pid'),
      listenQueue: num(doc, 'listen_queue'),
      cwd: str(doc, 'cwd'),
      requests: workers.reduce((sum, w) => sum + w.requests, 0),
      rps: workers.length === 0 ? null : total,
      workers,
    };
  }
}

/** A frame as text; `source` names what is watched, `nowMs` (unix ms) dates the frame and ages spawns. */
export function renderTopFrame(frame: TopFrame, source: string, nowMs: number): string {
  const stamp = new Date(nowMs).toISOString().replace('T', ' ').slice(0, 19);
  switch (frame.kind) {
    case 'emperor': {
      const ready = frame.vassals.filter((v) => SERVING.has(v.state)).length;
      const cpu = frame.vassals.reduce((sum, v) => sum + v.cpu, 0);
      const rss = frame.vassals.reduce((sum, v) => sum + v.rss, 0);
      return `kaiser top - ${source} - ${stamp}\nvassals ${frame.vassals.length} (${ready} ready)  cpu ${cpu.toFixed(1)}%  rss ${formatBytes(rss)}\n\n${formatVassalTable(frame.vassals)}`;
    }
    case 'instance': {
      const busy = frame.workers.filter((w) => w.status === 'busy').length;
      // cheaper: a cheaped worker id is listed (status "cheap", no pid) but not counted as running
      const cheap = frame.workers.filter((w) => w.status === 'cheap').length;
      const counts = `workers ${frame.workers.length - cheap} (${busy} busy${cheap > 0 ? `, ${cheap} cheap` : ''})`;
      const head = `kaiser top - ${source} - ${stamp}\n${frame.version || 'uWSGI'}  pid ${frame.pid}  listen queue ${frame.listenQueue}  cwd ${frame.cwd || '-'}\nrequests ${frame.requests}  req/s ${rate(frame.rps)}  ${counts}\n\n`;
      const rows = frame.workers.map((w) => [
        String(w.id),
        w.pid > 0 ? String(w.pid) : '-',
        w.status,
        String(w.requests),
        rate(w.rps),
        String(w.exceptions),
        `${w.avgRtMs.toFixed(1)}ms`,
        formatBytes(w.rssBytes),
        formatBytes(w.vszBytes),
        formatBytes(w.txBytes),
        String(w.respawns),
        String(w.harakiri),
        formatDuration(w.runningTimeSeconds),
        w.lastSpawn > 0 ? `${formatDuration(nowMs / 1000 - w.lastSpawn)} ago` : '-',
      ]);
      return head + formatTable(WORKER_COLUMNS, rows);
    }
    case 'emperor-stats': {
      const head = `kaiser top - ${source} - ${stamp}\nemperor ${frame.version || '-'}  pid ${frame.pid}  vassals ${frame.vassals.length}\n\n`;
      const rows = frame.vassals.map((v) => [
        str(v, 'id') || '?',
        num(v, 'pid') > 0 ? String(num(v, 'pid')) : '-',
        str(v, 'state') || '-',
        num(v, 'ready') ? 'yes' : 'no',
        num(v, 'loyal') ? 'yes' : 'no',
        typeof v['cpu'] === 'number' ? (v['cpu'] as number).toFixed(1) : '-',
        typeof v['rss'] === 'number' ? formatBytes(v['rss'] as number) : '-',
        String(num(v, 'respawns')),
        str(v, 'last_error') ? shorten(str(v, 'last_error')) : '-',
      ]);
      return head + formatTable(EMPEROR_STATS_COLUMNS, rows);
    }
    case 'unknown':
      return `kaiser top - ${source} - ${stamp}\ncannot show this source: ${frame.reason}\n`;
    default: {
      const never: never = frame;
      throw new Error(`Internal error: unknown top frame ${JSON.stringify(never)}`);
    }
  }
}

function rate(value: number | null): string {
  return value === null ? '-' : value.toFixed(1);
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function num(obj: Record<string, unknown>, key: string): number {
  const value = obj[key];
  return typeof value === 'number' && Number.isFinite(value) ? value : 0;
}

function str(obj: Record<string, unknown>, key: string): string {
  const value = obj[key];
  return typeof value === 'string' ? value : '';
}
