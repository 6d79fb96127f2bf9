/**
 * `kaiser reload|restart|stop|start NAME --wait`: follows a vassal's state transitions after an operator's action
 * until the action has an outcome, and says which. One subscription to the emperor's transitions serves every wait
 * (a `reload --all --wait` of a thousand vassals is one listener and a map lookup per transition).
 *
 * What ends a wait, by the state a vassal enters after the action:
 *
 *   action                 success                      failure
 *   reload|restart|start   ready, on-demand (asleep)    reload-failed (KAISER_VASSAL_RELOAD_FAILED),
 *                                                       backoff | invalid | held | stopped (KAISER_VASSAL_START_FAILED)
 *   stop                   held, stopped                –
 *   any                    –                            no outcome within the wait (KAISER_CONTROL_WAIT_TIMEOUT)
 *
 * `waiting`, `starting`, `reloading`, `replacing` and `stopping` are on the way. A state the vassal is already in
 * when the action was taken counts only where nothing more can happen (a stop of a vassal already down).
 */
import {formatError} from '../errors.js';
import type {ActionResult, VassalAction} from './protocol.js';

/** One state change of one vassal, as the emperor reports it. */
export interface StateChange {
  readonly vassal: string;
  readonly to: string;
}

/** Subscribes to every vassal's state changes; returns the unsubscribe function. */
export type StateChanges = (listener: (change: StateChange) => void) => () => void;

/** What the watcher needs to know about a vassal when its wait ends. */
export interface VassalFacts {
  /** The current state id. */
  readonly state: string;
  /** Why it failed, when it did (a reload's load error, the last exit). */
  readonly lastError: string | undefined;
}

/** One wait in progress. */
export interface OutcomeWatch {
  /** Settles with the outcome; never rejects. */
  readonly outcome: Promise<ActionResult>;
  /** Call right after the action was taken: settles at once if the vassal is already where the action leads. */
  afterAction(): void;
  /** Ends the wait without an outcome (the action was refused, the client went away). */
  cancel(): void;
}

/** The verdict on one state for one action: keep waiting, or the result. */
export function judgeState(action: VassalAction, name: string, facts: VassalFacts): ActionResult | undefined {
  const {state} = facts;
  const cause = lastLine(facts.lastError) ?? `it is ${state}`;
  if (action === 'stop') return state === 'held' || state === 'stopped' ? {name, ok: true, state} : undefined;
  switch (state) {
    case 'ready':
    case 'on-demand':
      return {name, ok: true, state};
    case 'reload-failed':
      return {name, ok: false, state, code: 'KAISER_VASSAL_RELOAD_FAILED', error: withDetail(formatError('KAISER_VASSAL_RELOAD_FAILED', {cause}), facts.lastError)};
    case 'backoff':
    case 'invalid':
      return {name, ok: false, state, code: 'KAISER_VASSAL_START_FAILED', error: withDetail(formatError('KAISER_VASSAL_START_FAILED', {vassal: name, state, cause}), facts.lastError)};
    case 'held':
    case 'stopped':
      return {name, ok: false, state, code: 'KAISER_VASSAL_START_FAILED', error: formatError('KAISER_VASSAL_START_FAILED', {vassal: name, state, cause: state === 'held' ? 'it was stopped meanwhile' : 'its file was removed'})};
    default:
      return undefined;
  }
}

/** The last non-empty line of a message: the line of a Python traceback that says what went wrong. */
export function lastLine(text: string | undefined): string | undefined {
  if (text === undefined) return undefined;
  const lines = text.split('\n').map((line) => line.trim()).filter((line) => line !== '');
  return lines[lines.length - 1];
}

/** A one-line message, followed by the full multi-line text it summarizes (a traceback), indented. */
function withDetail(message: string, detail: string | undefined): string {
  if (detail === undefined || !detail.trim().includes('\n')) return message;
  return `${message}\n${detail.trimEnd().split('\n').map((line) => `    ${line}`).join('\n')}`;
}

/** Follows outcomes for any number of waits over one subscription. */
export class OutcomeWatcher {
  readonly #subscribe: StateChanges;
  readonly #facts: (name: string) => VassalFacts | undefined;
  readonly #waits = new Map<string, Set<(change: StateChange) => void>>();
  #unsubscribe: (() => void) | undefined;

  constructor(subscribe: StateChanges, facts: (name: string) => VassalFacts | undefined) {
    this.#subscribe = subscribe;
    this.#facts = facts;
  }

  /** Starts waiting for the outcome of `action` on `name`, for at most `timeoutMs`. Call before the action. */
  watch(name: string, action: VassalAction, timeoutMs: number): OutcomeWatch {
    let settle: (result: ActionResult) => void = () => undefined;
    const outcome = new Promise<ActionResult>((resolve) => (settle = resolve));
    let done = false;
    const finish = (result: ActionResult | undefined) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      this.#remove(name, onChange);
      if (result !== undefined) settle(result);
    };
    const judgeNow = () => {
      const facts = this.#facts(name);
      if (facts === undefined) return finish({name, ok: false, code: 'KAISER_VASSAL_START_FAILED', error: formatError('KAISER_VASSAL_START_FAILED', {vassal: name, state: 'gone', cause: 'its file was removed'})});
      const verdict = judgeState(action, name, facts);
      if (verdict !== undefined) finish(verdict);
    };
    const onChange = (change: StateChange) => {
      if (change.vassal === name) judgeNow();
    };
    const timer = setTimeout(() => {
      const state = this.#facts(name)?.state ?? 'gone';
      finish({name, ok: false, state, code: 'KAISER_CONTROL_WAIT_TIMEOUT', error: `no outcome within ${Math.round(timeoutMs / 100) / 10} s: ${name} is ${state}`});
    }, timeoutMs);
    this.#add(name, onChange);
    return {
      outcome,
      afterAction: () => {
        const facts = this.#facts(name);
        // Only states the action cannot lead out of: a stop of a vassal already down, a start that was refused.
        if (facts === undefined || (action === 'stop' ? facts.state === 'held' || facts.state === 'stopped' : facts.state === 'invalid' || facts.state === 'stopped')) judgeNow();
      },
      cancel: () => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        this.#remove(name, onChange);
      },
    };
  }

  #add(name: string, listener: (change: StateChange) => void): void {
    this.#unsubscribe ??= this.#subscribe((change) => {
      for (const wait of [...(this.#waits.get(change.vassal) ?? [])]) wait(change);
    });
    let set = this.#waits.get(name);
    if (set === undefined) this.#waits.set(name, (set = new Set()));
    set.add(listener);
  }

  #remove(name: string, listener: (change: StateChange) => void): void {
    const set = this.#waits.get(name);
    if (set === undefined) return;
    set.delete(listener);
    if (set.size > 0) return;
    this.#waits.delete(name);
    if (this.#waits.size === 0) {
      this.#unsubscribe?.();
      this.#unsubscribe = undefined;
    }
  }
}
