/**
 * Containment (issue 14): no vassal file, vassal process or kaiser bug in one vassal's handling may take the emperor
 * down, because the emperor going down takes every vassal with it (the reaper kills them all). Every per-vassal step
 * runs inside a boundary that turns a throw into that vassal's problem:
 *
 *   step        boundary                                   what a throw becomes
 *   read        DirectorySource#read                       the vassal is invalid: KAISER_INTERNAL_ERROR as its error
 *   parse       Emperor#define (planDefinition)            invalid, same
 *   define      Emperor#define (place, prepare, apply)     invalid, same (a running instance keeps its last good config)
 *   spawn       VassalCore#spawn (launch)                  backoff, "cannot start: …" as its last error
 *   ready       vassal-instance (probe start and callback) the instance is stopped, then backoff
 *   pipe        vassal-core (each emperor-pipe report)     the instance is stopped, then backoff
 *   output      vassal-instance (each output line)         the line is dropped; logged (rate-limited)
 *   exit        vassal-core (exit handling)                the vassal is put in backoff
 *   accounting  VassalAccounting (sample, limits)          the tick is skipped; the next one runs
 *   timer       every System timer of the emperor          logged; the emperor carries on
 *
 * Each boundary logs KAISER_INTERNAL_ERROR with the vassal, the step and the stack (at most one line per scope and
 * 10 s, with the count of the others), because a throw there is a kaiser bug. A last resort in cli.ts logs what
 * escapes every boundary the same way instead of exiting.
 *
 * `FaultPlan` is how tests prove each boundary: it throws an `InjectedFault` at a step for a vassal. The unit tests
 * pass one in EmperorOptions; the end-to-end test sets KAISER_TEST_FAULTS (like git's GIT_TEST_* variables), which
 * cli.ts reads. Without it, a checkpoint is one undefined check.
 */
import {formatError} from '../errors.js';
import type {Logger} from '../log/logger.js';
import type {DirWatch, ReadOnce, SpawnedProcess, SpawnOptions, System} from '../system/system.js';

/** The per-vassal steps that run inside a boundary (see the table above). */
export const VASSAL_STEPS = ['read', 'parse', 'define', 'spawn', 'ready', 'pipe', 'output', 'exit', 'accounting', 'timer'] as const;
export type VassalStep = (typeof VASSAL_STEPS)[number];

/** Throws at `step` for vassal `vassal` when a test wants it to. */
export type FaultPlan = (step: VassalStep, vassal: string) => void;

/** A throw a test asked for. */
export class InjectedFault extends Error {
  constructor(step: VassalStep, vassal: string) {
    super(`injected fault at ${step} of ${vassal}`);
    this.name = 'InjectedFault';
  }
}

/**
 * The plan of `KAISER_TEST_FAULTS`: comma-separated `STEP:VASSAL` pairs (`spawn:bad.toml,output:chatty.toml`).
 * Undefined when unset or empty.
 */
export function faultPlanFrom(text: string | undefined): FaultPlan | undefined {
  const pairs = new Set((text ?? '').split(',').map((pair) => pair.trim()).filter((pair) => pair !== ''));
  if (pairs.size === 0) return undefined;
  return (step, vassal) => {
    if (pairs.has(`${step}:${vassal}`)) throw new InjectedFault(step, vassal);
  };
}

/** Where an internal error happened. */
export interface FaultScope {
  /** The emperor's part: `vassal`, `directory`, `accounting`, `timer`, `stats`, a consumer's name… */
  component: string;
  vassal?: string;
  /** A VassalStep, or what the component was doing (`transition`, `remove`, `limits`…). */
  step?: string;
}

/** The first line of an error's message (what a vassal's last error shows). */
export function describeError(error: unknown): string {
  const text = error instanceof Error ? `${error.name === 'Error' ? '' : `${error.name}: `}${error.message}` : String(error);
  return text.split('\n', 1)[0]!.slice(0, 300);
}

/** Internal errors are logged at most once per scope per this long; the others are counted. */
const LOG_EVERY_MS = 10_000;

/** One emperor's boundaries: reports, counts and (in tests) injects internal errors. */
export class Containment {
  readonly #log: Logger;
  readonly #now: () => number;
  readonly #faults: FaultPlan | undefined;
  readonly #lastLogged = new Map<string, {at: number; suppressed: number}>();
  #count = 0;

  constructor(log: Logger, now: () => number, faults?: FaultPlan) {
    this.#log = log;
    this.#now = now;
    this.#faults = faults;
  }

  /** Internal errors caught so far (stats). */
  get count(): number {
    return this.#count;
  }

  /** Throws if a test planned a fault at `step` for `vassal`. */
  checkpoint(step: VassalStep, vassal: string): void {
    this.#faults?.(step, vassal);
  }

  /** Logs an internal error of `scope` (rate-limited) and returns the one-line text for a vassal's last error. */
  report(scope: FaultScope, error: unknown): string {
    this.#count += 1;
    const where = `${scope.step ?? scope.component}${scope.vassal === undefined ? '' : ` of ${scope.vassal}`}`;
    const text = `KAISER_INTERNAL_ERROR ${formatError('KAISER_INTERNAL_ERROR', {where, cause: describeError(error)})}`;
    const key = `${scope.component}\0${scope.vassal ?? ''}\0${scope.step ?? ''}`;
    const now = this.#now();
    const last = this.#lastLogged.get(key);
    if (last !== undefined && now - last.at < LOG_EVERY_MS) {
      last.suppressed += 1;
      return text;
    }
    const suppressed = last?.suppressed ?? 0;
    this.#lastLogged.set(key, {at: now, suppressed: 0});
    if (this.#lastLogged.size > 10_000) this.#lastLogged.clear(); // a vassal churn must not grow this without bound
    this.#log.error('internal error', {
      uwsgi: `[emperor] ${text}${suppressed > 0 ? ` (${suppressed} more like it not shown)` : ''}`,
      ...(scope.vassal === undefined ? {} : {vassal: scope.vassal}),
      component: scope.component,
      ...(scope.step === undefined ? {} : {step: scope.step}),
      stack: error instanceof Error ? error.stack : undefined,
    });
    return text;
  }

  /** Runs `fn`; a throw is reported for `scope` and `onError` (if any) runs with the reported text. */
  run<T>(scope: FaultScope, fn: () => T, onError?: (text: string) => void): T | undefined {
    try {
      return fn();
    } catch (error) {
      const text = this.report(scope, error);
      if (onError) this.#recover(scope, () => onError(text));
      return undefined;
    }
  }

  /** `fn` inside a boundary, as a callback. */
  wrap<A extends unknown[]>(scope: FaultScope, fn: (...args: A) => void): (...args: A) => void {
    return (...args: A) => void this.run(scope, () => fn(...args));
  }

  /** Awaits `promise` inside a boundary: a rejection is reported, never unhandled. */
  settle(scope: FaultScope, promise: Promise<unknown>): Promise<void> {
    return promise.then(
      () => undefined,
      (error: unknown) => void this.report(scope, error),
    );
  }

  /** Runs `fn` and awaits its promise inside a boundary: a throw or a rejection is reported, never passed on. */
  runAsync(scope: FaultScope, fn: () => Promise<unknown>): Promise<void> {
    const promise = this.run(scope, fn);
    return promise === undefined ? Promise.resolve() : this.settle(scope, promise);
  }

  /** A recovery that throws too is reported, and nothing more is tried. */
  #recover(scope: FaultScope, recovery: () => void): void {
    try {
      recovery();
    } catch (error) {
      this.report({...scope, step: `${scope.step ?? scope.component} (recovery)`}, error);
    }
  }
}

/** `sys` with every timer callback inside a boundary of `containment` (component `timer`). */
export function containedSystem(sys: System, containment: Containment): System {
  return {
    now: () => sys.now(),
    cpuMs: () => sys.cpuMs(),
    setTimer: (ms: number, fn: () => void, options?: {background?: boolean}) => sys.setTimer(ms, containment.wrap({component: 'timer'}, fn), options),
    stat: (path: string) => sys.stat(path),
    readFile: (path: string) => sys.readFile(path),
    readOnce: (path: string, maxBytes: number): Promise<ReadOnce> => sys.readOnce(path, maxBytes),
    readDir: (dir: string) => sys.readDir(dir),
    exists: (path: string) => sys.exists(path),
    watchDir: (dir: string, onName: (name: string | undefined) => void, onError: (error: unknown) => void): Promise<DirWatch> =>
      sys.watchDir(dir, containment.wrap({component: 'directory'}, onName), containment.wrap({component: 'directory'}, onError)),
    spawn: (file: string, args: readonly string[], options: SpawnOptions): SpawnedProcess => sys.spawn(file, args, options),
    prepareExec: () => sys.prepareExec(),
    kill: (pid: number, signal: NodeJS.Signals) => sys.kill(pid, signal),
  };
}
