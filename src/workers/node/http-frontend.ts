/**
 * The HTTP servers of the worker: one `http.Server` per inherited `http` listening socket (`listen({fd})`),
 * all sharing the request listener, plus the graceful stop of SIGHUP: stop accepting, let in-flight requests
 * finish (their responses get `Connection: close` when the head is not out yet), close keep-alive
 * connections as soon as they are idle, resolve when every connection is gone.
 */
import http from 'node:http';
import type {IncomingMessage, ServerResponse} from 'node:http';

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
  private idleSweepScheduled = false;

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
    const closed = this.servers.map((server) => new Promise<void>((resolve) => server.close(() => resolve())));
    this.sweepIdle();
    return Promise.all(closed).then(() => undefined);
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
        if (this.draining) this.sweepIdle();
      });
      this.listener(req, res);
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

  /** Closes connections that are idle (between keep-alive requests); batched per event-loop turn. */
  private sweepIdle(): void {
    if (this.idleSweepScheduled) return;
    this.idleSweepScheduled = true;
    setImmediate(() => {
      this.idleSweepScheduled = false;
      for (const server of this.servers) server.closeIdleConnections();
    });
  }
}

/** Asks Node to close the connection after this response (sends `Connection: close`) if the head is not out. */
function markLast(res: ServerResponse): void {
  if (!res.headersSent) res.setHeader('connection', 'close');
}
