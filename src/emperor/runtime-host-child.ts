/**
 * A master forked by the runtime host, as the vassal sees it: a `Child` whose pid, output socket and emperor-pipe
 * socket arrive over the host's IPC channel a moment after the spawn was asked for. Signals asked for before the pid
 * is known, and pipe bytes before the pipe arrives, are held and delivered then.
 *
 *   requested ──"spawned" (pid, then the output and pipe sockets)──► running ──"exit" (status)──► draining
 *       │                                                               │                        │ output socket
 *       │ the spawn failed before a fork ("error", host gone)           │ the host died          │ closed, or
 *       ▼                                                               ▼                        ▼ 500 ms passed
 *     exited (127)                                                   orphaned ──pipe EOF──────► exited
 *                                                                    (no status: nobody we can ask reaped it)
 */
import {Socket} from 'node:net';
import {VassalStreamDecoder, type VassalMessage} from '../protocol/emperor-pipe.js';
import {signalGroup} from '../util/terminate.js';
import {unknownState} from '../util/unreachable.js';
import {followMasterOutput, type Child, type ExitStatus, type TokenBucket} from './child.js';

/** After the exit status, how long to wait for the output socket to drain before reporting the exit. */
const OUTPUT_DRAIN_MS = 500;

/** A master forked by the host: a Child whose pid arrives a moment after `spawn` returns. */
export interface HostChild extends Child {
  /** Resolves with the pid once the host forked (-1 if the spawn failed before a fork). */
  readonly pidReady: Promise<number>;
}

type HostChildState =
  /** Asked of the host, not forked yet: signals wait here. */
  | {id: 'requested'; heldSignals: NodeJS.Signals[]}
  | {id: 'running'; pid: number}
  /** The host reaped it; its last output may still be on its way. */
  | {id: 'draining'; pid: number; status: ExitStatus}
  /** The host died: the master runs on, and its exit will be its emperor pipe reaching EOF. */
  | {id: 'orphaned'; pid: number}
  | {id: 'exited'; pid: number; status: ExitStatus};

/** The host's record of one master it forked. */
export class HostChildImpl implements HostChild {
  #state: HostChildState = {id: 'requested', heldSignals: []};
  readonly pidReady: Promise<number>;
  readonly exited: Promise<ExitStatus>;
  #resolvePid!: (pid: number) => void;
  #resolveExit!: (status: ExitStatus) => void;
  #output: Socket | undefined;
  #pipe: Socket | undefined;
  /** Bytes written before the pipe arrived. */
  #heldBytes: Buffer[] = [];
  readonly #lineListeners: ((line: string, stream: 'stdout' | 'stderr') => void)[] = [];
  readonly #messageListeners: ((message: VassalMessage) => void)[] = [];

  constructor(readonly sharedLines?: TokenBucket) {
    this.pidReady = new Promise((resolve) => (this.#resolvePid = resolve));
    this.exited = new Promise((resolve) => (this.#resolveExit = resolve));
  }

  get pid(): number {
    return this.#state.id === 'requested' ? -1 : this.#state.pid;
  }

  onLine(listener: (line: string, stream: 'stdout' | 'stderr') => void): void {
    this.#lineListeners.push(listener);
  }

  onMessage(listener: (message: VassalMessage) => void): void {
    this.#messageListeners.push(listener);
  }

  send(bytes: Buffer): boolean {
    if (this.#state.id === 'exited') return false;
    const pipe = this.#pipe;
    if (!pipe) {
      this.#heldBytes.push(bytes);
      return true;
    }
    if (pipe.closed || pipe.destroyed || !pipe.writable) return false;
    pipe.write(bytes);
    return true;
  }

  killGroup(signal: NodeJS.Signals): void {
    const s = this.#state;
    if (s.id === 'requested') return void s.heldSignals.push(signal);
    // Also once exited: what the master leaves behind in its group goes with it.
    signalGroup(s.pid, signal);
  }

  /** `spawned`: the pid, and one of the two sockets. */
  attach(pid: number, stream: 'output' | 'pipe', handle: unknown): void {
    const s = this.#state;
    if (s.id === 'requested' && pid > 0) {
      this.#state = {id: 'running', pid};
      this.#resolvePid(pid);
      for (const signal of s.heldSignals) this.killGroup(signal);
    }
    if (!handle) return;
    // `handle` (a libuv Pipe wrap received over IPC) is an undocumented but long-standing net.Socket option.
    const socket = new Socket({handle, readable: true, writable: stream === 'pipe'} as unknown as ConstructorParameters<typeof Socket>[0]);
    socket.on('error', () => undefined);
    socket.on('close', () => this.#onSocketClosed(stream));
    if (stream === 'output') {
      this.#output = socket;
      // The master's stdout and stderr share this socket (reported as stderr); nothing is written to it from here.
      followMasterOutput(socket, (line) => this.#lineListeners.forEach((l) => l(line, 'stderr')), this.sharedLines, this.exited);
      return;
    }
    this.#pipe = socket;
    const decoder = new VassalStreamDecoder();
    socket.on('data', (chunk: Buffer) => {
      for (const message of decoder.push(chunk)) this.#messageListeners.forEach((l) => l(message));
    });
    const held = this.#heldBytes;
    this.#heldBytes = [];
    for (const bytes of held) socket.write(bytes);
  }

  /** The host reaped the master. */
  exit(status: ExitStatus): void {
    const s = this.#state;
    if (s.id === 'requested') return this.#finish(-1, status);
    if (s.id !== 'running') return;
    if (!this.#output || this.#output.closed) return this.#finish(s.pid, status);
    this.#state = {id: 'draining', pid: s.pid, status};
    setTimeout(() => this.#finish(s.pid, status), OUTPUT_DRAIN_MS).unref();
  }

  /** The spawn failed before a fork. */
  fail(): void {
    if (this.#state.id !== 'requested') return;
    this.#resolvePid(-1);
    this.#finish(-1, {code: 127, signal: null});
  }

  /** The host died: the exit is now known only from the emperor pipe closing. */
  orphan(): void {
    const s = this.#state;
    switch (s.id) {
      case 'requested':
        return this.fail();
      case 'running':
        this.#state = {id: 'orphaned', pid: s.pid};
        if (!this.#pipe || this.#pipe.closed) this.#finishOrphan(s.pid);
        return;
      case 'draining':
      case 'orphaned':
      case 'exited':
        return;
      default:
        throw unknownState(s);
    }
  }

  #onSocketClosed(stream: 'output' | 'pipe'): void {
    const s = this.#state;
    if (stream === 'output' && s.id === 'draining') this.#finish(s.pid, s.status);
    else if (stream === 'pipe' && s.id === 'orphaned') this.#finishOrphan(s.pid);
  }

  #finishOrphan(pid: number): void {
    // No status: the master's parent (the host) is gone, nobody we can ask reaped it.
    this.#finish(pid, {code: null, signal: null});
  }

  #finish(pid: number, status: ExitStatus): void {
    if (this.#state.id === 'exited') return;
    this.#state = {id: 'exited', pid, status};
    this.#heldBytes = [];
    if (this.#pipe && !this.#pipe.destroyed) this.#pipe.destroy();
    this.#resolveExit(status);
  }
}
