/**
 * One instance (process) of a vassal: launching it with its readiness probe and start deadline, following its output,
 * emperor-pipe messages and exit, and ending it (ask → stop-timeout → SIGKILL of its group). The vassal (vassal.ts)
 * decides what each report means; this module only reports, and keeps the counters the pipe updates (loyal,
 * heartbeat, request figures) in the vassal's history.
 */
import type {ReadyProbe, VassalSpec} from '../config/vassal-spec.js';
import type {Logger} from '../log/logger.js';
import {FROM_VASSAL, TO_VASSAL, type VassalMessage} from '../protocol/emperor-pipe.js';
import {terminate} from '../util/terminate.js';
import type {Child, ExitStatus} from './child.js';
import {startReadyProbe} from './ready-probe.js';
import type {LaunchedChild, VassalDeps} from './vassal-deps.js';
import type {VassalHistory} from './vassal-snapshot.js';
import type {VassalCore} from './vassal-core.js';

/** The stop-timeout of a vassal whose spec is unknown. */
const DEFAULT_STOP_TIMEOUT_MS = 10_000;

/** What an instance's emperor pipe says that can change the vassal's state. */
export type PipeReport =
  | {kind: 'accepting'}
  | {kind: 'config-request'}
  | {kind: 'voluntary-stop'}
  | {kind: 'reload-failed'; error: string}
  | {kind: 'stats'};

/** Where an instance reports. */
export interface InstanceListener {
  onReady(child: Child): void;
  onPipe(child: Child, report: PipeReport): void;
  onExit(child: Child, exit: ExitStatus): void;
  /** The instance was not ready within the spec's start-timeout. */
  onDeadline(child: Child, ms: number): void;
  /** Watching the instance failed (an internal error, already reported): `text` is the vassal's last error. */
  onFault(child: Child, text: string): void;
}

/** A launched instance and how to stop watching for its readiness (probe and deadline). */
export interface StartedInstance {
  child: LaunchedChild;
  cancelProbe: () => void;
}

/** Launches an instance of `vassal` for `spec`, with its probe, deadline and listeners. */
export function launchInstance(vassal: VassalCore, spec: VassalSpec, deps: VassalDeps, history: VassalHistory, listener: InstanceListener): StartedInstance {
  const child = deps.launch(vassal, spec);
  const now = deps.now();
  history.lastSpawn = now;
  if (history.born === 0) history.born = now;
  follow(vassal, child, spec.kind === 'command', deps, history, listener);
  const cancelProbe = spec.kind === 'command' ? watchReadiness(vassal, child, spec.ready, deps, listener) : () => undefined;
  const cancelDeadline = deps.setTimer(spec.startTimeoutMs, () => listener.onDeadline(child, spec.startTimeoutMs));
  return {
    child,
    cancelProbe: () => {
      cancelProbe();
      cancelDeadline();
    },
  };
}

/**
 * Starts the readiness probe of a command instance. A probe that throws, at its start or in one of its attempts, is
 * a fault of this vassal: reported, then the instance is stopped (after the launch has set the state, hence the
 * microtask).
 */
function watchReadiness(vassal: VassalCore, child: Child, probe: ReadyProbe, deps: VassalDeps, listener: InstanceListener): () => void {
  const fault = (error: unknown) => {
    const text = deps.reportFault ? deps.reportFault(vassal, 'ready', error) : String(error);
    queueMicrotask(() => listener.onFault(child, text));
  };
  try {
    deps.checkpoint?.(vassal, 'ready');
    return startReadyProbe(probe, () => listener.onReady(child), fault);
  } catch (error) {
    fault(error);
    return () => undefined;
  }
}

/**
 * Follows a child's pid, output, messages and exit. Kept apart from `launchInstance`: these listeners live as long as
 * the child, and closures made in one function share its scope, which would keep the start deadline's timer alive.
 */
function follow(vassal: VassalCore, child: LaunchedChild, readyByNotify: boolean, deps: VassalDeps, history: VassalHistory, listener: InstanceListener): void {
  const announce = () => {
    deps.groups.add(child.pid);
    logOf(deps, vassal).info('vassal spawned', {uwsgi: `[emperor] vassal ${vassal.name} has been spawned (pid: ${child.pid})`, pid: child.pid});
  };
  if (child.pidReady === undefined || child.pid > 0) announce();
  else void child.pidReady.then((pid) => pid > 0 && vassal.contain('spawn', announce));
  // Each line inside the vassal's boundary: a throw drops that line (and is reported), nothing else.
  child.onLine((line, stream) =>
    vassal.contain('output', () => {
      if (readyByNotify && line.trim() === 'READY=1') listener.onReady(child);
      deps.onOutput(vassal, line, stream);
    }),
  );
  child.onMessage((message) =>
    vassal.contain(
      'pipe',
      () => {
        const report = readPipeMessage(vassal, message, deps, history);
        if (report) listener.onPipe(child, report);
      },
      (text) => listener.onFault(child, text),
    ),
  );
  void child.exited.then((exit) => listener.onExit(child, exit));
}

/** Notes what a pipe message tells about the instance; returns what the vassal must act on. */
function readPipeMessage(vassal: VassalCore, message: VassalMessage, deps: VassalDeps, history: VassalHistory): PipeReport | undefined {
  if (message.kind === 'event') {
    const event: Record<string, unknown> = message.event;
    const text = (key: string, fallback: string) => (typeof event[key] === 'string' ? (event[key] as string) : fallback);
    switch (event.event) {
      case 'reload-failed':
        return {kind: 'reload-failed', error: text('error', 'reload failed')};
      case 'stats': {
        const n = (key: string) => (typeof event[key] === 'number' ? (event[key] as number) : 0);
        history.appStats = {requests: n('requests'), inflight: n('inflight'), workers: n('workers'), busy: n('busy'), harakiri: n('harakiri')};
        return {kind: 'stats'};
      }
      case 'app-load-failed':
        history.lastError = text('error', 'app failed to load');
        return undefined;
      default:
        return undefined;
    }
  }
  switch (message.byte) {
    case FROM_VASSAL.ACCEPTING:
      return {kind: 'accepting'};
    case FROM_VASSAL.LOYAL:
      if (!history.loyal) logOf(deps, vassal).info('vassal loyal', {uwsgi: `[emperor] vassal ${vassal.name} is now loyal`});
      history.loyal = true;
      history.lastLoyal = deps.now();
      return undefined;
    case FROM_VASSAL.HEARTBEAT:
      history.lastHeartbeat = deps.now();
      return undefined;
    case FROM_VASSAL.CONFIG_REQUEST:
      return {kind: 'config-request'};
    case FROM_VASSAL.VOLUNTARY_STOP:
      return {kind: 'voluntary-stop'};
    default:
      // SPAWNED (1) and unknown bytes: nothing to do (the peer may be a newer uWSGI).
      return undefined;
  }
}

/**
 * Ends an instance: asks (an app-server master gets the graceful-stop byte, as from uWSGI's emperor; a program its
 * stop-signal), waits its stop-timeout, then SIGKILLs its group (`onForce` says so first). Resolves once it exited.
 */
export function endInstance(child: Child, spec: VassalSpec | undefined, deps: VassalDeps, onForce?: (graceMs: number) => void): Promise<ExitStatus> {
  const graceMs = spec?.stopTimeoutMs ?? DEFAULT_STOP_TIMEOUT_MS;
  return terminate(child.exited, {
    ask: () => {
      if (spec?.kind !== 'app-server') return child.killGroup(spec?.kind === 'command' ? spec.stopSignal : 'SIGTERM');
      if (!child.send(Buffer.from([TO_VASSAL.GRACEFUL_STOP]))) child.killGroup('SIGTERM');
    },
    graceMs,
    force: () => {
      onForce?.(graceMs);
      child.killGroup('SIGKILL');
    },
    setTimer: deps.setTimer,
  });
}

/** A logger naming the vassal, made when something is logged (a child logger per vassal would cost memory). */
export function logOf(deps: VassalDeps, vassal: VassalCore): Logger {
  return deps.log.child({vassal: vassal.name});
}
