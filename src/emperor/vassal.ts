/**
 * Owns one vassal: its process, its state (vassal-states.ts has the diagram), and the choice to respawn, reload,
 * back off or give up. `#changeState` is the only writer of the state and logs every transition.
 *
 * Crash policy: a vassal that dies before it is ready is retried with exponential backoff (1 s doubling to 60 s);
 * one that dies after being ready is respawned at once. 60 s of health resets the backoff count. Exit code 26
 * (uWSGI's exile) is never respawned.
 */
import type {Logger} from '../log/logger.js';
import type {VassalSpec} from '../config/vassal-spec.js';
import {EXIT} from '../exit-codes.js';
import {FROM_VASSAL, TO_VASSAL, encodeConfigPacket, type VassalMessage} from '../protocol/emperor-pipe.js';
import {unexpectedState, unknownState} from '../util/unreachable.js';
import type {Child, ExitStatus} from './child.js';
import {startReadyProbe} from './ready-probe.js';
import type {LastExit, StopReason, VassalEventName, VassalState, VassalStateId} from './vassal-states.js';

const BACKOFF_FIRST_MS = 1_000;
const BACKOFF_MAX_MS = 60_000;
const HEALTHY_RESET_MS = 60_000;

/**
 * Everything a vassal does to the world, injectable for tests. One object serves every vassal (methods that need
 * to know which one take it as an argument): a thousand vassals share it instead of a thousand sets of closures.
 */
export interface VassalDeps {
  /**
   * Starts an instance of `vassal` running `spec`. A child forked by the runtime host learns its pid a moment later:
   * it then has `pidReady` (its pid is known before any of its output, pipe messages or exit arrive).
   */
  launch(vassal: Vassal, spec: VassalSpec): Child & {readonly pidReady?: Promise<number>};
  now(): number;
  setTimer(ms: number, fn: () => void): () => void;
  log: Logger;
  /** Process-group bookkeeping for the no-orphan guarantee. */
  groups: {add(pgid: number): void; remove(pgid: number): void};
  /** The full KAISER_CONFIG of an app-server vassal (its options plus the emperor's internals), for reloads. */
  serverConfigFor(spec: VassalSpec & {kind: 'app-server'}): Record<string, unknown>;
  /** Asks the emperor for a spawn slot; `grant` is called when one is free. Returns a cancel function. */
  requestSlot(grant: () => void): () => void;
  releaseSlot(): void;
  /** Notified on every transition. */
  onTransition(vassal: Vassal, from: VassalStateId, event: VassalEventName): void;
  /** Receives every output line of the vassal. */
  onOutput(vassal: Vassal, line: string, stream: 'stdout' | 'stderr'): void;
  /**
   * Why a child really ended, when the emperor knows better than the exit status (killed over its memory-limit).
   * A reason makes the exit a failure (backoff) even after READY, and becomes the vassal's last error.
   */
  exitReason?(vassal: Vassal, child: Child, exit: ExitStatus): string | undefined;
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
  accepting: boolean;
  lastHeartbeat: number;
  nextRetryAt: number;
  lastExit: LastExit | undefined;
  lastError: string | undefined;
  /** Config warnings of the current spec (KAISER_CONFIG_UNKNOWN_KEY, KAISER_CONFIG_NOT_APPLIED), when there are any. */
  warnings?: string[];
  file: string;
  /** Request figures of an app-server vassal, as of its last answer to a stats request. */
  appStats: AppServerStats | undefined;
}

/** What an app-server master reports when asked (byte 3). */
export interface AppServerStats {
  requests: number;
  inflight: number;
  workers: number;
  busy: number;
  harakiri: number;
}

/** One vassal. */
export class Vassal {
  readonly name: string;
  #state: VassalState = {id: 'waiting'};
  #spec: VassalSpec | undefined;
  readonly #deps: VassalDeps;
  #cancelSlot: (() => void) | undefined;
  #holdsSlot = false;
  #failures = 0;
  #restarts = 0;
  #born = 0;
  #lastSpawn = 0;
  #loyal = false;
  #lastLoyal = 0;
  #lastHeartbeat = 0;
  #lastExit: LastExit | undefined;
  #lastError: string | undefined;
  #appStats: AppServerStats | undefined;
  #statsWaiters: (() => void)[] = [];
  #stopWaiters: (() => void)[] = [];
  /** The config changed while an app-server master was starting: reload it once it is ready. */
  #reloadWhenReady = false;
  /** Old instances being stopped in the background after an overlap reload (made on first use). */
  #retiring: Set<Child> | undefined;

  constructor(name: string, deps: VassalDeps) {
    this.name = name;
    this.#deps = deps;
  }

  /** A logger naming this vassal, made when something is logged (a child logger per vassal would cost memory). */
  get #log(): Logger {
    return this.#deps.log.child({vassal: this.name});
  }

  get state(): VassalState {
    return this.#state;
  }

  get spec(): VassalSpec | undefined {
    return this.#spec;
  }

  /** A fresh plain snapshot. */
  snapshot(): VassalSnapshot {
    const s = this.#state;
    const child = 'child' in s ? s.child : undefined;
    return {
      name: this.name,
      kind: this.#spec?.kind ?? 'unknown',
      state: s.id,
      pid: child?.pid ?? -1,
      born: this.#born,
      lastSpawn: this.#lastSpawn,
      readyAt: 'readyAt' in s ? s.readyAt : 0,
      restarts: this.#restarts,
      failures: this.#failures,
      loyal: this.#loyal,
      lastLoyal: this.#lastLoyal,
      accepting: s.id === 'ready' || s.id === 'reload-failed',
      lastHeartbeat: this.#lastHeartbeat,
      nextRetryAt: s.id === 'backoff' ? s.retryAt : 0,
      lastExit: this.#lastExit,
      lastError: s.id === 'invalid' ? s.error : this.#lastError,
      file: this.#spec?.file ?? '',
      ...(this.#spec?.warnings === undefined ? {} : {warnings: this.#spec.warnings}),
      appStats: this.#appStats,
    };
  }

  /** Asks an app-server master for its request figures; resolves when it answered (or at once if it cannot). */
  requestStats(): Promise<void> {
    const s = this.#state;
    if (this.#spec?.kind !== 'app-server' || !('child' in s) || !s.child.send(Buffer.from([TO_VASSAL.STATS]))) return Promise.resolve();
    return new Promise((resolve) => this.#statsWaiters.push(resolve));
  }

  /**
   * The file appeared (or became valid): start it. `restart` forces a stop and a fresh start of a running instance
   * (what a reload in place cannot change: the user it runs as, its cgroup).
   */
  onConfigChanged(spec: VassalSpec, options: {restart?: boolean} = {}): void {
    const previous = this.#spec;
    this.#spec = spec;
    const s = this.#state;
    if (options.restart && (s.id === 'ready' || s.id === 'reload-failed' || s.id === 'reloading' || s.id === 'replacing')) {
      return this.#stop('restart', 'CONFIG_CHANGED');
    }
    switch (s.id) {
      case 'waiting':
        if (this.#cancelSlot === undefined && !this.#holdsSlot) return this.#queueOrSleep('START');
        return;
      case 'backoff':
        s.cancelRetry();
        this.#failures = 0;
        return this.#queueOrSleep('CONFIG_CHANGED');
      case 'invalid':
      case 'held':
      case 'stopped':
        this.#failures = 0;
        return this.#queueOrSleep('CONFIG_CHANGED');
      case 'on-demand':
        // Like uWSGI: a config change of a sleeping vassal only updates what the next wake-up starts.
        if (!spec.onDemand) return this.#queue('CONFIG_CHANGED');
        return;
      case 'starting':
        // An app-server master that is still starting owns its sockets already: stopping it would refuse
        // connections. Reload it in place as soon as it is ready instead.
        if (previous?.kind === 'app-server' && spec.kind === 'app-server') {
          this.#reloadWhenReady = true;
          return;
        }
        return this.#stop('restart', 'CONFIG_CHANGED');
      case 'ready':
      case 'reload-failed':
      case 'reloading':
        if (previous?.kind === 'app-server' && spec.kind === 'app-server') return this.#reloadInPlace('CONFIG_CHANGED');
        if (this.#overlaps(previous, spec) && s.id !== 'reloading') return this.#replace('CONFIG_CHANGED');
        return this.#stop('restart', 'CONFIG_CHANGED');
      case 'replacing':
        if (this.#overlaps(previous, spec)) return this.#replace('CONFIG_CHANGED');
        return this.#stop('restart', 'CONFIG_CHANGED');
      case 'stopping':
        if (s.reason === 'removed' || s.reason === 'held') {
          this.#changeState({...s, reason: 'restart'}, 'CONFIG_CHANGED');
        }
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
    const s = this.#state;
    this.#lastError = error;
    if (options.stop) {
      if (s.id === 'starting' || s.id === 'ready' || s.id === 'reloading' || s.id === 'reload-failed' || s.id === 'replacing') {
        return this.#stop('invalid', 'CONFIG_INVALID');
      }
      if (s.id === 'stopping') return this.#changeState({...s, reason: 'invalid'}, 'CONFIG_INVALID');
    }
    switch (s.id) {
      case 'waiting':
        this.#cancelSlot?.();
        this.#cancelSlot = undefined;
        return this.#changeState({id: 'invalid', error}, 'CONFIG_INVALID');
      case 'backoff':
        s.cancelRetry();
        return this.#changeState({id: 'invalid', error}, 'CONFIG_INVALID');
      case 'on-demand':
        return this.#changeState({id: 'invalid', error}, 'CONFIG_INVALID');
      case 'invalid':
      case 'held':
      case 'stopped':
        if (s.id !== 'stopped') return this.#changeState({id: 'invalid', error}, 'CONFIG_INVALID');
        return this.#changeState({id: 'invalid', error}, 'CONFIG_INVALID');
      case 'starting':
      case 'ready':
      case 'reloading':
      case 'reload-failed':
      case 'replacing':
      case 'stopping':
        this.#log.warn('vassal file is invalid; keeping the running instance on its last good config', {error});
        return;
      default:
        throw unknownState(s);
    }
  }

  /** SIGHUP to the emperor or `kaiser reload NAME`: reload with the current config. */
  reload(): void {
    const s = this.#state;
    switch (s.id) {
      case 'ready':
      case 'reload-failed':
      case 'reloading':
        if (this.#spec?.kind === 'app-server') return this.#reloadInPlace('RELOAD');
        if (this.#spec && this.#overlaps(this.#spec, this.#spec) && s.id !== 'reloading') return this.#replace('RELOAD');
        return this.#stop('restart', 'RELOAD');
      case 'replacing':
        return this.#replace('RELOAD');
      case 'starting':
        return this.#stop('restart', 'RELOAD');
      case 'backoff':
        s.cancelRetry();
        return this.#queue('RELOAD');
      case 'held':
      case 'on-demand':
        return;
      case 'waiting':
      case 'stopping':
      case 'invalid':
      case 'stopped':
        return;
      default:
        throw unknownState(s);
    }
  }

  /** The file is gone (or the emperor shuts down): stop for good. Resolves once stopped. */
  remove(reason: 'removed' | 'shutdown'): Promise<void> {
    const event: VassalEventName = reason === 'removed' ? 'REMOVED' : 'SHUTDOWN';
    const s = this.#state;
    switch (s.id) {
      case 'waiting':
        this.#cancelSlot?.();
        this.#cancelSlot = undefined;
        this.#changeState({id: 'stopped'}, event);
        break;
      case 'backoff':
        s.cancelRetry();
        this.#changeState({id: 'stopped'}, event);
        break;
      case 'invalid':
      case 'held':
      case 'on-demand':
        this.#changeState({id: 'stopped'}, event);
        break;
      case 'stopped':
        break;
      case 'starting':
      case 'ready':
      case 'reloading':
      case 'reload-failed':
      case 'replacing':
        this.#stop(reason, event);
        break;
      case 'stopping':
        if (s.reason !== reason) this.#changeState({...s, reason}, event);
        break;
      default:
        throw unknownState(s);
    }
    return this.#whenStopped();
  }

  /** Operator stop: down until `start()` or a file change. */
  hold(): Promise<void> {
    const s = this.#state;
    switch (s.id) {
      case 'waiting':
        this.#cancelSlot?.();
        this.#cancelSlot = undefined;
        this.#changeState({id: 'held'}, 'STOP');
        break;
      case 'backoff':
        s.cancelRetry();
        this.#changeState({id: 'held'}, 'STOP');
        break;
      case 'on-demand':
        this.#changeState({id: 'held'}, 'STOP');
        break;
      case 'starting':
      case 'ready':
      case 'reloading':
      case 'reload-failed':
      case 'replacing':
        this.#stop('held', 'STOP');
        break;
      case 'stopping':
      case 'invalid':
      case 'held':
      case 'stopped':
        break;
      default:
        throw unknownState(s);
    }
    return this.#whenStopped();
  }

  /** Operator start of a held (or backing-off) vassal. */
  start(): void {
    const s = this.#state;
    if (s.id === 'held' && this.#spec) {
      this.#failures = 0;
      this.#queueOrSleep('START');
    } else if (s.id === 'backoff') {
      s.cancelRetry();
      this.#queueOrSleep('START');
    }
  }

  /** A connection is pending on the sockets of a sleeping on-demand vassal: start it. */
  wake(): void {
    if (this.#state.id === 'on-demand') this.#queue('WAKE');
  }

  // ── transitions ─────────────────────────────────────────────────────────────────────────────

  #changeState(next: VassalState, event: VassalEventName): void {
    const from = this.#state.id;
    this.#state = next;
    this.#log.debug('vassal state', {from, to: next.id, event});
    if (next.id === 'stopped' || next.id === 'held' || next.id === 'invalid') {
      const waiters = this.#stopWaiters;
      this.#stopWaiters = [];
      waiters.forEach((w) => w());
    }
    this.#deps.onTransition(this, from, event);
  }

  #whenStopped(): Promise<void> {
    const id = this.#state.id;
    if (id === 'stopped' || id === 'held' || id === 'invalid') return Promise.resolve();
    return new Promise((resolve) => this.#stopWaiters.push(resolve));
  }

  #queue(event: VassalEventName): void {
    this.#changeState({id: 'waiting'}, event);
    this.#cancelSlot = this.#deps.requestSlot(() => {
      this.#cancelSlot = undefined;
      this.#holdsSlot = true;
      this.#spawn();
    });
  }

  /** Starts the vassal, or for an on-demand vassal arms its sockets and waits for the first connection. */
  #queueOrSleep(event: VassalEventName): void {
    if (this.#spec?.onDemand) return this.#changeState({id: 'on-demand'}, event);
    return this.#queue(event);
  }

  #releaseSlot(): void {
    if (!this.#holdsSlot) return;
    this.#holdsSlot = false;
    this.#deps.releaseSlot();
  }

  #spawn(): void {
    const spec = this.#requireSpec();
    this.#reloadWhenReady = false; // a new process starts with the newest config anyway
    const {child, cancelProbe} = this.#launch(spec);
    this.#changeState({id: 'starting', child, spawnedAt: this.#lastSpawn, cancelProbe}, 'SLOT');
  }

  /** Starts a process for `spec` with its probes, deadline and listeners; the caller records the new state. */
  #launch(spec: VassalSpec): {child: Child; cancelProbe: () => void} {
    const child = this.#deps.launch(this, spec);
    const now = this.#deps.now();
    this.#lastSpawn = now;
    if (this.#born === 0) this.#born = now;
    this.#listen(child, spec.kind === 'command');
    const cancelProbe = spec.kind === 'command' ? startReadyProbe(spec.ready, () => this.#onReady(child)) : () => undefined;
    const cancelDeadline = this.#startDeadline(child, spec.startTimeoutMs);
    return {
      child,
      cancelProbe: () => {
        cancelProbe();
        cancelDeadline();
      },
    };
  }

  /**
   * Follows a child's pid, output, messages and exit. Kept apart from `#launch`: these listeners live as long as the
   * child, and closures made in one function share its scope, which would keep the start deadline's timer alive.
   */
  #listen(child: ReturnType<VassalDeps['launch']>, readyByNotify: boolean): void {
    const announce = () => {
      this.#deps.groups.add(child.pid);
      this.#log.info('vassal spawned', {uwsgi: `[emperor] vassal ${this.name} has been spawned (pid: ${child.pid})`, pid: child.pid});
    };
    if (child.pidReady === undefined || child.pid > 0) announce();
    else void child.pidReady.then((pid) => pid > 0 && announce());
    child.onLine((line, stream) => {
      if (readyByNotify && line.trim() === 'READY=1') this.#onReady(child);
      this.#deps.onOutput(this, line, stream);
    });
    child.onMessage((message) => this.#onMessage(child, message));
    void child.exited.then((exit) => this.#onExit(child, exit));
  }

  /** Stops (or, for a replacement, retires) a child that is not ready within `ms`. Returns the cancel function. */
  #startDeadline(child: Child, ms: number): () => void {
    return this.#deps.setTimer(ms, () => {
      const s = this.#state;
      if (s.id === 'starting' && s.child === child) {
        this.#lastError = `not ready within ${ms / 1000} s`;
        this.#stop('deadline', 'DEADLINE');
      } else if (s.id === 'replacing' && s.next === child) {
        this.#lastError = `new instance not ready within ${ms / 1000} s`;
        this.#retire(child);
      }
    });
  }

  #requireSpec(): VassalSpec {
    if (!this.#spec) throw new Error(`Internal error: spawning ${this.name} without a spec`);
    return this.#spec;
  }

  /** True when a reload from `before` to `after` may run both instances at once (sockets or SO_REUSEPORT). */
  #overlaps(before: VassalSpec | undefined, after: VassalSpec): boolean {
    return before?.kind === 'command' && after.kind === 'command' && after.reloadOverlap;
  }

  /** Overlap reload: start the new instance next to the serving one; the old retires once the new is ready. */
  #replace(event: VassalEventName): void {
    const s = this.#state;
    if (s.id !== 'ready' && s.id !== 'reload-failed' && s.id !== 'replacing') throw unexpectedState(s, event);
    if (s.id === 'replacing') {
      s.cancelProbe();
      this.#retire(s.next);
    }
    this.#log.info('vassal reload', {uwsgi: `[emperor] reload the uwsgi instance ${this.name} (new instance first)`});
    const {child, cancelProbe} = this.#launch(this.#requireSpec());
    this.#changeState({id: 'replacing', child: s.child, readyAt: s.readyAt, next: child, cancelProbe}, event);
  }

  /** Stops an instance that no longer carries the vassal: stop-signal, then SIGKILL after stop-timeout. */
  #retire(child: Child): void {
    this.#retiring ??= new Set();
    if (this.#retiring.has(child)) return;
    this.#retiring.add(child);
    const spec = this.#spec;
    child.killGroup(spec?.kind === 'command' ? spec.stopSignal : 'SIGTERM');
    const cancelKill = this.#deps.setTimer(spec?.stopTimeoutMs ?? 10_000, () => child.killGroup('SIGKILL'));
    void child.exited.then(() => cancelKill());
  }

  #onReady(child: Child): void {
    const s = this.#state;
    if (s.id === 'replacing' && s.next === child) {
      s.cancelProbe();
      this.#retire(s.child);
      this.#lastError = undefined;
      this.#changeState({id: 'ready', child, readyAt: this.#deps.now()}, 'READY');
      this.#log.info('vassal reloaded', {uwsgi: `[emperor] vassal ${this.name} is ready to accept requests (new instance)`});
      return;
    }
    if (s.id !== 'starting' || s.child !== child) return;
    s.cancelProbe();
    this.#releaseSlot();
    this.#lastError = undefined;
    this.#changeState({id: 'ready', child, readyAt: this.#deps.now()}, 'READY');
    this.#log.info('vassal ready', {uwsgi: `[emperor] vassal ${this.name} is ready to accept requests`});
    if (this.#reloadWhenReady) {
      this.#reloadWhenReady = false;
      this.#reloadInPlace('CONFIG_CHANGED');
    }
  }

  #onMessage(child: Child, message: VassalMessage): void {
    if (message.kind === 'event') {
      const s = this.#state;
      const event = message.event;
      if (event.event === 'reload-failed' && s.id === 'reloading' && s.child === child) {
        const error = typeof event['error'] === 'string' ? event['error'] : 'reload failed';
        this.#lastError = error;
        this.#changeState({id: 'reload-failed', child, readyAt: s.readyAt, error}, 'RELOAD_FAILED');
        this.#log.error('vassal reload failed; the previous workers keep serving', {error});
      } else if (event.event === 'stats') {
        const n = (key: string) => (typeof event[key] === 'number' ? (event[key] as number) : 0);
        this.#appStats = {requests: n('requests'), inflight: n('inflight'), workers: n('workers'), busy: n('busy'), harakiri: n('harakiri')};
        const waiters = this.#statsWaiters;
        this.#statsWaiters = [];
        waiters.forEach((w) => w());
      } else if (event.event === 'app-load-failed') {
        const error = typeof event['error'] === 'string' ? event['error'] : 'app failed to load';
        this.#lastError = error;
      }
      return;
    }
    switch (message.byte) {
      case FROM_VASSAL.ACCEPTING: {
        const s = this.#state;
        if (s.id === 'starting' && s.child === child) this.#onReady(child);
        else if (s.id === 'reloading' && s.child === child) {
          this.#lastError = undefined;
          this.#changeState({id: 'ready', child, readyAt: s.readyAt}, 'RELOADED');
          this.#log.info('vassal reloaded', {uwsgi: `[emperor] vassal ${this.name} is ready to accept requests`});
        }
        return;
      }
      case FROM_VASSAL.LOYAL:
        if (!this.#loyal) this.#log.info('vassal loyal', {uwsgi: `[emperor] vassal ${this.name} is now loyal`});
        this.#loyal = true;
        this.#lastLoyal = this.#deps.now();
        return;
      case FROM_VASSAL.HEARTBEAT:
        this.#lastHeartbeat = this.#deps.now();
        return;
      case FROM_VASSAL.CONFIG_REQUEST:
        // The master was asked to reload (SIGHUP, touch-reload, FIFO): hand it the current config.
        if (this.#spec?.kind === 'app-server') {
          child.send(encodeConfigPacket(this.#deps.serverConfigFor(this.#spec)));
          child.send(Buffer.from([TO_VASSAL.RELOAD]));
          const s = this.#state;
          if (s.id === 'ready' || s.id === 'reload-failed') {
            this.#changeState({id: 'reloading', child, requestedAt: this.#deps.now(), readyAt: s.readyAt}, 'RELOAD');
          }
        }
        return;
      case FROM_VASSAL.VOLUNTARY_STOP: {
        // uWSGI's idle + die-on-idle: an on-demand vassal goes back to sleep; any other one is stopped.
        const s = this.#state;
        if (this.#spec?.onDemand && (s.id === 'ready' || s.id === 'reload-failed') && s.child === child) return this.#stop('idle', 'STOP');
        void this.remove('removed');
        return;
      }
      default:
        // SPAWNED (1) and unknown bytes: nothing to do (the peer may be a newer uWSGI).
        return;
    }
  }

  #reloadInPlace(event: VassalEventName): void {
    const s = this.#state;
    if (s.id !== 'ready' && s.id !== 'reload-failed' && s.id !== 'reloading') throw unexpectedState(s, event);
    const spec = this.#spec;
    if (spec?.kind !== 'app-server') throw unexpectedState(s, event);
    s.child.send(encodeConfigPacket(this.#deps.serverConfigFor(spec)));
    s.child.send(Buffer.from([TO_VASSAL.RELOAD]));
    this.#log.info('vassal reload', {uwsgi: `[emperor] reload the uwsgi instance ${this.name}`});
    this.#changeState({id: 'reloading', child: s.child, requestedAt: this.#deps.now(), readyAt: s.readyAt}, event);
  }

  #stop(reason: StopReason, event: VassalEventName): void {
    const s = this.#state;
    if (s.id !== 'starting' && s.id !== 'ready' && s.id !== 'reloading' && s.id !== 'reload-failed' && s.id !== 'replacing') {
      throw unexpectedState(s, event);
    }
    if (s.id === 'replacing') {
      s.cancelProbe();
      this.#retire(s.next);
    }
    if (s.id === 'starting') {
      s.cancelProbe();
      this.#releaseSlot();
    }
    const child = s.child;
    const spec = this.#spec;
    const graceMs = spec?.stopTimeoutMs ?? 10_000;
    if (spec?.kind === 'app-server') {
      if (!child.send(Buffer.from([TO_VASSAL.GRACEFUL_STOP]))) child.killGroup('SIGTERM');
    } else {
      child.killGroup(spec?.kind === 'command' ? spec.stopSignal : 'SIGTERM');
    }
    if (reason === 'idle') {
      this.#log.info('vassal idle', {uwsgi: `[emperor] vassal ${this.name} is idle: back to on-demand mode`});
    } else if (reason !== 'restart') {
      this.#log.info('vassal stop', {uwsgi: `[emperor] stop the uwsgi instance ${this.name}`});
    }
    const cancelKill = this.#deps.setTimer(graceMs, () => {
      this.#log.warn('vassal did not stop in time; killing its process group', {
        uwsgi: `[emperor] NO MERCY for vassal ${this.name} !!!`,
        graceMs,
      });
      child.killGroup('SIGKILL');
    });
    this.#changeState({id: 'stopping', child, reason, cancelKill}, event);
  }

  #onExit(child: Child, exit: ExitStatus): void {
    // Whatever the leader leaves behind in its group goes with it: no orphans.
    child.killGroup('SIGKILL');
    this.#deps.groups.remove(child.pid);
    const now = this.#deps.now();
    const how = exit.signal ? `signal ${exit.signal}` : `exit code ${exit.code}`;
    if (this.#retiring?.delete(child)) return;
    this.#lastExit = {...exit, at: now};
    const s = this.#state;
    if (s.id === 'replacing' && s.next === child) {
      // The new instance died before it was ready: keep the old one serving (rollback).
      s.cancelProbe();
      const error = `new instance exited before ready (${how}); the previous instance keeps serving`;
      this.#lastError = error;
      this.#log.error('vassal reload failed', {uwsgi: `[emperor] reload of ${this.name} failed: ${error}`});
      return this.#changeState({id: 'reload-failed', child: s.child, readyAt: s.readyAt, error}, 'RELOAD_FAILED');
    }
    if (!('child' in s) || s.child !== child) return;
    const forced = s.id === 'stopping' ? undefined : this.#deps.exitReason?.(this, child, exit);
    if (forced !== undefined && (s.id === 'starting' || s.id === 'ready' || s.id === 'reloading' || s.id === 'reload-failed')) {
      // Not a crash of the app but a limit the emperor enforces: back off even if it had been ready.
      if (s.id === 'starting') {
        s.cancelProbe();
        this.#releaseSlot();
      }
      this.#failures += 1;
      this.#restarts += 1;
      this.#lastError = forced;
      this.#log.warn('vassal killed', {uwsgi: `[emperor] vassal ${this.name} (pid: ${child.pid}) ${forced}`, reason: forced});
      return this.#backoff(this.#failures);
    }
    switch (s.id) {
      case 'stopping': {
        s.cancelKill();
        switch (s.reason) {
          case 'removed':
          case 'shutdown':
            this.#changeState({id: 'stopped'}, 'EXIT');
            this.#log.info('vassal removed', {uwsgi: `[emperor] removed uwsgi instance ${this.name}`});
            return;
          case 'held':
            this.#changeState({id: 'held'}, 'EXIT');
            return;
          case 'restart':
          case 'idle':
            return this.#queueOrSleep('EXIT');
          case 'deadline':
            this.#failures += 1;
            return this.#backoff(this.#failures);
          case 'invalid':
            return this.#changeState({id: 'invalid', error: this.#lastError ?? 'refused'}, 'EXIT');
          default:
            throw unknownState(s.reason);
        }
      }
      case 'starting': {
        s.cancelProbe();
        this.#releaseSlot();
        this.#failures += 1;
        this.#restarts += 1;
        if (this.#lastError === undefined) this.#lastError = `exited before ready (${how})`;
        this.#log.warn('vassal died before it was ready', {
          uwsgi: `[emperor] vassal ${this.name} (pid: ${child.pid}) died before it was ready (${how})`,
        });
        if (exit.code === EXIT.EXILED) return this.#changeState({id: 'stopped'}, 'EXIT');
        return this.#backoff(this.#failures);
      }
      case 'replacing':
        // The old instance died mid-reload: the new one carries on as a plain start.
        this.#restarts += 1;
        return this.#changeState({id: 'starting', child: s.next, spawnedAt: this.#lastSpawn, cancelProbe: s.cancelProbe}, 'EXIT');
      case 'ready':
      case 'reloading':
      case 'reload-failed': {
        this.#restarts += 1;
        this.#lastError = `died (${how})`;
        this.#log.warn('vassal died', {uwsgi: `[emperor] curse the uwsgi instance ${this.name} (pid: ${child.pid}): ${how}`});
        if (exit.code === EXIT.EXILED) return this.#changeState({id: 'stopped'}, 'EXIT');
        // Ready, then died: respawn at once, like uWSGI does for loyal vassals. The backoff count (failures before
        // ready) is kept unless the vassal had been healthy for a minute.
        if (now - s.readyAt >= HEALTHY_RESET_MS) this.#failures = 0;
        return this.#queueOrSleep('EXIT');
      }
      default:
        // States without a child were excluded above.
        throw unknownState(s);
    }
  }

  #backoff(failures: number): void {
    const delayMs = Math.min(BACKOFF_MAX_MS, BACKOFF_FIRST_MS * 2 ** Math.max(0, failures - 1));
    const retryAt = this.#deps.now() + delayMs;
    const cancelRetry = this.#deps.setTimer(delayMs, () => {
      if (this.#state.id === 'backoff') this.#queueOrSleep('RETRY');
    });
    this.#changeState({id: 'backoff', retryAt, cancelRetry}, 'EXIT');
    this.#log.warn('vassal backing off', {
      uwsgi: `[emperor] vassal ${this.name} failed ${failures} time(s); respawning in ${delayMs / 1000} s`,
      failures,
      delayMs,
    });
  }
}
