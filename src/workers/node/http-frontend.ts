/**
 * The HTTP servers of the worker: one `http.Server` per inherited `http` listening socket (`listen({fd})`),
 * all sharing the request listener, plus the graceful stop of SIGHUP: stop accepting, let in-flight requests
 * finish (their responses get `Connection: close` when the head is not out yet), close keep-alive
 * connections once they have been idle for a second, resolve when every connection is gone.
 *
 * Not `http.Server#close()`: since Node 19 it closes idle keep-alive connections at once, under a client that may
 * be sending its next request on one at that instant (it gets a reset). A connection idle for a second is closed
 * with a FIN; one that brings a request meanwhile is answered with `Connection: close`.
 */
import http from 'node:http';
import net from 'node:net';
import type {Socket} from 'node:net';
import type {IncomingMessage, ServerResponse} from 'node:http';

/** How long a keep-alive connection must have been idle before a stopping worker closes it. */
const IDLE_GRACE_MS = 1_000;

/** Server tuning taken from the options. */
export interface FrontendOptions {
  /** `socket-timeout` in ms: headersTimeout, requestTimeout and keepAliveTimeout (0 = Node defaults/off). */
  readonly socketTimeoutMs: number;
  /** `buffer-size`: `maxHeaderSize` (a larger request head is answered 431). */
  readonly bufferSize: number;
  /** `listen`: the backlog of the inherited sockets. */
  readonly backlog: number;
}

/** The worker's HTTP servers. */
export class HttpFrontend {
  private readonly servers: http.Server[] = [];
  private readonly inFlight = new Set<ServerResponse>();
  private draining = false;
  /** Every open client connection, with the time its last response ended (or it connected). */
  private readonly connections = new Map<Socket, number>();
  private idleSweep: NodeJS.Timeout | undefined;

  /**
   * @param listener the request pipeline (dispatch.ts)
   * @param options timeouts and header size limit
   */
  constructor(
    private readonly listener: (req: IncomingMessage, res: ServerResponse) => void,
    private readonly options: FrontendOptions,
  ) {}

  /** Requests being served right now. */
  get inFlightCount(): number {
    return this.inFlight.size;
  }

  /** Starts serving on each inherited listening socket; resolves once all are listening. */
  async listen(fds: readonly number[]): Promise<void> {
    await Promise.all(fds.map((fd) => this.listenOne(fd)));
  }

  /**
   * Graceful stop: closes the listeners, marks in-flight responses `Connection: close`, closes idle
   * keep-alive connections now and busy ones when their response ends. Resolves when no connection is left.
   */
  stopGracefully(): Promise<void> {
    this.draining = true;
    for (const res of this.inFlight) markLast(res);
    // net.Server's close: stop accepting, and call back once every connection has ended (see the header).
    const closed = this.servers.map((server) => new Promise<void>((resolve) => net.Server.prototype.close.call(server, () => resolve())));
    this.idleSweep = setInterval(() => this.closeIdle(IDLE_GRACE_MS), 100);
    this.idleSweep.unref();
    return Promise.all(closed).then(() => {
      if (this.idleSweep) clearInterval(this.idleSweep);
    });
  }

  private listenOne(fd: number): Promise<void> {
    const {socketTimeoutMs: t, bufferSize} = this.options;
    const server = http.createServer({
      maxHeaderSize: bufferSize,
      headersTimeout: t,
      requestTimeout: t,
      keepAliveTimeout: t > 0 ? t : 5000,
      // Node checks header/request timeouts on this period (30 s by default): keep it well under the timeout.
      connectionsCheckingInterval: t > 0 ? Math.min(30_000, Math.max(100, Math.floor(t / 4))) : 30_000,
    });
    server.on('request', (req: IncomingMessage, res: ServerResponse) => {
      this.inFlight.add(res);
      if (this.draining) markLast(res);
      res.once('close', () => {
        this.inFlight.delete(res);
        if (this.connections.has(req.socket)) this.connections.set(req.socket, performance.now());
      });
      this.listener(req, res);
    });
    server.on('connection', (socket: Socket) => {
      this.connections.set(socket, performance.now());
      socket.once('close', () => this.connections.delete(socket));
    });
    this.servers.push(server);
    return new Promise((resolve, reject) => {
      const onError = (err: Error): void => reject(new Error(`cannot serve HTTP on fd ${fd}: ${err.message}`));
      server.once('error', onError);
      server.listen({fd, backlog: this.options.backlog}, () => {
        server.off('error', onError);
        resolve();
      });
    });
  }

  /** Ends connections with no request in flight whose last response ended at least `graceMs` ago. */
  private closeIdle(graceMs: number): void {
    const busy = new Set<Socket>();
    for (const res of this.inFlight) if (res.socket) busy.add(res.socket);
    const now = performance.now();
    for (const [socket, lastActive] of this.connections) {
      if (!busy.has(socket) && now - lastActive >= graceMs) socket.end();
    }
  }
}

/** Asks Node to close the connection after this response (sends `Connection: close`) if the head is not out. */
function markLast(res: ServerResponse): void {
  if (!res.headersSent) res.setHeader('connection', 'close');
}
