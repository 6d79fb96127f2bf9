/**
 * The machinery every decision of a vassal uses (vassal.ts makes the decisions): its state and the one method that
 * writes it, the spawn-slot queue, launching, replacing, reloading in place, stopping and retiring instances, and
 * backing off. Instances report to the abstract `on…` handlers the vassal implements, each inside the vassal's
 * boundary (`contain`): a throw in one is this vassal's fault (FAULT: backoff), never the emperor's (containment.ts).
 */
import type {VassalSpec} from '../config/vassal-spec.js';
import {formatError} from '../errors.js';
import {TO_VASSAL, encodeConfigPacket} from '../protocol/emperor-pipe.js';
import {unexpectedState, unknownState} from '../util/unreachable.js';
import type {Child, ExitStatus} from './child.js';
import {describeError, type VassalStep} from './containment.js';
import type {VassalDeps} from './vassal-deps.js';
import {endInstance, launchInstance, logOf, type InstanceListener, type PipeReport, type StartedInstance} from './vassal-instance.js';
import {newHistory, snapshotOf, type VassalSnapshot} from './vassal-snapshot.js';
import {hasChild, type StopReason, type VassalEventName, type VassalState} from './vassal-states.js';

const BACKOFF_FIRST_MS = 1_000;
const BACKOFF_MAX_MS = 60_000;

/** One vassal's state and the actions its decisions are made of. */
export abstract class VassalCore {
  readonly name: string;
  #state: VassalState = {id: 'waiting'};
  /** The spec the vassal should run (the last good one). */
  protected wanted: VassalSpec | undefined;
  protected readonly deps: VassalDeps;
  protected readonly history = newHistory();
  /** Callers of `requestStats` waiting for the master's answer. */
  protected statsWaiters: (() => void)[] = [];
  /** The config changed while an app-server master was starting: reload it once it is ready. */
  protected reloadWhenReady = false;
  /** Where every instance of this vassal reports (one object, not a set of closures per instance). */
  readonly #instances: InstanceListener;
  #cancelSlot: (() => void) | undefined;
  #holdsSlot = false;
  #stopWaiters: (() => void)[] = [];
  /** Old instances being stopped in the background after an overlap reload (made on first use). */
  #retiring: Set<Child> | undefined;

  constructor(name: string, deps: VassalDeps) {
    this.name = name;
    this.deps = deps;
    // Every report of an instance runs inside a boundary (containment.ts): a throw becomes this vassal's fault.
    const onFault = (child: Child) => (text: string) => this.onInstanceFault(child, text);
    this.#instances = {
      onReady: (child) => this.contain('ready', () => this.onReady(child), onFault(child)),
      onPipe: (child, report) => this.contain('pipe', () => this.onPipe(child, report), onFault(child)),
      onExit: (child, exit) => this.contain('exit', () => this.onExit(child, exit), (text) => this.onExitFault(child, text)),
      onDeadline: (child, ms) => this.contain('timer', () => this.onDeadline(child, ms), onFault(child)),
      // Already reported where it happened: only the recovery runs here (no checkpoint, or a planned fault would
      // throw again before it).
      onFault: (child, text) => this.#recovering('ready', () => this.onInstanceFault(child, text)),
    };
  }

  /**
   * Runs one step of this vassal inside a boundary: a test's planned fault is thrown first (`checkpoint`), and a
   * throw is reported as an internal error (KAISER_INTERNAL_ERROR) and handed to `recover` with the reported text
   * and the error. A recovery that throws too is only reported.
   */
  contain(step: VassalStep, fn: () => void, recover?: (text: string, error: unknown) => void): void {
    try {
      this.deps.checkpoint?.(this, step);
      fn();
    } catch (error) {
      const text = this.#reportFault(step, error);
      if (recover) this.#recovering(step, () => recover(text, error));
    }
  }

  /** Runs a recovery: a throw in it is only reported. */
  #recovering(step: VassalStep, recovery: () => void): void {
    try {
      recovery();
    } catch (error) {
      this.#reportFault(step, error);
    }
  }

  #reportFault(step: VassalStep, error: unknown): string {
    if (this.deps.reportFault) return this.deps.reportFault(this, step, error);
    const text = `KAISER_INTERNAL_ERROR ${formatError('KAISER_INTERNAL_ERROR', {where: `${step} of ${this.name}`, cause: describeError(error)})}`;
    logOf(this.deps, this).error('internal error', {error: text});
    return text;
  }

  /**
   * An internal error in what an instance reported (its readiness, its pipe, a timer): the instance is stopped and
   * the vassal backs off, with the error as its last error. A replacing instance is retired instead (the old one
   * keeps serving).
   */
  protected onInstanceFault(child: Child, text: string): void {
    const s = this.#state;
    this.history.lastError = text;
    if (s.id === 'replacing' && s.next === child) {
      s.cancelProbe();
      this.retire(child);
      return this.changeState({id: 'reload-failed', child: s.child, readyAt: s.readyAt, error: text}, 'FAULT');
    }
    if (!hasChild(s) || s.child !== child || s.id === 'stopping') return;
    this.stop('deadline', 'FAULT');
  }

  /** An internal error while handling an exit: the vassal still leaves the dead child behind (backoff, or down). */
  protected onExitFault(child: Child, text: string): void {
    child.killGroup('SIGKILL');
    this.deps.groups.remove(child.pid);
    const s = this.#state;
    this.history.lastError = text;
    if (s.id === 'replacing' && s.next === child) {
      s.cancelProbe();
      return this.changeState({id: 'reload-failed', child: s.child, readyAt: s.readyAt, error: text}, 'FAULT');
    }
    if (!hasChild(s) || s.child !== child) return;
    if (s.id === 'starting') {
      s.cancelProbe();
      this.releaseSlot();
    }
    if (s.id === 'replacing') {
      s.cancelProbe();
      this.retire(s.next);
    }
    if (s.id === 'stopping' && (s.reason === 'removed' || s.reason === 'shutdown')) return this.changeState({id: 'stopped'}, 'FAULT');
    if (s.id === 'stopping' && s.reason === 'held') return this.changeState({id: 'held'}, 'FAULT');
    this.history.failures += 1;
    this.backoff(this.history.failures, 'FAULT');
  }

  /** The launch itself threw (no process was started): back off with the reason as the last error. */
  #onSpawnFault(error: unknown): void {
    if (this.#state.id !== 'waiting') return; // it got further: the state says what happened
    this.releaseSlot();
    this.history.failures += 1;
    const lastError = `KAISER_VASSAL_SPAWN_FAILED ${formatError('KAISER_VASSAL_SPAWN_FAILED', {cause: describeError(error)})}`;
    this.history.lastError = lastError;
    logOf(this.deps, this).error('vassal cannot start', {uwsgi: `[emperor] vassal ${this.name}: ${lastError}`});
    this.backoff(this.history.failures, 'FAULT');
  }

  get state(): VassalState {
    return this.#state;
  }

  get spec(): VassalSpec | undefined {
    return this.wanted;
  }

  /** A fresh plain snapshot. */
  snapshot(): VassalSnapshot {
    return snapshotOf(this.name, this.wanted, this.#state, this.history);
  }

  /** An instance is ready (probe, READY=1 or the accepting byte). */
  protected abstract onReady(child: Child): void;
  /** An instance's emperor pipe said something the state depends on. */
  protected abstract onPipe(child: Child, report: PipeReport): void;
  protected abstract onExit(child: Child, exit: ExitStatus): void;
  /** An instance was not ready within its start-timeout. */
  protected abstract onDeadline(child: Child, ms: number): void;

  /** True while the vassal waits for, or holds, a spawn slot. */
  protected get isQueued(): boolean {
    return this.#cancelSlot !== undefined || this.#holdsSlot;
  }

  /** True (once) for an instance that was being retired: its exit is routine. */
  protected wasRetired(child: Child): boolean {
    return this.#retiring?.delete(child) === true;
  }

  /** The only writer of the state: every transition is logged and reported to the emperor. */
  protected changeState(next: VassalState, event: VassalEventName): void {
    const from = this.#state.id;
    this.#state = next;
    this.deps.log.debug('vassal state', {vassal: this.name, from, to: next.id, event});
    if (next.id === 'stopped' || next.id === 'held' || next.id === 'invalid') {
      const waiters = this.#stopWaiters;
      this.#stopWaiters = [];
      waiters.forEach((w) => w());
    }
    this.deps.onTransition(this, from, event);
  }

  /** Resolves once the vassal is down (stopped, held or invalid). */
  protected whenStopped(): Promise<void> {
    const id = this.#state.id;
    if (id === 'stopped' || id === 'held' || id === 'invalid') return Promise.resolve();
    return new Promise((resolve) => this.#stopWaiters.push(resolve));
  }

  /**
   * Takes the vassal down for `reason`: at once to `down` (stopped or held) without a process, through `stopping`
   * with one. A vassal already stopping only learns the new reason; one already down stays as it is.
   */
  protected goDown(event: VassalEventName, reason: 'removed' | 'shutdown' | 'held', down: VassalState & {id: 'stopped' | 'held'}): void {
    const s = this.#state;
    switch (s.id) {
      case 'waiting':
        this.leaveQueue();
        return this.changeState(down, event);
      case 'backoff':
        s.cancelRetry();
        return this.changeState(down, event);
      case 'invalid':
      case 'held':
      case 'on-demand':
        if (s.id !== down.id) this.changeState(down, event);
        return;
      case 'stopped':
        return;
      case 'starting':
      case 'ready':
      case 'reloading':
      case 'reload-failed':
      case 'replacing':
        return this.stop(reason, event);
      case 'stopping':
        if (s.reason !== reason) this.changeState({...s, reason}, event);
        return;
      default:
        throw unknownState(s);
    }
  }

  protected leaveQueue(): void {
    this.#cancelSlot?.();
    this.#cancelSlot = undefined;
  }

  protected queue(event: VassalEventName): void {
    this.changeState({id: 'waiting'}, event);
    this.#cancelSlot = this.deps.requestSlot(() => {
      this.#cancelSlot = undefined;
      this.#holdsSlot = true;
      this.contain('spawn', () => this.spawn(), (_text, error) => this.#onSpawnFault(error));
    });
  }

  /** Starts the vassal, or for an on-demand vassal arms its sockets and waits for the first connection. */
  protected queueOrSleep(event: VassalEventName): void {
    if (this.wanted?.onDemand) return this.changeState({id: 'on-demand'}, event);
    return this.queue(event);
  }

  protected releaseSlot(): void {
    if (!this.#holdsSlot) return;
    this.#holdsSlot = false;
    this.deps.releaseSlot();
  }

  protected spawn(): void {
    const spec = this.requireSpec();
    this.reloadWhenReady = false; // a new process starts with the newest config anyway
    const {child, cancelProbe} = this.launch(spec);
    this.changeState({id: 'starting', child, spawnedAt: this.history.lastSpawn, cancelProbe}, 'SLOT');
  }

  protected launch(spec: VassalSpec): StartedInstance {
    return launchInstance(this, spec, this.deps, this.history, this.#instances);
  }

  /** Stops (or, for a replacement, retires) a child that is not ready within `ms`. */
  protected requireSpec(): VassalSpec {
    if (!this.wanted) throw new Error(`Internal error: spawning ${this.name} without a spec`);
    return this.wanted;
  }

  /** True when a reload from `before` to `after` may run both instances at once (sockets or SO_REUSEPORT). */
  protected overlaps(before: VassalSpec | undefined, after: VassalSpec): boolean {
    return before?.kind === 'command' && after.kind === 'command' && after.reloadOverlap;
  }

  /** Overlap reload: start the new instance next to the serving one; the old retires once the new is ready. */
  protected replace(event: VassalEventName): void {
    const s = this.#state;
    if (s.id !== 'ready' && s.id !== 'reload-failed' && s.id !== 'replacing') throw unexpectedState(s, event);
    if (s.id === 'replacing') {
      s.cancelProbe();
      this.retire(s.next);
    }
    logOf(this.deps, this).info('vassal reload', {uwsgi: `[emperor] reload the uwsgi instance ${this.name} (new instance first)`});
    const {child, cancelProbe} = this.launch(this.requireSpec());
    this.changeState({id: 'replacing', child: s.child, readyAt: s.readyAt, next: child, cancelProbe}, event);
  }

  /** Ends an instance that no longer carries the vassal: stop-signal, then SIGKILL after stop-timeout. */
  protected retire(child: Child): void {
    this.#retiring ??= new Set();
    if (this.#retiring.has(child)) return;
    this.#retiring.add(child);
    void endInstance(child, this.wanted, this.deps);
  }

  protected sendReload(child: Child, spec: VassalSpec & {kind: 'app-server'}): void {
    child.send(encodeConfigPacket(this.deps.serverConfigFor(spec)));
    child.send(Buffer.from([TO_VASSAL.RELOAD]));
  }

  protected reloadInPlace(event: VassalEventName): void {
    const s = this.#state;
    if (s.id !== 'ready' && s.id !== 'reload-failed' && s.id !== 'reloading') throw unexpectedState(s, event);
    const spec = this.wanted;
    if (spec?.kind !== 'app-server') throw unexpectedState(s, event);
    this.sendReload(s.child, spec);
    logOf(this.deps, this).info('vassal reload', {uwsgi: `[emperor] reload the uwsgi instance ${this.name}`});
    this.changeState({id: 'reloading', child: s.child, requestedAt: this.deps.now(), readyAt: s.readyAt}, event);
  }

  protected stop(reason: StopReason, event: VassalEventName): void {
    const s = this.#state;
    if (!hasChild(s) || s.id === 'stopping') throw unexpectedState(s, event);
    if (s.id === 'replacing') {
      s.cancelProbe();
      this.retire(s.next);
    }
    if (s.id === 'starting') {
      s.cancelProbe();
      this.releaseSlot();
    }
    if (reason === 'idle') logOf(this.deps, this).info('vassal idle', {uwsgi: `[emperor] vassal ${this.name} is idle: back to on-demand mode`});
    else if (reason !== 'restart') logOf(this.deps, this).info('vassal stop', {uwsgi: `[emperor] stop the uwsgi instance ${this.name}`});
    void endInstance(s.child, this.wanted, this.deps, (graceMs) =>
      logOf(this.deps, this).warn('vassal did not stop in time; killing its process group', {uwsgi: `[emperor] NO MERCY for vassal ${this.name} !!!`, graceMs}),
    );
    this.changeState({id: 'stopping', child: s.child, reason}, event);
  }

  protected backoff(failures: number, event: VassalEventName = 'EXIT'): void {
    const delayMs = Math.min(BACKOFF_MAX_MS, BACKOFF_FIRST_MS * 2 ** Math.max(0, failures - 1));
    const retryAt = this.deps.now() + delayMs;
    const cancelRetry = this.deps.setTimer(delayMs, () =>
      this.contain(
        'timer',
        () => {
          if (this.#state.id === 'backoff') this.queueOrSleep('RETRY');
        },
        (text) => {
          this.history.lastError = text;
          this.backoff(++this.history.failures, 'FAULT');
        },
      ),
    );
    this.changeState({id: 'backoff', retryAt, cancelRetry}, event);
    logOf(this.deps, this).warn('vassal backing off', {uwsgi: `[emperor] vassal ${this.name} failed ${failures} time(s); respawning in ${delayMs / 1000} s`, failures, delayMs});
  }
}
