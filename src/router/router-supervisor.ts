/**
 * The emperor's side of the router processes: binds their sockets (`listen-sockets.ts`), forks
 * `--emperor-http-processes` of them, feeds each the current table over its pipe, and starts another when one dies,
 * on the same sockets. A process gets the current table before its sockets, so it never accepts a connection it
 * cannot route. Route changes are coalesced (at most one table per 5 ms) and sent whole; `applied()` resolves
 * once every live process routes by the newest table (draining waits on it).
 *
 *   (slot) ──FORK──► starting ──listening──► serving ──EXIT (unplanned)──► backoff ──after delay──► starting
 *                       │                                                      ▲
 *                       └──────────────── EXIT ───────────────────────────────┘
 *   any ──STOP──► stopping ──EXIT──► stopped
 *
 * A process that dies within a minute of starting waits before the next start (1 s, doubling to 30 s), as vassals
 * do; a first crash after a good run restarts at once.
 */
import {fork, type ChildProcess} from 'node:child_process';
import {fileURLToPath} from 'node:url';
import type {Logger} from '../log/logger.js';
import {err, ok, type Result} from '../result.js';
import {signalGroup, terminate} from '../util/terminate.js';
import {bindListenSockets, type HeldSocket} from './listen-sockets.js';
import type {PoolSpec} from './pools.js';
import type {FromRouter, HttpsListenerSettings, ListenerSpec, RouterSettings, ToRouter} from './router-messages.js';

const ROUTER_MAIN = fileURLToPath(new URL('./router-process.js', import.meta.url));
const COALESCE_MS = 5;
const STABLE_MS = 60_000;
const MAX_BACKOFF_MS = 30_000;

/** A listener to open: its kind (`http`, `https`, `fastrouter`) and address. */
export interface ListenerRequest {
  readonly kind: string;
  readonly address: string;
  readonly options?: HttpsListenerSettings;
}

export interface RouterSupervisorOptions {
  readonly python: string;
  readonly processes: number;
  readonly settings: RouterSettings;
  readonly listeners: readonly ListenerRequest[];
  readonly log: Logger;
}

type SlotState =
  | {id: 'starting'; child: ChildProcess; startedAt: number}
  | {id: 'serving'; child: ChildProcess; startedAt: number}
  | {id: 'backoff'; timer: NodeJS.Timeout; delayMs: number}
  | {id: 'stopping'; child: ChildProcess}
  | {id: 'stopped'};

interface Slot {
  readonly index: number;
  state: SlotState;
  /** The table seq this process last confirmed. */
  appliedSeq: number;
  failures: number;
}

export class RouterSupervisor {
  readonly #options: RouterSupervisorOptions;
  readonly #log: Logger;
  readonly #slots: Slot[] = [];
  /** listener id → one socket per slot (unix sockets: the same one for all). */
  readonly #sockets = new Map<string, HeldSocket[]>();
  readonly #listeners: ListenerSpec[] = [];
  #seq = 0;
  #pools: PoolSpec[] = [];
  #flush: NodeJS.Timeout | undefined;
  #stopping = false;
  readonly #appliedWaiters: {seq: number; resolve: () => void}[] = [];

  constructor(options: RouterSupervisorOptions) {
    this.#options = options;
    this.#log = options.log.child({component: 'router'});
  }

  /** The bound addresses, per listener kind (with real ports). */
  addresses(kind: string): string[] {
    return this.#listeners.filter((l) => l.kind === kind).map((l) => l.address);
  }

  /** Binds the sockets and starts the processes; resolves once every process accepts, or with why not. */
  async start(): Promise<Result<void, string>> {
    const count = this.#options.processes;
    const bound = await bindListenSockets(this.#options.python, this.#options.listeners.map((l) => ({address: l.address, count})));
    if (!bound.ok) return err(bound.error);
    this.#options.listeners.forEach((request, i) => {
      const sockets = bound.value.get(request.address) ?? [];
      const id = `${request.kind}-${i}`;
      this.#sockets.set(id, sockets);
      this.#listeners.push({id, kind: request.kind, address: sockets[0]?.address ?? request.address, ...(request.options ? {options: request.options} : {})});
    });
    const started = await Promise.all(Array.from({length: count}, (_, index) => this.#startSlot({index, state: {id: 'stopped'}, appliedSeq: 0, failures: 0})));
    const failed = started.find((r) => !r.ok);
    if (failed !== undefined && !failed.ok) {
      await this.stop(1_000);
      return err(failed.error);
    }
    return ok(undefined);
  }

  #startSlot(slot: Slot): Promise<Result<void, string>> {
    if (!this.#slots.includes(slot)) this.#slots.push(slot);
    // KAISER_ROUTER_NODE_FLAGS: extra node flags for the router processes only (profiling: `--cpu-prof --cpu-prof-dir=DIR`).
    const execArgv = process.env['KAISER_ROUTER_NODE_FLAGS']?.split(' ').filter((f) => f !== '') ?? [];
    const child = fork(ROUTER_MAIN, [], {stdio: ['ignore', 'inherit', 'inherit', 'ipc'], serialization: 'json', detached: true, execArgv});
    slot.state = {id: 'starting', child, startedAt: Date.now()};
    return new Promise((resolve) => {
      let answered = false;
      const answer = (result: Result<void, string>) => {
        if (answered) return;
        answered = true;
        resolve(result);
      };
      child.on('message', (message: FromRouter) => {
        switch (message.act) {
          case 'listening':
            if (slot.state.id === 'starting' && slot.state.child === child) slot.state = {id: 'serving', child, startedAt: slot.state.startedAt};
            this.#log.info('router process serving', {uwsgi: `[router] process ${slot.index} (pid ${child.pid ?? 0}) serving`, pid: child.pid, slot: slot.index});
            return answer(ok(undefined));
          case 'applied':
            slot.appliedSeq = Math.max(slot.appliedSeq, message.seq);
            return this.#wakeApplied();
          case 'failed':
            return answer(err(`router process ${slot.index} failed to start: ${message.error}`));
          default:
            return;
        }
      });
      child.on('error', (error) => answer(err(`cannot start a router process: ${error.message}`)));
      child.on('exit', (code, signal) => {
        answer(err(`router process ${slot.index} exited (${signal ?? code ?? 'unknown'}) before serving`));
        this.#onExit(slot, child, code, signal);
      });
      this.#send(child, {act: 'start', settings: this.#options.settings, listeners: this.#listeners});
      // The table before the sockets: a connection accepted at once is routed, never answered 404 for want of it.
      if (this.#seq > 0) this.#send(child, {act: 'table', seq: this.#seq, pools: this.#pools});
      for (const listener of this.#listeners) {
        const sockets = this.#sockets.get(listener.id) ?? [];
        const socket = sockets[Math.min(slot.index, sockets.length - 1)];
        if (socket !== undefined) this.#send(child, {act: 'listen', id: listener.id}, socket.handle);
      }
    });
  }

  #onExit(slot: Slot, child: ChildProcess, code: number | null, signal: NodeJS.Signals | null): void {
    const state = slot.state;
    if (!('child' in state) || state.child !== child) return;
    if (state.id === 'stopping' || this.#stopping) {
      slot.state = {id: 'stopped'};
      return;
    }
    const ranMs = Date.now() - state.startedAt;
    slot.failures = ranMs > STABLE_MS ? 1 : slot.failures + 1;
    const delayMs = slot.failures <= 1 ? 0 : Math.min(MAX_BACKOFF_MS, 1_000 * 2 ** (slot.failures - 2));
    this.#log.warn('router process died', {
      uwsgi: `[router] process ${slot.index} (pid ${child.pid ?? 0}) died (${signal ?? `exit ${code ?? '?'}`}); starting another${delayMs > 0 ? ` in ${delayMs / 1000} s` : ''}`,
      slot: slot.index,
      code,
      signal,
    });
    const timer = setTimeout(() => {
      if (this.#stopping) return;
      void this.#startSlot(slot);
    }, delayMs);
    slot.state = {id: 'backoff', timer, delayMs};
  }

  #send(child: ChildProcess, message: ToRouter, handle?: object): void {
    if (!child.connected) return;
    try {
      // A raw handle goes as `net.Native`: the emperor keeps its copy open.
      child.send(message, handle as never, (error) => {
        if (error) this.#log.debug('router pipe write failed', {error: error.message});
      });
    } catch (error) {
      this.#log.debug('router pipe write failed', {error: (error as Error).message});
    }
  }

  /** The new table; sent to every process within a few milliseconds (changes in between are coalesced). */
  setTable(pools: PoolSpec[]): void {
    this.#pools = pools;
    if (this.#slots.length === 0) {
      // Not started yet: this is the first table, sent with each process's start.
      this.#seq += 1;
      return;
    }
    this.#flush ??= setTimeout(() => {
      this.#flush = undefined;
      this.#seq += 1;
      for (const slot of this.#slots) {
        if (slot.state.id === 'starting' || slot.state.id === 'serving') this.#send(slot.state.child, {act: 'table', seq: this.#seq, pools: this.#pools});
      }
    }, COALESCE_MS);
  }

  /** Resolves once every live process routes by the latest table (or after `withinMs`). */
  applied(withinMs = 1_000): Promise<void> {
    const target = this.#seq + (this.#flush === undefined ? 0 : 1);
    if (this.#allApplied(target)) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, withinMs);
      this.#appliedWaiters.push({seq: target, resolve: () => (clearTimeout(timer), resolve())});
    });
  }

  #allApplied(seq: number): boolean {
    return this.#slots.every((slot) => slot.state.id !== 'serving' || slot.appliedSeq >= seq);
  }

  #wakeApplied(): void {
    for (const waiter of [...this.#appliedWaiters]) {
      if (!this.#allApplied(waiter.seq)) continue;
      this.#appliedWaiters.splice(this.#appliedWaiters.indexOf(waiter), 1);
      waiter.resolve();
    }
  }

  /** Pids of the live router processes (tests, `kaiser ls`). */
  pids(): number[] {
    return this.#slots.flatMap((slot) => ('child' in slot.state && slot.state.child.pid !== undefined ? [slot.state.child.pid] : []));
  }

  reopenLogs(): void {
    for (const slot of this.#slots) if ('child' in slot.state) this.#send(slot.state.child, {act: 'reopen-logs'});
  }

  /** Asks every process to finish its requests within `graceMs`, then kills what is left, and closes the sockets. */
  async stop(graceMs: number): Promise<void> {
    this.#stopping = true;
    if (this.#flush !== undefined) clearTimeout(this.#flush);
    const exits = this.#slots.map((slot) => {
      const state = slot.state;
      if (state.id === 'backoff') clearTimeout(state.timer);
      if (!('child' in state)) return Promise.resolve();
      const child = state.child;
      slot.state = {id: 'stopping', child};
      if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      // The process drains its connections within graceMs itself; the 2 s more cover its own exit.
      return terminate(exited, {ask: () => this.#send(child, {act: 'stop', graceMs}), graceMs: graceMs + 2_000, force: () => signalGroup(child.pid as number)});
    });
    await Promise.all(exits);
    for (const sockets of this.#sockets.values()) for (const socket of new Set(sockets)) socket.handle.close();
    this.#sockets.clear();
  }
}
