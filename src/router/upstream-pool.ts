/**
 * Keep-alive connections from the router to its backends, pooled per member (nginx's `upstream { keepalive N; }`).
 * A connection serves one exchange at a time; between exchanges it waits in its member's idle list, newest first,
 * so a quiet period lets the oldest ones time out. An idle connection that receives anything, or is closed by the
 * backend, leaves the pool at once: the next request never picks a connection known to be dead.
 *
 *   connecting ──CONNECT──► busy ──RELEASE──► idle ──ACQUIRE──► busy
 *        │                   │                 │
 *        └──ERROR/CLOSE──────┴─────────────────┴──ERROR/CLOSE/DATA/IDLE TIMEOUT──► closed
 */
import {connect, type Socket} from 'node:net';
import type {Member} from './pool-table.js';
import {directWrite} from './direct-write.js';
import {SHARED_READ_BUFFER} from './shared-read.js';

/** What an exchange does with its upstream connection's events. */
export interface UpstreamListener {
  onUpstreamConnect(): void;
  onUpstreamData(chunk: Buffer): void;
  /** The backend closed its side (EOF). */
  onUpstreamEnd(): void;
  onUpstreamError(error: NodeJS.ErrnoException): void;
  /** The client side can take more (the connection drained after a write returned false). */
  onUpstreamDrain(): void;
}

type ConnectionPhase = 'connecting' | 'busy' | 'idle' | 'closed';

/** One connection to a backend. */
export class UpstreamConnection {
  readonly socket: Socket;
  readonly member: Member;
  #phase: ConnectionPhase = 'connecting';
  #listener: UpstreamListener | undefined;
  readonly #pool: UpstreamPool;
  /** It served an exchange before this one (a failure on it may be a stale keep-alive close, not a dead backend). */
  reused = false;
  /** When it went idle (ms, monotonic). */
  idleSince = 0;

  constructor(member: Member, pool: UpstreamPool, listener: UpstreamListener) {
    this.member = member;
    this.#pool = pool;
    this.#listener = listener;
    const upstream = member.upstream;
    // Reads land in one shared buffer and are handed on as a copy (`onread`): this skips the readable stream's
    // per-read work (a 64 KB allocation, push, 'data' emit, read-more tick), a good part of the router's CPU per request.
    const onread = {buffer: SHARED_READ_BUFFER, callback: (bytes: number, buffer: Uint8Array) => this.#onRead(bytes, buffer)};
    this.socket = 'socketPath' in upstream ? connect({path: upstream.socketPath, onread}) : connect({host: upstream.host, port: upstream.port, noDelay: true, onread});
    this.socket.on('connect', () => {
      if (this.#phase !== 'connecting') return;
      this.#phase = 'busy';
      this.#listener?.onUpstreamConnect();
    });
    this.socket.on('end', () => {
      if (this.#phase === 'busy') this.#listener?.onUpstreamEnd();
      this.destroy();
    });
    this.socket.on('error', (error: NodeJS.ErrnoException) => {
      const listener = this.#phase === 'busy' || this.#phase === 'connecting' ? this.#listener : undefined;
      this.destroy();
      listener?.onUpstreamError(error);
    });
    this.socket.on('close', () => {
      if (this.#phase !== 'closed') {
        const listener = this.#phase === 'busy' || this.#phase === 'connecting' ? this.#listener : undefined;
        this.destroy();
        listener?.onUpstreamError(Object.assign(new Error('connection closed by the backend'), {code: 'ECONNRESET'}));
      }
    });
    this.socket.on('drain', this.#onDrain);
  }

  readonly #onDrain = (): void => {
    if (this.#phase === 'busy') this.#listener?.onUpstreamDrain();
  };

  /** Writes request bytes (a string as latin1) to the backend (direct-write.ts). False: wait for onUpstreamDrain. */
  write(data: Buffer | string): boolean {
    return directWrite(this.socket, data, this.#onDrain);
  }

  /** True: keep reading (a paused socket stays paused). */
  #onRead(bytes: number, buffer: Uint8Array): boolean {
    if (this.#phase !== 'busy') {
      this.destroy(); // bytes nobody asked for: the connection cannot be trusted any more
      return true;
    }
    // A copy: SHARED_READ_BUFFER is overwritten by the next read, and the bytes may sit in a client's write queue until then.
    this.#listener?.onUpstreamData(Buffer.from(buffer.subarray(0, bytes)));
    return true;
  }

  get isConnected(): boolean {
    return this.#phase === 'busy' || this.#phase === 'idle';
  }

  /** Hands an idle connection to an exchange. */
  acquire(listener: UpstreamListener): void {
    this.#phase = 'busy';
    this.#listener = listener;
    this.reused = true;
  }

  /** The exchange is done and the connection may serve another. */
  release(now: number): void {
    if (this.#phase !== 'busy') return;
    this.#listener = undefined;
    this.#phase = 'idle';
    this.idleSince = now;
    if (this.socket.isPaused()) this.socket.resume();
    this.#pool.park(this);
  }

  /** Closes it; no listener hears about it any more. */
  destroy(): void {
    if (this.#phase === 'closed') return;
    const wasIdle = this.#phase === 'idle';
    this.#phase = 'closed';
    this.#listener = undefined;
    this.socket.destroy();
    if (wasIdle) this.#pool.forget(this);
  }

  get isIdle(): boolean {
    return this.#phase === 'idle';
  }
}

export interface UpstreamPoolOptions {
  /** Idle connections kept per member (nginx's keepalive). */
  maxIdlePerMember: number;
  /** An idle connection closes after this long, below the few seconds app servers keep one. */
  idleMs: number;
}

/** Idle connections of every member. */
export class UpstreamPool {
  readonly #idle = new Map<string, UpstreamConnection[]>();
  readonly #options: UpstreamPoolOptions;

  constructor(options: UpstreamPoolOptions) {
    this.#options = options;
  }

  /** An idle connection to `member` (taken by `listener`), else a new one. */
  connectionFor(member: Member, listener: UpstreamListener): UpstreamConnection {
    const idle = this.#idle.get(member.key);
    while (idle !== undefined && idle.length > 0) {
      const connection = idle.pop() as UpstreamConnection;
      if (!connection.isIdle) continue;
      connection.acquire(listener);
      return connection;
    }
    return new UpstreamConnection(member, this, listener);
  }

  /** A new connection, never a pooled one (WebSocket tunnels, retries after a stale one failed). */
  freshConnection(member: Member, listener: UpstreamListener): UpstreamConnection {
    return new UpstreamConnection(member, this, listener);
  }

  /** Called by a connection going idle. */
  park(connection: UpstreamConnection): void {
    const member = connection.member;
    if (member.retired) return connection.destroy();
    let idle = this.#idle.get(member.key);
    if (idle === undefined) this.#idle.set(member.key, (idle = []));
    if (idle.length >= this.#options.maxIdlePerMember) {
      connection.destroy();
      return;
    }
    idle.push(connection);
  }

  /** Called by an idle connection that closed. */
  forget(connection: UpstreamConnection): void {
    const idle = this.#idle.get(connection.member.key);
    if (idle === undefined) return;
    const at = idle.indexOf(connection);
    if (at !== -1) idle.splice(at, 1);
    if (idle.length === 0) this.#idle.delete(connection.member.key);
  }

  /** Closes the idle connections of a member that left the table. */
  retire(member: Member): void {
    const idle = this.#idle.get(member.key);
    if (idle === undefined) return;
    this.#idle.delete(member.key);
    for (const connection of idle) connection.destroy();
  }

  /** Closes connections idle longer than `idleMs` (called by the router's once-a-second sweep). */
  sweep(now: number): void {
    for (const idle of this.#idle.values()) {
      while (idle.length > 0 && now - (idle[0] as UpstreamConnection).idleSince > this.#options.idleMs) (idle[0] as UpstreamConnection).destroy();
    }
  }

  /** Closes every idle connection. */
  closeAll(): void {
    for (const idle of [...this.#idle.values()]) for (const connection of [...idle]) connection.destroy();
    this.#idle.clear();
  }
}
