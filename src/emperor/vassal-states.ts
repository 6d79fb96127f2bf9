/**
 * The states of one vassal and the data valid in each. Pure types: no imports but types.
 *
 *   (new) ──START──► waiting ──SLOT──► starting ──READY──► ready ──CONFIG_CHANGED / RELOAD──► reloading
 *                      ▲                 │    │             │  ▲                                  │ │
 *                      │            EXIT │    │ DEADLINE    │  └──────────── RELOADED ────────────┘ │ RELOAD_FAILED
 *                      │ RETRY           ▼    ▼             │                                       ▼
 *                    backoff ◄──────── (failure)       EXIT │ (crash: respawn at once,        reload-failed
 *                                                           ▼  then with backoff)            (old app serves)
 *   any state with a child ──REMOVED / SHUTDOWN / RESTART──► stopping ──EXIT──► stopped | waiting (restart)
 *   waiting | backoff | invalid ──REMOVED / SHUTDOWN──► stopped
 *   waiting | backoff ──CONFIG_INVALID──► invalid ──CONFIG_CHANGED (valid)──► waiting
 *   any state with a child ──CONFIG_INVALID (refused: tyrant owner change)──► stopping ──EXIT──► invalid
 *   EXIT with a forced reason (killed over memory-limit) counts as a failure even after READY ──► backoff
 *   operator STOP (control socket) ──► stopping ──EXIT──► held (stays down until START or a file change)
 *   on-demand vassal: (new) | backoff RETRY | EXIT | idle stop ──► on-demand ──WAKE (first connection)──► waiting
 *   command vassal with reload-overlap: ready ──CONFIG_CHANGED / RELOAD──► replacing (old serves, new starts)
 *     replacing ──READY (new)──► ready (old retired gracefully)   replacing ──EXIT (new)──► reload-failed (old serves)
 *   containment (containment.ts): waiting ──FAULT (cannot start)──► backoff
 *     a state with a child ──FAULT (internal error in its readiness, pipe or exit)──► stopping ──EXIT──► backoff
 *     (a child already gone: straight to backoff; a replacing one's new instance: reload-failed, the old serves)
 */
import type {Child, ExitStatus} from './child.js';

/** Why a vassal is being stopped, which decides where `stopping` leads. */
export type StopReason = 'removed' | 'shutdown' | 'restart' | 'deadline' | 'held' | 'idle' | 'invalid';

export type VassalState =
  | {id: 'waiting'}
  | {id: 'starting'; child: Child; spawnedAt: number; cancelProbe: () => void}
  | {id: 'ready'; child: Child; readyAt: number}
  | {id: 'reloading'; child: Child; requestedAt: number; readyAt: number}
  | {id: 'reload-failed'; child: Child; readyAt: number; error: string}
  /** Overlap reload of a command vassal: `child` serves while `next` starts on the same sockets. */
  | {id: 'replacing'; child: Child; readyAt: number; next: Child; cancelProbe: () => void}
  | {id: 'stopping'; child: Child; reason: StopReason}
  | {id: 'backoff'; retryAt: number; cancelRetry: () => void}
  | {id: 'invalid'; error: string}
  /** On-demand vassal with no process: the emperor holds its sockets and starts it on the first connection. */
  | {id: 'on-demand'}
  | {id: 'held'}
  | {id: 'stopped'};

export type VassalStateId = VassalState['id'];

/** Events, as they appear in logs. */
export type VassalEventName =
  | 'START'
  | 'SLOT'
  | 'READY'
  | 'EXIT'
  | 'DEADLINE'
  | 'RETRY'
  | 'CONFIG_CHANGED'
  | 'CONFIG_INVALID'
  | 'RELOAD'
  | 'RELOADED'
  | 'RELOAD_FAILED'
  | 'RESTART'
  | 'REMOVED'
  | 'SHUTDOWN'
  | 'STOP'
  | 'WAKE'
  | 'FAULT';

/** Every state id, in the order a vassal usually meets them (metrics export one series per id). */
export const VASSAL_STATE_IDS = [
  'waiting',
  'on-demand',
  'starting',
  'ready',
  'reloading',
  'reload-failed',
  'replacing',
  'stopping',
  'backoff',
  'invalid',
  'held',
  'stopped',
] as const satisfies readonly VassalStateId[];

/** A named set of state ids whose `has` narrows (a string from a snapshot, or a state's id). */
export interface StateGroup<S extends VassalStateId> extends ReadonlySet<string> {
  has(id: string): id is S;
}

function group<S extends VassalStateId>(...ids: S[]): StateGroup<S> {
  return new Set<string>(ids) as unknown as StateGroup<S>;
}

/**
 * A process answers requests: ready, mid-reload (the old workers or the old instance serve until the new ones are
 * ready), or after a failed reload (the old app serves). The router proxies to them, metrics report them up
 * (`kaiser_vassal_up`), `kaiser status` and the systemd status line count them as ready.
 */
export const SERVING = group('ready', 'reloading', 'reload-failed', 'replacing');

/**
 * uWSGI's `accepting` (emperor stats): the instance told the emperor it accepts requests, and no reload of it is in
 * progress.
 */
export const ACCEPTING = group('ready', 'reload-failed');

/** Something is wrong that needs an operator or a retry: stats, `kaiser ls`, the systemd status, a fleet's rollout. */
export const FAILING = group('backoff', 'invalid', 'reload-failed');

/** Nothing listens behind the vassal's sockets: the router answers 503 at once instead of waiting for a timeout. */
export const DOWN = group('backoff', 'invalid', 'held', 'stopped');

/**
 * No process answers yet, but one may soon: it waits for a spawn slot, starts, or the first connection wakes it. The
 * router still sends a connection there (when nothing serves) instead of refusing it.
 */
export const WAKEABLE = group('waiting', 'starting', 'on-demand');

/** States in which a process runs (`child` is set). */
export const HAS_CHILD = group('starting', 'ready', 'reloading', 'reload-failed', 'replacing', 'stopping');

/** A state with a running process. */
export type StateWithChild = Extract<VassalState, {child: Child}>;

/** True when a process runs in `state` (narrows to the states that have `child`). */
export function hasChild(state: VassalState): state is StateWithChild {
  return HAS_CHILD.has(state.id);
}

/** A terminal record of the last exit, for stats and logs. */
export interface LastExit extends ExitStatus {
  at: number;
}
