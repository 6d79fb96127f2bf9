/**
 * The HTTP front of a router process: accepts client connections from any number of listeners (plain `net`
 * servers here; a TLS listener passes its `TLSSocket`s to `accept` too), caps them, and sweeps timeouts once a
 * second. Requests go through `client-connection.ts` and `exchange.ts`.
 *
 * **Connection cap.** Each process takes at most `maxConnections` clients (default: half its descriptor limit less a
 * reserve of 64, since a client in flight also holds a backend connection). At the cap the oldest connection that
 * is idle or still sending its head is closed to make room, so thousands of idle or half-open connections cannot
 * keep a real client out; only when every connection has a request in flight is a new one refused.
 */
import {readFileSync} from 'node:fs';
import {createServer, type Server, type Socket} from 'node:net';
import type {Logger} from '../log/logger.js';
import type {AccessLog} from './access-log.js';
import {ClientConnection, type ConnectionRegistry} from './client-connection.js';
import {EvictQueue} from './evict-queue.js';
import {FailureLog} from './failure-log.js';
import {LocalAnswers} from './tls/local-answers.js';
import type {FrontContext} from './front-context.js';
import type {Member, Routing} from './pool-table.js';
import type {RouterSettings} from './router-messages.js';
import {UpstreamPool} from './upstream-pool.js';

/** Descriptors kept free for logs, backend connects and the IPC pipe. */
const DESCRIPTOR_RESERVE = 64;
const SWEEP_MS = 1_000;

export class HttpFront implements ConnectionRegistry {
  readonly context: FrontContext;
  readonly maxConnections: number;
  readonly #connections = new Set<ClientConnection>();
  /** Idle or head-reading connections, oldest first. */
  readonly #evictable = new EvictQueue<ClientConnection>();
  readonly #servers: Server[] = [];
  readonly #sweep: NodeJS.Timeout;
  #lastCapWarning = 0;
  #evicted = 0;
  #refused = 0;
  #closing = false;

  constructor(routing: Routing, settings: RouterSettings, log: Logger, accessLog: AccessLog | undefined) {
    const upstreams = new UpstreamPool({maxIdlePerMember: 64, idleMs: 4_000});
    this.context = {routing, upstreams, settings, log, accessLog, failures: new FailureLog(log), answers: new LocalAnswers(settings.acmeChallengeDir)};
    this.maxConnections = settings.maxConnections > 0 ? settings.maxConnections : defaultMaxConnections();
    this.#sweep = setInterval(() => this.#onSweep(), SWEEP_MS);
    this.#sweep.unref();
  }

  /** A member left the table: its idle connections close. */
  retire(member: Member): void {
    this.context.upstreams.retire(member);
  }

  /** Serves a listening socket handle (from the emperor) with plain HTTP. */
  listen(handle: object): Promise<Server> {
    const server = createServer({noDelay: true, pauseOnConnect: false}, (socket) => this.accept(socket, false));
    this.#servers.push(server);
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(handle, () => {
        server.off('error', reject);
        server.on('error', (error) => this.context.log.warn('router listener error', {uwsgi: `[router] listener error: ${error.message}`}));
        resolve(server);
      });
    });
  }

  /** Takes a client connection (plain or TLS). */
  accept(socket: Socket, secure: boolean): void {
    if (this.#closing) {
      socket.destroy();
      return;
    }
    if (this.#connections.size >= this.maxConnections && !this.#makeRoom()) {
      this.#refused += 1;
      socket.destroy();
      this.#warnCap();
      return;
    }
    const connection = new ClientConnection(socket, secure, this.context, this, Date.now());
    this.#connections.add(connection);
  }

  #makeRoom(): boolean {
    const oldest = this.#evictable.shiftOldest();
    if (oldest === undefined) return false;
    this.#connections.delete(oldest);
    oldest.destroy();
    this.#evicted += 1;
    this.#warnCap();
    return true;
  }

  #warnCap(): void {
    const now = Date.now();
    if (now - this.#lastCapWarning < 10_000) return;
    this.#lastCapWarning = now;
    this.context.log.warn('router connection cap reached', {
      uwsgi: `[router] ${this.maxConnections} client connections (the cap): closed ${this.#evicted} idle or half-open ones and refused ${this.#refused} new ones so far`,
      maxConnections: this.maxConnections,
      evicted: this.#evicted,
      refused: this.#refused,
    });
  }

  markIdle(connection: ClientConnection): void {
    this.#evictable.pushNewest(connection);
  }

  markBusy(connection: ClientConnection): void {
    this.#evictable.remove(connection);
  }

  closed(connection: ClientConnection): void {
    this.#connections.delete(connection);
    this.#evictable.remove(connection);
  }

  /** How many client connections are open (tests, logs). */
  get connectionCount(): number {
    return this.#connections.size;
  }

  #onSweep(): void {
    const now = Date.now();
    for (const connection of this.#connections) connection.checkTimeout(now);
    this.context.upstreams.sweep(now);
  }

  /** Stops accepting; resolves once requests in flight are done or `graceMs` has passed (then closes the rest). */
  async close(graceMs: number): Promise<void> {
    this.#closing = true;
    for (const server of this.#servers) server.close();
    for (const connection of this.#connections) if (connection.phase === 'idle') connection.destroy();
    const until = Date.now() + graceMs;
    while (this.#connections.size > 0 && Date.now() < until) {
      await new Promise((resolve) => setTimeout(resolve, 20));
      for (const connection of this.#connections) if (connection.phase === 'idle') connection.destroy();
    }
    for (const connection of this.#connections) connection.destroy();
    clearInterval(this.#sweep);
    this.context.upstreams.closeAll();
    this.context.accessLog?.close();
  }
}

/** Half of the open-file limit (a proxied request holds two descriptors), less the reserve. */
function defaultMaxConnections(): number {
  try {
    const limits = readFileSync('/proc/self/limits', 'utf8');
    const match = /^Max open files\s+(\d+|unlimited)/m.exec(limits);
    const soft = match?.[1] === undefined || match[1] === 'unlimited' ? 1_048_576 : Number(match[1]);
    return Math.max(16, Math.floor((soft - DESCRIPTOR_RESERVE) / 2));
  } catch {
    return 4_096;
  }
}
