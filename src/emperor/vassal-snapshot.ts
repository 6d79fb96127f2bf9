/**
 * What a vassal has lived through (spawns, restarts, failures, loyalty, last exit and error, an app server's request
 * figures) and the plain snapshot made of it for stats, `kaiser ls`, metrics and logs.
 */
import type {VassalSpec} from '../config/vassal-spec.js';
import {ACCEPTING, hasChild, type LastExit, type VassalState, type VassalStateId} from './vassal-states.js';

/** What an app-server master reports when asked (byte 3). */
export interface AppServerStats {
  requests: number;
  inflight: number;
  workers: number;
  busy: number;
  harakiri: number;
}

/** Counters and times of one vassal (unix ms; 0 = never). */
export interface VassalHistory {
  born: number;
  lastSpawn: number;
  restarts: number;
  /** Deaths before ready (and forced exits) since the last reset: they drive the backoff. */
  failures: number;
  loyal: boolean;
  lastLoyal: number;
  lastHeartbeat: number;
  lastExit: LastExit | undefined;
  lastError: string | undefined;
  /** Request figures of an app-server vassal, as of its last answer to a stats request. */
  appStats: AppServerStats | undefined;
}

/** A vassal that has not lived yet. */
export function newHistory(): VassalHistory {
  return {born: 0, lastSpawn: 0, restarts: 0, failures: 0, loyal: false, lastLoyal: 0, lastHeartbeat: 0, lastExit: undefined, lastError: undefined, appStats: undefined};
}

/** A snapshot for stats, logs and the control socket. */
export interface VassalSnapshot {
  name: string;
  kind: VassalSpec['kind'] | 'unknown';
  state: VassalStateId;
  pid: number;
  born: number;
  lastSpawn: number;
  readyAt: number;
  restarts: number;
  failures: number;
  loyal: boolean;
  lastLoyal: number;
  /** uWSGI's `accepting`: the instance said it accepts and no reload is in progress (see `ACCEPTING`). */
  accepting: boolean;
  lastHeartbeat: number;
  nextRetryAt: number;
  lastExit: LastExit | undefined;
  lastError: string | undefined;
  file: string;
  /** Request figures of an app-server vassal, as of its last answer to a stats request. */
  appStats: AppServerStats | undefined;
  /** Config warnings of the current spec (KAISER_CONFIG_UNKNOWN_KEY, KAISER_CONFIG_NOT_APPLIED), when there are any. */
  warnings?: string[];
}

/** A fresh plain snapshot of a vassal. */
export function snapshotOf(name: string, spec: VassalSpec | undefined, s: VassalState, history: VassalHistory): VassalSnapshot {
  return {
    name,
    kind: spec?.kind ?? 'unknown',
    state: s.id,
    pid: hasChild(s) ? s.child.pid : -1,
    born: history.born,
    lastSpawn: history.lastSpawn,
    readyAt: 'readyAt' in s ? s.readyAt : 0,
    restarts: history.restarts,
    failures: history.failures,
    loyal: history.loyal,
    lastLoyal: history.lastLoyal,
    accepting: ACCEPTING.has(s.id),
    lastHeartbeat: history.lastHeartbeat,
    nextRetryAt: s.id === 'backoff' ? s.retryAt : 0,
    lastExit: history.lastExit,
    lastError: s.id === 'invalid' ? s.error : history.lastError,
    file: spec?.file ?? '',
    appStats: history.appStats,
    ...(spec?.warnings === undefined ? {} : {warnings: spec.warnings}),
  };
}
