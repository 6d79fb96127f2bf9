/**
 * Which operator commands make sense in which vassal state, and why not when they don't: one row per state, one
 * column per command (`kaiser reload`, `restart`, `start`). A `Record` over every `VassalStateId`, so a new state
 * does not compile until each command has decided about it (the three exhaustive switches this replaces said the
 * same thing three times). `undefined` means the command goes ahead.
 */
import type {VassalStateId} from '../emperor/vassal-states.js';

/** The commands gated by state (`stop` is refused only for a removed file; see emperor-control.ts). */
export type GatedCommand = 'reload' | 'restart' | 'start';

type Refusal = string | ((name: string) => string) | undefined;

const GO = undefined;
const INVALID_RELOADS = 'its file is invalid: fix the file (see `kaiser ls`), which reloads it';
const INVALID_STARTS = 'its file is invalid: fix the file (see `kaiser ls`), which starts it';
const WAITING = 'it is waiting for a spawn slot and will start with its current file';
const REMOVED = 'its file was removed';
const ON_DEMAND = 'it is on-demand and not running: the next connection starts it';
const RUNNING = (name: string): string => `it is already running (use \`kaiser restart ${name}\` or \`kaiser reload ${name}\`)`;

const REFUSALS: Readonly<Record<VassalStateId, Readonly<Record<GatedCommand, Refusal>>>> = {
  ready: {reload: GO, restart: GO, start: RUNNING},
  reloading: {reload: GO, restart: GO, start: RUNNING},
  'reload-failed': {reload: GO, restart: GO, start: RUNNING},
  replacing: {reload: GO, restart: GO, start: RUNNING},
  starting: {reload: GO, restart: GO, start: 'it is already starting'},
  backoff: {reload: GO, restart: GO, start: GO},
  held: {reload: (name) => `it was stopped by an operator: use \`kaiser start ${name}\``, restart: GO, start: GO},
  invalid: {reload: INVALID_RELOADS, restart: INVALID_STARTS, start: INVALID_STARTS},
  waiting: {reload: WAITING, restart: WAITING, start: 'it is already starting'},
  stopping: {reload: 'it is stopping', restart: 'it is stopping', start: 'it is still stopping: try again once `kaiser ls` shows it held'},
  stopped: {reload: REMOVED, restart: REMOVED, start: REMOVED},
  'on-demand': {reload: ON_DEMAND, restart: ON_DEMAND, start: 'it is on-demand: the next connection starts it'},
};

/** Why `command` is refused for vassal `name` in state `id`, or undefined when it goes ahead. */
export function refusal(command: GatedCommand, id: VassalStateId, name: string): string | undefined {
  const why = REFUSALS[id][command];
  return typeof why === 'function' ? why(name) : why;
}
