/**
 * Owns one vassal: its state (vassal-states.ts has the diagram) and the choice to spawn, reload, stop, respawn, back
 * off or give up, for every request (config changed or invalid, reload, remove, operator stop and start, wake) and
 * every report of its instances (ready, pipe, exit, deadline). The actions those choices are made of, and the one
 * writer of the state (`changeState`), are in vassal-core.ts; running an instance is vassal-instance.ts's; what the
 * vassal has lived through is its history (vassal-snapshot.ts).
 *
 * Crash policy: a vassal that dies before it is ready is retried with exponential backoff (1 s doubling to 60 s);
 * one that dies after being ready is respawned at once. 60 s of health resets the backoff count. Exit code 26
 * (uWSGI's exile) is never respawned.
 */
import type {VassalSpec} from '../config/vassal-spec.js';
import {EXIT} from '../exit-codes.js';
import {TO_VASSAL} from '../protocol/emperor-pipe.js';
import {unknownState} from '../util/unreachable.js';
import type {Child, ExitStatus} from './child.js';
import {logOf, type PipeReport} from './vassal-instance.js';
import {VassalCore} from './vassal-core.js';
import {SERVING, hasChild, type VassalEventName, type VassalState, type VassalStateId} from './vassal-states.js';

export type {VassalDeps} from './vassal-deps.js';
export type {AppServerStats, VassalSnapshot} from './vassal-snapshot.js';

/** A vassal ready this long before it dies starts again with a clean backoff count. */
const HEALTHY_RESET_MS = 60_000;

/**
 * What one request does in each state, as a table: a handler per state id, given the vassal and its state narrowed
 * to that id. Like an exhaustive switch, the compiler demands every state (a new one does not build until each
 * table says what it does there); unlike one, the table reads as the policy it is.
 */
type ByState = {readonly [K in VassalStateId]: (vassal: Vassal, state: Extract<VassalState, {id: K}>) => void};

/** Runs the handler `table` has for the state the vassal is in. */
function onState(table: ByState, vassal: Vassal, state: VassalState): void {
  // Each entry takes exactly the state of its id; TypeScript cannot follow that through the index, so say it once here.
  (table[state.id] as (vassal: Vassal, state: VassalState) => void)(vassal, state);
}

/** The handler of a state in which the request changes nothing. */
const nothing = (): void => undefined;

/** One vassal: what the emperor and operators ask of it, and what its instances report, decided by state. */
export class Vassal extends VassalCore {
  /** Asks an app-server master for its request figures; resolves when it answered (or at once if it cannot). */
  requestStats(): Promise<void> {
    const s = this.state;
    if (this.wanted?.kind !== 'app-server' || !hasChild(s) || !s.child.send(Buffer.from([TO_VASSAL.STATS]))) return Promise.resolve();
    return new Promise((resolve) => this.statsWaiters.push(resolve));
  }

  /**
   * The file appeared (or became valid): start it. `restart` forces a stop and a fresh start of a running instance
   * (what a reload in place cannot change: the user it runs as, its cgroup).
   */
  onConfigChanged(spec: VassalSpec, options: {restart?: boolean} = {}): void {
    const previous = this.wanted;
    this.wanted = spec;
    const s = this.state;
    if (options.restart && SERVING.has(s.id)) return this.stop('restart', 'CONFIG_CHANGED');
    switch (s.id) {
      case 'waiting':
        if (!this.isQueued) return this.queueOrSleep('START');
        return;
      case 'backoff':
        s.cancelRetry();
        this.history.failures = 0;
        return this.queueOrSleep('CONFIG_CHANGED');
      case 'invalid':
      case 'held':
      case 'stopped':
        this.history.failures = 0;
        return this.queueOrSleep('CONFIG_CHANGED');
      case 'on-demand':
        // Like uWSGI: a config change of a sleeping vassal only updates what the next wake-up starts.
        if (!spec.onDemand) return this.queue('CONFIG_CHANGED');
        return;
      case 'starting':
        // An app-server master that is still starting owns its sockets already: stopping it would refuse
        // connections. Reload it in place as soon as it is ready instead.
        if (previous?.kind === 'app-server' && spec.kind === 'app-server') {
          this.reloadWhenReady = true;
          return;
        }
        return this.stop('restart', 'CONFIG_CHANGED');
      case 'ready':
      case 'reload-failed':
      case 'reloading':
        return this.#renew(s, previous, spec, 'CONFIG_CHANGED');
      case 'replacing':
        if (this.overlaps(previous, spec)) return this.replace('CONFIG_CHANGED');
        return this.stop('restart', 'CONFIG_CHANGED');
      case 'stopping':
        if (s.reason === 'removed' || s.reason === 'held') this.changeState({...s, reason: 'restart'}, 'CONFIG_CHANGED');
        return;
      default:
        throw unknownState(s);
    }
  }

  /**
   * The file is broken. A running vassal keeps its last good config; anything else shows the error. `stop` stops a
   * running instance too (tyrant mode: its file changed owner to one that is refused).
   */
  onConfigInvalid(error: string, options: {stop?: boolean} = {}): void {
    const s = this.state;
    this.history.lastError = error;
    if (options.stop) {
      if (s.id === 'starting' || SERVING.has(s.id)) return this.stop('invalid', 'CONFIG_INVALID');
      if (s.id === 'stopping') return this.changeState({...s, reason: 'invalid'}, 'CONFIG_INVALID');
    }
    switch (s.id) {
      case 'waiting':
        this.leaveQueue();
        return this.changeState({id: 'invalid', error}, 'CONFIG_INVALID');
      case 'backoff':
        s.cancelRetry();
        return this.changeState({id: 'invalid', error}, 'CONFIG_INVALID');
      case 'on-demand':
      case 'invalid':
      case 'held':
      case 'stopped':
        return this.changeState({id: 'invalid', error}, 'CONFIG_INVALID');
      case 'starting':
      case 'ready':
      case 'reloading':
      case 'reload-failed':
      case 'replacing':
      case 'stopping':
        logOf(this.deps, this).warn('vassal file is invalid; keeping the running instance on its last good config', {error});
        return;
      default:
        throw unknownState(s);
    }
  }

  /** SIGHUP to the emperor or `kaiser reload NAME`: reload with the current config. */
  reload(): void {
    onState(Vassal.#ON_RELOAD, this, this.state);
  }

  static readonly #ON_RELOAD: ByState = {
    ready: (v, s) => v.#renew(s, v.wanted, v.wanted, 'RELOAD'),
    'reload-failed': (v, s) => v.#renew(s, v.wanted, v.wanted, 'RELOAD'),
    reloading: (v, s) => v.#renew(s, v.wanted, v.wanted, 'RELOAD'),
    replacing: (v) => v.replace('RELOAD'),
    starting: (v) => v.stop('restart', 'RELOAD'),
    backoff: (v, s) => {
      s.cancelRetry();
      v.queue('RELOAD');
    },
    held: nothing,
    'on-demand': nothing,
    waiting: nothing,
    stopping: nothing,
    invalid: nothing,
    stopped: nothing,
  };

  /**
   * `kaiser restart NAME`: stop the running instance and start a fresh one with the current config (what a reload in
   * place keeps: the master process, its sockets). A vassal stopped by an operator or backing off just starts.
   */
  restart(): void {
    onState(Vassal.#ON_RESTART, this, this.state);
  }

  static readonly #ON_RESTART: ByState = {
    starting: (v) => v.#restartNow(),
    ready: (v) => v.#restartNow(),
    reloading: (v) => v.#restartNow(),
    'reload-failed': (v) => v.#restartNow(),
    replacing: (v) => v.#restartNow(),
    stopping: (v, s) => {
      if (s.reason === 'held') v.changeState({...s, reason: 'restart'}, 'RESTART');
    },
    held: (v) => v.start(),
    backoff: (v) => v.start(),
    waiting: nothing,
    'on-demand': nothing,
    invalid: nothing,
    stopped: nothing,
  };

  #restartNow(): void {
    this.reloadWhenReady = false;
    this.stop('restart', 'RESTART');
  }

  /**
   * A serving instance takes a new config (`after`; the same one for a reload): an app-server master reloads in
   * place; a command vassal whose instances may overlap starts its successor beside it (not while a reload is under
   * way already); anything else stops and starts again.
   */
  #renew(state: VassalState, before: VassalSpec | undefined, after: VassalSpec | undefined, event: VassalEventName): void {
    if (before?.kind === 'app-server' && after?.kind === 'app-server') return this.reloadInPlace(event);
    if (after !== undefined && this.overlaps(before, after) && state.id !== 'reloading') return this.replace(event);
    return this.stop('restart', event);
  }

  /** The file is gone (or the emperor shuts down): stop for good. Resolves once stopped. */
  remove(reason: 'removed' | 'shutdown'): Promise<void> {
    this.goDown(reason === 'removed' ? 'REMOVED' : 'SHUTDOWN', reason, {id: 'stopped'});
    return this.whenStopped();
  }

  /** Operator stop: down until `start()` or a file change. */
  hold(): Promise<void> {
    const s = this.state;
    if (s.id !== 'stopping' && s.id !== 'invalid' && s.id !== 'stopped') this.goDown('STOP', 'held', {id: 'held'});
    return this.whenStopped();
  }

  /** Operator start of a held (or backing-off) vassal. */
  start(): void {
    const s = this.state;
    if (s.id === 'held' && this.wanted) {
      this.history.failures = 0;
      this.queueOrSleep('START');
    } else if (s.id === 'backoff') {
      s.cancelRetry();
      this.queueOrSleep('START');
    }
  }

  /** A connection is pending on the sockets of a sleeping on-demand vassal: start it. */
  wake(): void {
    if (this.state.id === 'on-demand') this.queue('WAKE');
  }

  // ── what its instances report ───────────────────────────────────────────────────────────────

  protected override onDeadline(child: Child, ms: number): void {
    const s = this.state;
    if (s.id === 'starting' && s.child === child) {
      this.history.lastError = `not ready within ${ms / 1000} s`;
      this.stop('deadline', 'DEADLINE');
    } else if (s.id === 'replacing' && s.next === child) {
      this.history.lastError = `new instance not ready within ${ms / 1000} s`;
      this.retire(child);
    }
  }

  protected override onReady(child: Child): void {
    const s = this.state;
    if (s.id === 'replacing' && s.next === child) {
      s.cancelProbe();
      this.retire(s.child);
      this.history.lastError = undefined;
      this.changeState({id: 'ready', child, readyAt: this.deps.now()}, 'READY');
      logOf(this.deps, this).info('vassal reloaded', {uwsgi: `[emperor] vassal ${this.name} is ready to accept requests (new instance)`});
      return;
    }
    if (s.id !== 'starting' || s.child !== child) return;
    s.cancelProbe();
    this.releaseSlot();
    this.history.lastError = undefined;
    this.changeState({id: 'ready', child, readyAt: this.deps.now()}, 'READY');
    logOf(this.deps, this).info('vassal ready', {uwsgi: `[emperor] vassal ${this.name} is ready to accept requests`});
    if (this.reloadWhenReady) {
      this.reloadWhenReady = false;
      this.reloadInPlace('CONFIG_CHANGED');
    }
  }

  protected override onPipe(child: Child, report: PipeReport): void {
    const s = this.state;
    switch (report.kind) {
      case 'accepting':
        if (s.id === 'starting' && s.child === child) return this.onReady(child);
        if (s.id === 'reloading' && s.child === child) {
          this.history.lastError = undefined;
          this.changeState({id: 'ready', child, readyAt: s.readyAt}, 'RELOADED');
          logOf(this.deps, this).info('vassal reloaded', {uwsgi: `[emperor] vassal ${this.name} is ready to accept requests`});
        }
        return;
      case 'reload-failed':
        if (s.id !== 'reloading' || s.child !== child) return;
        this.history.lastError = report.error;
        this.changeState({id: 'reload-failed', child, readyAt: s.readyAt, error: report.error}, 'RELOAD_FAILED');
        logOf(this.deps, this).error('vassal reload failed; the previous workers keep serving', {error: report.error});
        return;
      case 'stats': {
        const waiters = this.statsWaiters;
        this.statsWaiters = [];
        waiters.forEach((w) => w());
        return;
      }
      case 'config-request':
        // The master was asked to reload (SIGHUP, touch-reload, FIFO): hand it the current config.
        if (this.wanted?.kind !== 'app-server') return;
        this.sendReload(child, this.wanted);
        if (s.id === 'ready' || s.id === 'reload-failed') this.changeState({id: 'reloading', child, requestedAt: this.deps.now(), readyAt: s.readyAt}, 'RELOAD');
        return;
      case 'voluntary-stop':
        // uWSGI's idle + die-on-idle: an on-demand vassal goes back to sleep; any other one is stopped.
        if (this.wanted?.onDemand && (s.id === 'ready' || s.id === 'reload-failed') && s.child === child) return this.stop('idle', 'STOP');
        void this.remove('removed');
        return;
      default:
        throw unknownState(report);
    }
  }

  protected override onExit(child: Child, exit: ExitStatus): void {
    // Whatever the leader leaves behind in its group goes with it: no orphans.
    child.killGroup('SIGKILL');
    this.deps.groups.remove(child.pid);
    const now = this.deps.now();
    const history = this.history;
    const how = exit.signal ? `signal ${exit.signal}` : `exit code ${exit.code}`;
    if (this.wasRetired(child)) return;
    history.lastExit = {...exit, at: now};
    const s = this.state;
    if (s.id === 'replacing' && s.next === child) {
      // The new instance died before it was ready: keep the old one serving (rollback).
      s.cancelProbe();
      const error = `new instance exited before ready (${how}); the previous instance keeps serving`;
      history.lastError = error;
      logOf(this.deps, this).error('vassal reload failed', {uwsgi: `[emperor] reload of ${this.name} failed: ${error}`});
      return this.changeState({id: 'reload-failed', child: s.child, readyAt: s.readyAt, error}, 'RELOAD_FAILED');
    }
    if (!hasChild(s) || s.child !== child) return;
    const forced = s.id === 'stopping' ? undefined : this.deps.exitReason?.(this, child, exit);
    if (forced !== undefined && (s.id === 'starting' || s.id === 'ready' || s.id === 'reloading' || s.id === 'reload-failed')) {
      // Not a crash of the app but a limit the emperor enforces: back off even if it had been ready.
      if (s.id === 'starting') {
        s.cancelProbe();
        this.releaseSlot();
      }
      history.failures += 1;
      history.restarts += 1;
      history.lastError = forced;
      logOf(this.deps, this).warn('vassal killed', {uwsgi: `[emperor] vassal ${this.name} (pid: ${child.pid}) ${forced}`, reason: forced});
      return this.backoff(history.failures);
    }
    switch (s.id) {
      case 'stopping':
        switch (s.reason) {
          case 'removed':
          case 'shutdown':
            this.changeState({id: 'stopped'}, 'EXIT');
            logOf(this.deps, this).info('vassal removed', {uwsgi: `[emperor] removed uwsgi instance ${this.name}`});
            return;
          case 'held':
            return this.changeState({id: 'held'}, 'EXIT');
          case 'restart':
          case 'idle':
            return this.queueOrSleep('EXIT');
          case 'deadline':
            history.failures += 1;
            return this.backoff(history.failures);
          case 'invalid':
            return this.changeState({id: 'invalid', error: history.lastError ?? 'refused'}, 'EXIT');
          default:
            throw unknownState(s.reason);
        }
      case 'starting': {
        s.cancelProbe();
        this.releaseSlot();
        history.failures += 1;
        history.restarts += 1;
        history.lastError ??= `exited before ready (${how})`;
        logOf(this.deps, this).warn('vassal died before it was ready', {uwsgi: `[emperor] vassal ${this.name} (pid: ${child.pid}) died before it was ready (${how})`});
        if (exit.code === EXIT.EXILED) return this.changeState({id: 'stopped'}, 'EXIT');
        return this.backoff(history.failures);
      }
      case 'replacing':
        // The old instance died mid-reload: the new one carries on as a plain start.
        history.restarts += 1;
        return this.changeState({id: 'starting', child: s.next, spawnedAt: history.lastSpawn, cancelProbe: s.cancelProbe}, 'EXIT');
      case 'ready':
      case 'reloading':
      case 'reload-failed': {
        history.restarts += 1;
        history.lastError = `died (${how})`;
        logOf(this.deps, this).warn('vassal died', {uwsgi: `[emperor] curse the uwsgi instance ${this.name} (pid: ${child.pid}): ${how}`});
        if (exit.code === EXIT.EXILED) return this.changeState({id: 'stopped'}, 'EXIT');
        // Ready, then died: respawn at once, like uWSGI does for loyal vassals. The backoff count (failures before
        // ready) is kept unless the vassal had been healthy for a minute.
        if (now - s.readyAt >= HEALTHY_RESET_MS) history.failures = 0;
        return this.queueOrSleep('EXIT');
      }
      default:
        throw unknownState(s);
    }
  }

}
