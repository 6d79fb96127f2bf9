/**
 * Builds the `EmperorControl` the control server needs from a running emperor and its log book: turns vassal
 * snapshots into `kaiser ls` rows and the `kaiser status` summary, decides per vassal state whether an operator's
 * reload, restart, stop or start makes sense (a held vassal is not reloaded but started; an invalid file is fixed,
 * not restarted), answering why not as a value, and follows an action to its outcome for `--wait`
 * (outcome-watch.ts). Knows the emperor only through the small `GovernedEmperor` shape.
 */
import type {VassalSpec} from '../config/vassal-spec.js';
import {SOCKET_OPTIONS} from '../config/server-config.js';
import type {VassalSnapshot} from '../emperor/vassal.js';
import {FAILING, SERVING, type VassalStateId} from '../emperor/vassal-states.js';
import {err, ok, type Result} from '../result.js';
import {prefixed, type VassalLogBook} from './log-book.js';
import {refusal, type GatedCommand} from './refusals.js';
import {OutcomeWatcher, type StateChanges} from './outcome-watch.js';
import type {EmperorStatus, VassalRow} from './protocol.js';
import type {EmperorControl} from './server.js';

/** A vassal as the control socket drives it (`Vassal` fits). */
export interface GovernedVassal {
  readonly spec: VassalSpec | undefined;
  readonly state: {readonly id: VassalStateId};
  reload(): void;
  restart(): void;
  hold(): Promise<void>;
  start(): void;
  /** For `--wait`: the last error (a reload's load error, the last exit). */
  snapshot(): {readonly lastError: string | undefined};
}

/** The emperor as the control socket sees it (`Emperor` fits once it has `vassal(name)`). */
export interface GovernedEmperor {
  /** Unix milliseconds. */
  readonly startedAt: number;
  snapshots(): readonly (VassalSnapshot & {cpuPercent: number; rssBytes: number; source?: string})[];
  vassal(name: string): GovernedVassal | undefined;
}

/** What the summary names besides the vassals. */
export interface EmperorIdentity {
  readonly version: string;
  readonly dir: string;
  /** Unix milliseconds; default `Date.now`. */
  readonly now?: () => number;
  /** Every vassal's state changes, for `--wait`; without it a wait ends at its deadline. */
  readonly stateChanges?: StateChanges;
}

/** A wait with no timeout of its own lasts the vassal's start-timeout plus its stop-timeout (a restart does both). */
const DEFAULT_START_TIMEOUT_MS = 60_000;
const DEFAULT_STOP_TIMEOUT_MS = 10_000;

/** The control surface of `emperor`, with logs from `book`. */
export function emperorControl(emperor: GovernedEmperor, book: VassalLogBook, identity: EmperorIdentity): EmperorControl {
  const now = identity.now ?? Date.now;
  const find = (name: string): Result<GovernedVassal, string> => {
    const vassal = emperor.vassal(name);
    return vassal === undefined ? err(`no vassal named ${name}`) : ok(vassal);
  };
  /** reload, restart, start: done unless the vassal's state refuses the command (refusals.ts says why). */
  const gated = (command: GatedCommand) => (name: string): Result<void, string> => {
    const found = find(name);
    if (!found.ok) return found;
    const why = refusal(command, found.value.state.id, name);
    if (why !== undefined) return err(why);
    found.value[command]();
    return ok(undefined);
  };
  const watcher = new OutcomeWatcher(identity.stateChanges ?? (() => () => undefined), (name) => {
    const vassal = emperor.vassal(name);
    return vassal === undefined ? undefined : {state: vassal.state.id, lastError: vassal.snapshot().lastError};
  });
  return {
    rows: () => emperor.snapshots().map((snap) => vassalRow(snap, emperor.vassal(snap.name)?.spec, now())),
    status: () => {
      const snaps = emperor.snapshots();
      const status: EmperorStatus = {
        pid: process.pid,
        uptime: Math.max(0, Math.floor((now() - emperor.startedAt) / 1000)),
        rss: process.memoryUsage.rss(),
        version: identity.version,
        dir: identity.dir,
        vassals: snaps.length,
        ready: snaps.filter((s) => SERVING.has(s.state)).length,
        failing: snaps.filter((s) => FAILING.has(s.state)).length,
        held: snaps.filter((s) => s.state === 'held').length,
      };
      return status;
    },
    reload: gated('reload'),
    restart: gated('restart'),
    watchOutcome: (name, action, timeoutMs) => {
      const spec = emperor.vassal(name)?.spec;
      const ms = timeoutMs ?? (spec?.startTimeoutMs ?? DEFAULT_START_TIMEOUT_MS) + (spec?.stopTimeoutMs ?? DEFAULT_STOP_TIMEOUT_MS);
      return watcher.watch(name, action, ms);
    },
    stop: (name) => {
      const found = find(name);
      if (!found.ok) return found;
      const id = found.value.state.id;
      if (id === 'stopped') return err('its file was removed; it is already down');
      // hold() resolves once the process is gone; the operator is answered at once and watches `kaiser ls`.
      void found.value.hold();
      return ok(undefined);
    },
    start: gated('start'),
    logTail: (name, lines) => {
      if (name === undefined) return ok(book.tailAll(lines));
      const found = find(name);
      return found.ok ? ok(book.tail(name, lines)) : found;
    },
    followLogs: (name, onLine) => {
      if (name === undefined) return ok(book.followAll((vassal, line) => onLine(prefixed(vassal, line))));
      const found = find(name);
      return found.ok ? ok(book.follow(name, onLine)) : found;
    },
  };
}

/** One `kaiser ls` row. */
export function vassalRow(snap: VassalSnapshot & {cpuPercent: number; rssBytes: number; source?: string}, spec: VassalSpec | undefined, nowMs: number): VassalRow {
  const running = snap.pid > 0;
  return {
    name: snap.name,
    kind: snap.kind,
    state: snap.state,
    pid: running ? snap.pid : -1,
    cpu: Math.round(snap.cpuPercent * 10) / 10,
    rss: snap.rssBytes,
    uptime: running && snap.lastSpawn > 0 ? Math.max(0, Math.floor((nowMs - snap.lastSpawn) / 1000)) : 0,
    restarts: snap.restarts,
    sockets: spec === undefined ? [] : socketsOf(spec),
    lastError: snap.lastError ?? null,
    ...(snap.warnings === undefined ? {} : {warnings: snap.warnings}),
    source: snap.source ?? 'dir',
  };
}

/** The addresses a vassal serves on, as its file gives them. */
export function socketsOf(spec: VassalSpec): string[] {
  switch (spec.kind) {
    case 'command':
      return [...spec.sockets];
    case 'app-server':
      return SOCKET_OPTIONS.flatMap((option) => {
        const value = spec.serverConfig[option];
        const values = Array.isArray(value) ? value : typeof value === 'string' && value !== '' ? [value] : [];
        return values.map((address: string) => `${option}=${address}`);
      });
    default: {
      const never: never = spec;
      throw new Error(`Internal error: unknown vassal kind ${JSON.stringify(never)}`);
    }
  }
}
