/**
 * The per-request pipeline: accounts the request on the scoreboard, calls the app (Node handler, or fetch
 * through the fetch adapter), turns a throw/rejection/bad Response into a 500 (or a reset connection when the
 * head was already sent), and when the response closes writes the counters and the uWSGI request log line.
 */
import type {IncomingMessage, ServerResponse} from 'node:http';
import {sendResponse, toRequest} from './fetch-adapter.js';
import type {AppHandler} from './load-handler.js';
import type {Scoreboard} from './scoreboard.js';
import type {WorkerLog} from './worker-log.js';

/** What the pipeline needs. */
export interface DispatchDeps {
  readonly app: AppHandler;
  readonly scoreboard: Scoreboard;
  readonly log: WorkerLog;
}

/** Returns the `request` listener serving `deps.app`. */
export function createRequestListener(deps: DispatchDeps): (req: IncomingMessage, res: ServerResponse) => void {
  const {app, scoreboard, log} = deps;
  const pid = process.pid;

  return (req, res) => {
    const start = new Date();
    const t0 = process.hrtime.bigint();
    const ticket = scoreboard.begin(start.getTime() / 1000);
    const remote = stripMappedV4(req.socket.remoteAddress ?? '-');
    let exception = false;
    let closed = false;
    const bodyBytes = countBodyBytes(res);

    res.once('close', () => {
      closed = true;
      const durationUs = Number(process.hrtime.bigint() - t0) / 1000;
      const head = rawHead(res);
      const headBytes = head === undefined ? 0 : Buffer.byteLength(head, 'latin1');
      const aborted = !res.writableFinished;
      const body = req.method === 'HEAD' ? 0 : bodyBytes();
      scoreboard.end(ticket, {
        durationUs,
        txBytes: headBytes + body,
        exception,
        readError: aborted && !req.complete,
        writeError: aborted && req.complete,
      });
      let varBytes = 0;
      for (const field of req.rawHeaders) varBytes += Buffer.byteLength(field);
      log.request({
        pid,
        requestNumber: scoreboard.requestCount,
        remoteAddress: remote,
        varCount: req.rawHeaders.length / 2,
        varBytes,
        start,
        method: req.method ?? '-',
        uri: req.url ?? '-',
        bodyBytes: body,
        msecs: Math.floor(durationUs / 1000),
        httpVersion: req.httpVersion,
        status: res.statusCode,
        headerCount: head === undefined ? 0 : Math.max(0, head.split('\r\n').length - 3),
        headerBytes: headBytes,
        core: ticket.core,
      });
    });

    const fail = (err: unknown): void => {
      if (closed) {
        // The client left first; an AbortError from the request's signal is the app noticing, not a bug.
        if (err instanceof Error && err.name === 'AbortError') return;
        scoreboard.countException();
      } else {
        exception = true;
      }
      log.error(`[node app] exception in ${req.method ?? '-'} ${req.url ?? '-'} (pid: ${pid}):`, err);
      if (closed || res.writableEnded) return;
      if (res.headersSent) {
        res.destroy(); // half a response went out: only a reset tells the client it is broken
        return;
      }
      for (const name of res.getHeaderNames()) if (name !== 'connection') res.removeHeader(name);
      res.statusCode = 500;
      res.statusMessage = 'Internal Server Error';
      res.setHeader('content-type', 'text/plain; charset=utf-8');
      res.end('Internal Server Error\n');
    };

    try {
      if (app.kind === 'node') {
        const result = app.handle(req, res);
        if (isThenable(result)) result.then(undefined, fail);
      } else {
        Promise.resolve(app.fetch(toRequest(req, res)))
          .then((response) => sendResponse(response, req, res))
          .catch(fail);
      }
    } catch (err) {
      fail(err);
    }
  };
}

function isThenable(v: unknown): v is PromiseLike<unknown> {
  return v !== null && (typeof v === 'object' || typeof v === 'function') && typeof (v as {then?: unknown}).then === 'function';
}

/** The response head Node serialised (status line + headers + blank line), once sent. */
function rawHead(res: ServerResponse): string | undefined {
  const header = (res as unknown as {_header?: unknown})._header;
  return typeof header === 'string' ? header : undefined;
}

function stripMappedV4(addr: string): string {
  return addr.startsWith('::ffff:') && addr.includes('.') ? addr.slice(7) : addr;
}

type WriteFn = (chunk: unknown, encoding?: unknown, cb?: unknown) => boolean;
type EndFn = (chunk?: unknown, encoding?: unknown, cb?: unknown) => ServerResponse;

/** Wraps `res.write`/`res.end` to count body bytes; returns the counter's reader. */
function countBodyBytes(res: ServerResponse): () => number {
  let bytes = 0;
  const write = res.write as unknown as WriteFn;
  const end = res.end as unknown as EndFn;
  const count = (chunk: unknown, encoding: unknown): void => {
    if (typeof chunk === 'string') bytes += Buffer.byteLength(chunk, typeof encoding === 'string' ? (encoding as BufferEncoding) : 'utf8');
    else if (chunk instanceof Uint8Array) bytes += chunk.byteLength;
  };
  (res as unknown as {write: WriteFn}).write = function (this: ServerResponse, chunk, encoding, cb) {
    count(chunk, encoding);
    return write.call(this, chunk, encoding, cb);
  };
  (res as unknown as {end: EndFn}).end = function (this: ServerResponse, chunk, encoding, cb) {
    if (typeof chunk !== 'function' && !this.writableEnded) count(chunk, encoding);
    return end.call(this, chunk, encoding, cb);
  };
  return () => bytes;
}
