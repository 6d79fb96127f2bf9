/**
 * The runtime host (zygote): one long-lived python process per emperor (`src/server/python/host.py`) that has
 * imported the whole app-server runtime once and forks app-server masters on request, so masters and workers share
 * the interpreter heap copy-on-write and a spawn costs a fork, not an interpreter start. It speaks over a Node IPC
 * channel (docs/runtime-protocol.md §5): spawn requests and listening sockets go down, `spawned` (with the master's
 * output socket and emperor-pipe socket as passed fds), `exit` and `wake` come back.
 *
 * A spawned master is a `Child` like a directly spawned one. Its pid is not known synchronously (the fork happens in
 * the host), so the child exposes `pidReady`; the host sends `spawned` before any output, pipe byte or exit can
 * reach the emperor, so every listener sees the pid. Signals and pipe writes asked for before that are held and
 * delivered once the pid and pipe arrive.
 *
 * If the host dies, it is restarted (with backoff); masters it forked keep running (they are session leaders, not in
 * the host's group) and their exit is then noticed through their emperor pipe reaching EOF.
 */
import {spawn as spawnProcess, type ChildProcess} from 'node:child_process';
import type {Logger} from '../log/logger.js';
import {splitLines} from '../util/split-lines.js';
import {terminate} from '../util/terminate.js';
import {unknownState} from '../util/unreachable.js';
import type {TokenBucket} from './child.js';
import {HostChildImpl, type HostChild} from './runtime-host-child.js';

export type {HostChild} from './runtime-host-child.js';

/** What the host needs to start a master. */
export interface HostSpawnInput {
  /** The KAISER_CONFIG object. */
  config: Record<string, unknown>;
  /** The master's full environment (KAISER_CONFIG and UWSGI_EMPEROR_FD are set by the host). */
  env: Record<string, string>;
  cwd: string;
  /** Listening sockets the host holds (see `addSocket`) that the master adopts instead of binding: address → key. */
  inherit?: Record<string, string>;
  /** Run the master as this user and group (the forked child drops supplementary groups, then setgid, setuid). */
  uid?: number;
  gid?: number;
  /** `cgroup.procs` files the forked child writes its pid into (as root, before the privilege drop). */
  cgroupProcs?: readonly string[];
  /** The emperor-wide output line bucket (util/output-budget.ts); each master also has a budget of its own. */
  sharedLines?: TokenBucket;
}

/** A raw libuv handle (tcp_wrap TCP or pipe_wrap Pipe) owning a socket, as kept by the socket store. */
export type RawSocketHandle = object;

export interface RuntimeHostOptions {
  python: string;
  hostPy: string;
  log: Logger;
  /** How long the first start may take before the emperor gives up on the host. */
  readyTimeoutMs?: number;
}

type HostEvent =
  | {ev: 'ready'; pid?: number}
  | {ev: 'spawned'; id: string; pid: number; stream: 'output' | 'pipe'}
  | {ev: 'exit'; id: string; pid: number; code: number | null; signal: string | null}
  | {ev: 'wake'; key: string}
  | {ev: 'listening'; key: string}
  | {ev: 'bind-failed'; key: string; error: string}
  | {ev: 'error'; id?: string; message: string};

const RESTART_FIRST_MS = 100;
const RESTART_MAX_MS = 5_000;
/** How long the host may take to exit once its channel is closed, before it is SIGKILLed. */
const CLOSE_GRACE_MS = 5_000;

/**
 * The host process's lifecycle (spawns go to it only while `ready`):
 *
 *   (new) ──start()──► launching ──"ready" (imports done)──► ready ──EXIT──► restarting
 *                         │   ▲                                               │ timer: 100 ms, doubling to 5 s;
 *                         │   └──────────────────── timer ────────────────────┘ "ready" resets it
 *                         └──EXIT──► restarting
 *   launching | ready | restarting ──close()──► closing ──EXIT──► closed
 */
type HostState =
  | {id: 'new'}
  /** `relaunch`: after a death, so "ready" is logged as a restart. */
  | {id: 'launching'; proc: ChildProcess; relaunch: boolean}
  | {id: 'ready'; proc: ChildProcess}
  | {id: 'restarting'; cancelRelaunch: () => void}
  | {id: 'closing'; proc: ChildProcess}
  | {id: 'closed'};

/** Handle on the host process. */
export class RuntimeHost {
  readonly python: string;
  readonly #options: RuntimeHostOptions;
  readonly #log: Logger;
  #state: HostState = {id: 'new'};
  #restartMs = RESTART_FIRST_MS;
  #nextId = 1;
  /** Children of the current host process, by spawn id, until their exit is reported. */
  #children = new Map<string, HostChildImpl>();
  readonly #sockets = new Map<string, RawSocketHandle>();
  readonly #armed = new Set<string>();
  readonly #wakeListeners: ((key: string) => void)[] = [];
  /** Callers waiting for the host’s listening event, by socket key. */
  readonly #listening = new Map<string, ((error?: string) => void)[]>();
  /** Handle sends in flight, by socket key, and who waits for them to finish (see `whenSent`). */
  readonly #sending = new Map<string, number>();
  readonly #sentWaiters = new Map<string, (() => void)[]>();
  /** Sockets the host bound itself (`bindSocket`), bound again if the host restarts. */
  readonly #bound = new Set<string>();
  #readyWaiters: ((ok: boolean) => void)[] = [];

  constructor(options: RuntimeHostOptions) {
    this.#options = options;
    this.python = options.python;
    this.#log = options.log;
  }

  /** True while a host is up and has finished its imports: spawns go to it. */
  get available(): boolean {
    return this.#state.id === 'ready';
  }

  /** The host's pid (tests, stats), or undefined. */
  get pid(): number | undefined {
    return this.#proc?.pid;
  }

  /** The host process while there is one to talk to. */
  get #proc(): ChildProcess | undefined {
    const s = this.#state;
    return s.id === 'launching' || s.id === 'ready' || s.id === 'closing' ? s.proc : undefined;
  }

  /** Starts the host; resolves true once it is ready, false if it failed to start (the reason is logged). */
  start(): Promise<boolean> {
    const ready = new Promise<boolean>((resolve) => this.#readyWaiters.push(resolve));
    if (this.#state.id === 'new') this.#launch(false);
    const timeoutMs = this.#options.readyTimeoutMs ?? 10_000;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), timeoutMs)));
    return Promise.race([ready, timeout]).then((ok) => {
      clearTimeout(timer);
      return ok;
    });
  }

  /** Forks a master in the host. Call only while `available`. */
  spawn(input: HostSpawnInput): HostChild {
    const id = String(this.#nextId++);
    const child = new HostChildImpl(input.sharedLines);
    this.#children.set(id, child);
    const sent = this.#send({
      op: 'spawn',
      id,
      config: input.config,
      env: input.env,
      cwd: input.cwd,
      ...(input.inherit ? {inherit: input.inherit} : {}),
      ...(input.uid === undefined ? {} : {uid: input.uid}),
      ...(input.gid === undefined ? {} : {gid: input.gid}),
      ...(input.cgroupProcs && input.cgroupProcs.length > 0 ? {cgroup_procs: input.cgroupProcs} : {}),
    });
    if (!sent) {
      this.#children.delete(id);
      child.fail();
    }
    return child;
  }

  /**
   * Hands a bound socket to the host, which listens on it (backlog 1024) and keeps it under `key`. Resolves once the
   * host has called listen (true), or false if it did not within 5 s.
   */
  addSocket(key: string, handle: RawSocketHandle): Promise<boolean> {
    this.#sockets.set(key, handle);
    const listening = this.#waitListening(key).then((error) => error === undefined);
    this.#sendSocket(key, handle);
    return listening;
  }

  /**
   * Asks the host to bind and listen on `key` (`tcp://HOST:PORT`, `unix:/path`) itself and keep it: for sockets only
   * the host needs (on-demand app-server vassals), with no copy in the emperor. Resolves with an error text or
   * undefined once listening.
   */
  bindSocket(key: string): Promise<string | undefined> {
    this.#bound.add(key);
    const result = this.#waitListening(key);
    this.#send({op: 'bind', key});
    return result;
  }

  #waitListening(key: string): Promise<string | undefined> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => resolve('the runtime host did not answer within 5 s'), 5_000);
      const waiters = this.#listening.get(key) ?? [];
      waiters.push((error) => {
        clearTimeout(timer);
        resolve(error);
      });
      this.#listening.set(key, waiters);
    });
  }

  /** Asks for one `wake` event when a connection is pending on `key` (nothing is accepted). */
  arm(key: string): void {
    this.#armed.add(key);
    this.#send({op: 'arm', key});
  }

  disarm(key: string): void {
    this.#armed.delete(key);
    this.#send({op: 'disarm', key});
  }

  closeSocket(key: string): void {
    this.#armed.delete(key);
    this.#sockets.delete(key);
    this.#bound.delete(key);
    this.#send({op: 'close-socket', key});
  }

  onWake(listener: (key: string) => void): void {
    this.#wakeListeners.push(listener);
  }

  /**
   * Closes the channel: the host kills whatever it still runs and exits (SIGKILL if it has not within 5 s). Resolves
   * once it has exited.
   */
  async close(): Promise<void> {
    const s = this.#state;
    switch (s.id) {
      case 'new':
      case 'closed':
        this.#state = {id: 'closed'};
        return;
      case 'restarting':
        s.cancelRelaunch();
        this.#state = {id: 'closed'};
        return;
      case 'closing':
        await exitOf(s.proc);
        return;
      case 'launching':
      case 'ready': {
        const proc = s.proc;
        this.#state = {id: 'closing', proc};
        if (proc.exitCode !== null || proc.signalCode !== null) return;
        await terminate(exitOf(proc), {
          ask: () => (proc.connected ? proc.disconnect() : proc.kill('SIGKILL')),
          graceMs: CLOSE_GRACE_MS,
          force: () => proc.kill('SIGKILL'),
        });
        return;
      }
      default:
        throw unknownState(s);
    }
  }

  // ── the host process ────────────────────────────────────────────────────────────────────────

  #launch(relaunch: boolean): void {
    const proc = spawnProcess(this.#options.python, [this.#options.hostPy], {
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
      serialization: 'json',
      detached: false,
    });
    this.#state = {id: 'launching', proc, relaunch};
    const children = new Map<string, HostChildImpl>();
    this.#children = children;
    const logLine = (line: string) => this.#log.info(`[host] ${line}`, {uwsgi: `[host] ${line}`});
    for (const stream of [proc.stdout, proc.stderr]) splitLines(stream, logLine);
    proc.on('error', (error) => this.#log.error('cannot start the runtime host', {python: this.#options.python, error: String(error)}));
    proc.on('message', (message: HostEvent, handle?: unknown) => this.#onMessage(children, message, handle));
    proc.on('exit', (code, signal) => this.#onExit(proc, children, code, signal));
    // The channel must not keep the emperor alive on its own.
    proc.channel?.unref();
    for (const [key, handle] of this.#sockets) this.#sendSocket(key, handle);
    for (const key of this.#bound) this.#send({op: 'bind', key});
    for (const key of this.#armed) this.#send({op: 'arm', key});
  }

  #onMessage(children: Map<string, HostChildImpl>, message: HostEvent, handle: unknown): void {
    switch (message.ev) {
      case 'ready': {
        const s = this.#state;
        if (s.id !== 'launching') return;
        if (s.relaunch) this.#log.info('runtime host restarted', {uwsgi: `[emperor] runtime host restarted (pid: ${s.proc.pid})`});
        this.#state = {id: 'ready', proc: s.proc};
        this.#restartMs = RESTART_FIRST_MS;
        const waiters = this.#readyWaiters;
        this.#readyWaiters = [];
        waiters.forEach((w) => w(true));
        return;
      }
      case 'spawned': {
        const child = children.get(message.id);
        if (!child) {
          closeHandle(handle);
          return;
        }
        child.attach(message.pid, message.stream, handle);
        return;
      }
      case 'exit': {
        const child = children.get(message.id);
        if (!child) return;
        children.delete(message.id);
        child.exit({code: message.code, signal: message.signal as NodeJS.Signals | null});
        return;
      }
      case 'wake':
        this.#wakeListeners.forEach((l) => l(message.key));
        return;
      case 'listening':
      case 'bind-failed': {
        const waiters = this.#listening.get(message.key) ?? [];
        this.#listening.delete(message.key);
        waiters.forEach((w) => w(message.ev === 'bind-failed' ? message.error : undefined));
        return;
      }
      case 'error': {
        this.#log.error('runtime host error', {uwsgi: `[host] error: ${message.message}`, error: message.message});
        const child = message.id === undefined ? undefined : children.get(message.id);
        if (child && child.pid <= 0) {
          children.delete(message.id!);
          child.fail();
        }
        return;
      }
      default:
        return;
    }
  }

  #onExit(proc: ChildProcess, children: Map<string, HostChildImpl>, code: number | null, signal: NodeJS.Signals | null): void {
    // Masters it forked keep running on their own; their exit shows as their emperor pipe closing.
    for (const child of children.values()) child.orphan();
    children.clear();
    const waiters = this.#readyWaiters;
    this.#readyWaiters = [];
    waiters.forEach((w) => w(false));
    const s = this.#state;
    if (s.id === 'closing' && s.proc === proc) this.#state = {id: 'closed'};
    if ((s.id !== 'launching' && s.id !== 'ready') || s.proc !== proc) return;
    const how = signal ? `signal ${signal}` : `exit code ${code}`;
    this.#log.error('runtime host died', {uwsgi: `[emperor] the runtime host died (${how}); restarting it in ${this.#restartMs} ms`});
    const timer = setTimeout(() => {
      if (this.#state.id === 'restarting') this.#launch(true);
    }, this.#restartMs);
    this.#state = {id: 'restarting', cancelRelaunch: () => clearTimeout(timer)};
    this.#restartMs = Math.min(RESTART_MAX_MS, this.#restartMs * 2);
  }

  #send(message: Record<string, unknown>, handle?: RawSocketHandle, onSent?: () => void): boolean {
    const proc = this.#proc;
    if (!proc || !proc.connected) return false;
    try {
      if (handle) proc.send(message, handle as never, {keepOpen: true}, () => onSent?.());
      else proc.send(message);
      return true;
    } catch (error) {
      this.#log.error('cannot talk to the runtime host', {error: String(error)});
      return false;
    }
  }

  #sendSocket(key: string, handle: RawSocketHandle): void {
    // A handle queued for sending must stay open until it has gone: libuv aborts the process on a closed one.
    const inFlight = this.#sending.get(key) ?? 0;
    this.#sending.set(key, inFlight + 1);
    const sent = () => {
      const left = (this.#sending.get(key) ?? 1) - 1;
      if (left > 0) return void this.#sending.set(key, left);
      this.#sending.delete(key);
      const waiters = this.#sentWaiters.get(key) ?? [];
      this.#sentWaiters.delete(key);
      waiters.forEach((w) => w());
    };
    if (!this.#send({op: 'socket', key}, handle, sent)) sent();
  }

  /** Resolves once no send of `key`'s handle is in flight, so the caller may close its copy. */
  whenSent(key: string): Promise<void> {
    if (!this.#sending.has(key)) return Promise.resolve();
    return new Promise((resolve) => this.#sentWaiters.set(key, [...(this.#sentWaiters.get(key) ?? []), resolve]));
  }
}

function closeHandle(handle: unknown): void {
  const h = handle as {close?: () => void} | undefined;
  try {
    h?.close?.();
  } catch {
    // already closed
  }
}

/** Resolves once `proc` has exited (at once if it has). */
function exitOf(proc: ChildProcess): Promise<void> {
  if (proc.exitCode !== null || proc.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => proc.once('exit', () => resolve()));
}
