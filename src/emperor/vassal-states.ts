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
  | {id: 'stopping'; child: Child; reason: StopReason; cancelKill: () => void}
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
  | 'REMOVED'
  | 'SHUTDOWN'
  | 'STOP'
  | 'WAKE';

/** States that count as failing (stats, `kaiser ls`, the systemd status line, a fleet's rolling reload). */
export const FAILING_STATES: ReadonlySet<string> = new Set<VassalStateId>(['backoff', 'invalid', 'reload-failed']);

/** States in which a process runs. */
export const HAS_CHILD = ['starting', 'ready', 'reloading', 'reload-failed', 'replacing', 'stopping'] as const;

/** A terminal record of the last exit, for stats and logs. */
export interface LastExit extends ExitStatus {
  at: number;
}
