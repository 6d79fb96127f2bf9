/**
 * The emperor's Prometheus metrics, in a private prom-client Registry. Vassal figures are read lazily at scrape
 * time from a `MetricsSource` (one snapshot per scrape, shared by every family), so nothing is sampled between
 * scrapes and a vassal that is gone leaves no series behind. Labels are bounded: vassal names, their kind, and the
 * known vassal states. Durations the emperor measures itself (a scan, a spawn until ready) arrive through
 * `observeScan` and `observeSpawn`.
 *
 * Imports only prom-client, node and the vassal state ids: the caller adapts the emperor's snapshots into
 * `VassalMetricsRow`s.
 */
import {monitorEventLoopDelay, type IntervalHistogram} from 'node:perf_hooks';
import {Counter, Gauge, Histogram, Registry} from 'prom-client';
import {VASSAL_STATE_IDS} from '../emperor/vassal-states.js';

/** One vassal as the metrics see it. */
export interface VassalMetricsRow {
  name: string;
  /** `app-server`, `command`… (bounded: the vassal kinds). */
  kind: string;
  /** The vassal's state id; one of `vassalStates` (an unknown one is still exported, as its own series). */
  state: string;
  /** True while a process of it answers requests (`SERVING`: ready, mid-reload, or after a failed reload). */
  up: boolean;
  restarts: number;
  cpuSeconds: number;
  rssBytes: number;
  /** Since the current instance became ready; 0 when not running. */
  uptimeSeconds: number;
  /** Exit code of the last instance that exited; null before any exit or when it was killed by a signal. */
  lastExitCode: number | null;
  /** App-server vassals that report them (from their stats): omitted series otherwise. */
  requests?: number;
  inflight?: number;
  workers?: number;
  busyWorkers?: number;
  harakiri?: number;
}

/** Where the figures come from at scrape time. */
export interface MetricsSource {
  snapshots(): readonly VassalMetricsRow[];
  /** Called before each scrape, e.g. to ask app-server vassals for fresh request figures. */
  refresh?(): Promise<void>;
}

export interface EmperorMetricsOptions {
  /** The bounded set of states exported as 0/1 for every vassal. Default: every vassal state id (`VASSAL_STATE_IDS`). */
  vassalStates?: readonly string[];
}

const SCAN_BUCKETS_SECONDS = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];
const SPAWN_BUCKETS_SECONDS = [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120];
const LOOP_RESOLUTION_MS = 10;

/** The emperor's metrics. `render()` produces the Prometheus text; `close()` stops the event-loop monitor. */
export class EmperorMetrics {
  readonly registry = new Registry();
  readonly #source: MetricsSource;
  readonly #states: readonly string[];
  readonly #loopDelay: IntervalHistogram;
  readonly #scanSeconds: Histogram;
  readonly #spawnSeconds: Histogram;
  /** The snapshot of the scrape in progress: every collect() of one scrape runs before the next macrotask. */
  #rows: readonly VassalMetricsRow[] | undefined;

  constructor(source: MetricsSource, options: EmperorMetricsOptions = {}) {
    this.#source = source;
    this.#states = options.vassalStates ?? VASSAL_STATE_IDS;
    this.#loopDelay = monitorEventLoopDelay({resolution: LOOP_RESOLUTION_MS});
    this.#loopDelay.enable();
    this.#registerVassalFamilies();
    this.#registerEmperorFamilies();
    this.#scanSeconds = new Histogram({
      name: 'kaiser_emperor_scan_duration_seconds',
      help: 'Time to scan the vassal directory and apply the result.',
      buckets: SCAN_BUCKETS_SECONDS,
      registers: [this.registry],
    });
    this.#spawnSeconds = new Histogram({
      name: 'kaiser_emperor_spawn_duration_seconds',
      help: 'Time from spawning a vassal until it is ready.',
      buckets: SPAWN_BUCKETS_SECONDS,
      registers: [this.registry],
    });
  }

  /** One directory scan took `seconds`. */
  observeScan(seconds: number): void {
    if (Number.isFinite(seconds) && seconds >= 0) this.#scanSeconds.observe(seconds);
  }

  /** One vassal took `seconds` from spawn to ready. */
  observeSpawn(seconds: number): void {
    if (Number.isFinite(seconds) && seconds >= 0) this.#spawnSeconds.observe(seconds);
  }

  /** The Prometheus text exposition of everything, collected now. */
  async render(): Promise<string> {
    await this.#source.refresh?.();
    return this.registry.metrics();
  }

  /** The Content-Type of `render()`'s text. */
  get contentType(): string {
    return this.registry.contentType;
  }

  /** Stops the event-loop monitor. */
  close(): void {
    this.#loopDelay.disable();
  }

  /** The rows of this scrape: taken once, shared by every family, forgotten before the next one. */
  #rowsNow(): readonly VassalMetricsRow[] {
    if (this.#rows === undefined) {
      this.#rows = this.#source.snapshots();
      setImmediate(() => (this.#rows = undefined));
    }
    return this.#rows;
  }

  #registerVassalFamilies(): void {
    const registers = [this.registry];
    const rowsNow = () => this.#rowsNow();
    const states = this.#states;
    const perVassalFamily = {labelNames: ['vassal'] as const, registers};
    const perVassal = (name: string, help: string, value: (row: VassalMetricsRow) => number | null | undefined) =>
      new Gauge({name, help, ...perVassalFamily, collect() {
        this.reset();
        for (const [vassal, v] of finiteSamples(rowsNow(), value)) this.set({vassal}, v);
      }});
    // The source keeps the running total; a counter can only be set through reset + inc.
    const perVassalTotal = (name: string, help: string, value: (row: VassalMetricsRow) => number | undefined) =>
      new Counter({name, help, ...perVassalFamily, collect() {
        this.reset();
        for (const [vassal, v] of finiteSamples(rowsNow(), value)) if (v >= 0) this.inc({vassal}, v);
      }});

    new Gauge({
      name: 'kaiser_vassal_up',
      help: 'Whether the vassal accepts work (1) or not (0).',
      labelNames: ['vassal', 'kind'],
      registers,
      collect() {
        this.reset();
        for (const row of rowsNow()) this.set({vassal: row.name, kind: row.kind}, row.up ? 1 : 0);
      },
    });
    new Gauge({
      name: 'kaiser_vassal_state',
      help: 'The vassal state: 1 for the current one, 0 for the others.',
      labelNames: ['vassal', 'state'],
      registers,
      collect() {
        this.reset();
        for (const row of rowsNow()) {
          for (const state of states) this.set({vassal: row.name, state}, state === row.state ? 1 : 0);
          if (!states.includes(row.state)) this.set({vassal: row.name, state: row.state}, 1);
        }
      },
    });
    perVassalTotal('kaiser_vassal_restarts_total', 'Times the vassal was respawned.', (row) => row.restarts);
    perVassalTotal('kaiser_vassal_cpu_seconds_total', 'CPU time of the current instance and its process tree.', (row) => row.cpuSeconds);
    perVassal('kaiser_vassal_rss_bytes', 'Resident memory of the current instance and its process tree.', (row) => row.rssBytes);
    perVassal('kaiser_vassal_uptime_seconds', 'Time since the current instance became ready.', (row) => row.uptimeSeconds);
    perVassal('kaiser_vassal_last_exit_code', 'Exit code of the last instance that exited.', (row) => row.lastExitCode);
    perVassalTotal('kaiser_vassal_requests_total', 'Requests served by the current instance.', (row) => row.requests);
    perVassal('kaiser_vassal_requests_in_flight', 'Requests being served now.', (row) => row.inflight);
    perVassal('kaiser_vassal_workers', 'Worker processes of the vassal.', (row) => row.workers);
    perVassal('kaiser_vassal_busy_workers', 'Worker processes serving a request now.', (row) => row.busyWorkers);
    perVassalTotal('kaiser_vassal_harakiri_total', 'Workers killed by harakiri in the current instance.', (row) => row.harakiri);
  }

  #registerEmperorFamilies(): void {
    const registers = [this.registry];
    const loopDelay = this.#loopDelay;
    new Gauge({
      name: 'kaiser_emperor_rss_bytes',
      help: 'Resident memory of the emperor process.',
      registers,
      collect() {
        this.set(process.memoryUsage.rss());
      },
    });
    new Counter({
      name: 'kaiser_emperor_cpu_seconds_total',
      help: 'CPU time (user + system) of the emperor process.',
      registers,
      collect() {
        const {user, system} = process.cpuUsage();
        this.reset();
        this.inc((user + system) / 1e6);
      },
    });
    new Gauge({
      name: 'kaiser_emperor_event_loop_lag_seconds',
      help: 'The longest event-loop delay of the emperor since the previous scrape.',
      registers,
      collect() {
        // max is 0 until the first sample; it is reset per scrape, so a stall shows on exactly one scrape.
        this.set(loopDelay.count > 0 ? loopDelay.max / 1e9 : 0);
        loopDelay.reset();
      },
    });
  }
}

/** Each row's value for one per-vassal family, by vassal name: rows without a finite number have no sample. */
function finiteSamples(rows: readonly VassalMetricsRow[], value: (row: VassalMetricsRow) => number | null | undefined): [string, number][] {
  const samples: [string, number][] = [];
  for (const row of rows) {
    const v = value(row);
    if (typeof v === 'number' && Number.isFinite(v)) samples.push([row.name, v]);
  }
  return samples;
}
