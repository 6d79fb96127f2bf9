/**
 * The emperor stats document: uWSGI's keys in uWSGI's order (so exporters and uwsgitop read it), then kaiser's own
 * per-vassal fields (state, kind, cpu, rss, restarts, last error, config warnings, last exit, next retry). Times are
 * unix seconds.
 */
import type {VassalSnapshot} from './vassal.js';
import {FAILING, SERVING} from './vassal-states.js';

export interface StatsInput {
  version: string;
  /** The sources feeding the emperor (the vassal directory, fleet stores). */
  sources: readonly string[];
  vassals: readonly (VassalSnapshot & {cpuPercent: number; rssBytes: number; cpuSeconds: number; lastMod: number; source: string; uid?: number; gid?: number})[];
  /** `--emperor-tyrant`. */
  tyrant?: boolean;
}

const seconds = (ms: number) => (ms > 0 ? Math.floor(ms / 1000) : 0);

/** Renders the stats JSON (tab-indented, like uWSGI's). */
export function renderEmperorStats(input: StatsInput): string {
  const uid = process.getuid?.() ?? 0;
  const gid = process.getgid?.() ?? 0;
  const doc = {
    version: input.version,
    pid: process.pid,
    uid,
    gid,
    cwd: process.cwd(),
    emperor: [...input.sources],
    emperor_tyrant: input.tyrant ? 1 : 0,
    throttle_level: 0,
    vassals: input.vassals.map((v) => ({
      id: v.name,
      pid: v.pid,
      born: seconds(v.born),
      last_mod: seconds(v.lastMod),
      last_heartbeat: seconds(v.lastHeartbeat),
      loyal: v.loyal ? 1 : 0,
      ready: v.readyAt > 0 && v.pid > 0 ? 1 : 0,
      accepting: v.accepting ? 1 : 0,
      last_loyal: seconds(v.lastLoyal),
      last_ready: seconds(v.readyAt),
      last_accepting: seconds(v.readyAt),
      first_run: seconds(v.born),
      last_run: seconds(v.lastSpawn),
      cursed: 0,
      zerg: 0,
      on_demand: '',
      uid: v.uid ?? uid,
      gid: v.gid ?? gid,
      monitor: v.source,
      respawns: v.restarts,
      state: v.state,
      kind: v.kind,
      cpu: Math.round(v.cpuPercent * 10) / 10,
      cpu_seconds: Math.round(v.cpuSeconds * 100) / 100,
      rss: v.rssBytes,
      restarts: v.restarts,
      last_error: v.lastError ?? '',
      warnings: v.warnings ?? [],
      last_exit: v.lastExit ? {code: v.lastExit.code, signal: v.lastExit.signal, at: seconds(v.lastExit.at)} : null,
      next_retry: seconds(v.nextRetryAt),
    })),
    blacklist: [],
  };
  return JSON.stringify(doc, null, '\t');
}

/** The SIGUSR1 report: the emperor's memory, then one line per vassal (uWSGI's words). */
export function statusLines(vassals: readonly VassalSnapshot[], memory: NodeJS.MemoryUsage): string[] {
  const mb = (bytes: number) => (bytes / 1048576).toFixed(1);
  return [
    `[emperor] ${vassals.length} vassals; memory rss ${mb(memory.rss)} MB, heap ${mb(memory.heapUsed)}/${mb(memory.heapTotal)} MB, external ${mb(memory.external)} MB, array buffers ${mb(memory.arrayBuffers)} MB`,
    ...vassals.map((snap) => `vassal instance ${snap.name} (last spawned ${Math.floor(snap.lastSpawn / 1000)}) state ${snap.state} pid ${snap.pid} loyal ${snap.loyal ? 1 : 0} restarts ${snap.restarts}`),
  ];
}

/** How many vassals there are, serve and are failing (the systemd status line). */
export interface Census {
  total: number;
  ready: number;
  failing: number;
}

/** Counts `states` by group: ready is `SERVING`, failing is `FAILING` (a failed reload is both). */
export function censusOf(states: readonly string[]): Census {
  return {total: states.length, ready: states.filter((id) => SERVING.has(id)).length, failing: states.filter((id) => FAILING.has(id)).length};
}
