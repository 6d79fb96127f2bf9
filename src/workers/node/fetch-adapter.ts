/**
 * Bridges Node's http objects and the web-standard fetch API for `{fetch}` apps: an IncomingMessage becomes a
 * `Request` whose body streams from the socket (no buffering), and a `Response` is written to the
 * ServerResponse chunk by chunk with backpressure. The request's `signal` aborts when the client goes away,
 * and the response body is cancelled then.
 */
import type {IncomingMessage, ServerResponse} from 'node:http';
import {Readable} from 'node:stream';

/** `fetch()` returned something that is not a Response. */
export class BadResponseError extends Error {
  override readonly name = 'BadResponseError';
}

/** Builds the `Request` for `req`; `signal` aborts when the response closes before it finished. */
export function toRequest(req: IncomingMessage, res: ServerResponse): Request {
  const controller = new AbortController();
  res.once('close', () => {
    if (!res.writableFinished) controller.abort(new Error('client disconnected'));
  });

  const headers = new Headers();
  const raw = req.rawHeaders;
  for (let i = 0; i + 1 < raw.length; i += 2) {
    try {
      headers.append(raw[i]!, raw[i + 1]!);
    } catch {
      // a header undici refuses (invalid name/value): drop it rather than the request
    }
  }

  const method = req.method ?? 'GET';
  const init: RequestInit & {duplex?: 'half'} = {method, headers, signal: controller.signal};
  if (method !== 'GET' && method !== 'HEAD') {
    init.body = Readable.toWeb(req) as unknown as ReadableStream<Uint8Array>;
    init.duplex = 'half';
  }
  return new Request(requestUrl(req), init);
}

/** The absolute URL of `req`: `http://` + Host (or the local address) + the request target. */
export function requestUrl(req: IncomingMessage): string {
  const target = req.url ?? '/';
  if (/^https?:\/\//i.test(target)) return target; // absolute-form (proxy requests)
  const host = req.headers.host ?? localHost(req);
  const path = target.startsWith('/') ? target : `/${target}`;
  try {
    return new URL(`http://${host}${path}`).href;
  } catch {
    return new URL(`http://${localHost(req)}${path}`).href;
  }
}

function localHost(req: IncomingMessage): string {
  const addr = req.socket.localAddress ?? '127.0.0.1';
  const port = req.socket.localPort;
  const host = addr.includes(':') ? `[${addr}]` : addr;
  return port === undefined ? host : `${host}:${port}`;
}

/** Duck-typed Response check (a polyfilled or cross-realm Response is fine). */
export function isResponse(value: unknown): value is Response {
  if (value instanceof Response) return true;
  if (value === null || typeof value !== 'object') return false;
  const v = value as Record<string, unknown>;
  return typeof v['status'] === 'number' && v['headers'] instanceof Headers && 'body' in v;
}

/**
 * Writes `response` to `res`: status, headers (every Set-Cookie kept apart) and the body streamed with
 * backpressure. Resolves when the response is complete or the client went away.
 * @throws BadResponseError when `response` is not a Response; any error of the body stream
 */
export async function sendResponse(response: unknown, req: IncomingMessage, res: ServerResponse): Promise<void> {
  if (!isResponse(response)) {
    throw new BadResponseError(`fetch() must return a Response, got ${response === null ? 'null' : typeof response}`);
  }
  res.statusCode = response.status;
  if (response.statusText) res.statusMessage = response.statusText;
  for (const [name, value] of response.headers) {
    if (name === 'set-cookie') continue;
    res.setHeader(name, value);
  }
  const cookies = response.headers.getSetCookie();
  if (cookies.length > 0) res.setHeader('set-cookie', cookies);

  const body = response.body;
  const noBody = req.method === 'HEAD' || response.status === 204 || response.status === 304 || (response.status >= 100 && response.status < 200);
  if (body === null || noBody) {
    if (body !== null) await body.cancel().catch(() => undefined);
    res.end();
    return;
  }

  const reader = body.getReader();
  const onClose = (): void => {
    if (!res.writableFinished) reader.cancel(new Error('client disconnected')).catch(() => undefined);
  };
  res.once('close', onClose);
  try {
    // A slow first chunk (SSE, long poll): send the head at once rather than with the first chunk.
    let pending = reader.read();
    if ((await settledThisTurn(pending)) === undefined && !res.headersSent) res.flushHeaders();
    let chunk = await pending;
    if (!chunk.done && !res.headersSent) {
      // A body that is one chunk (a string, JSON, a buffer) gets a Content-Length instead of chunked encoding.
      pending = reader.read();
      const next = await settledThisTurn(pending);
      if (next?.done === true && !res.hasHeader('content-length') && !res.hasHeader('transfer-encoding')) {
        res.setHeader('content-length', chunk.value.byteLength);
        res.end(chunk.value);
        return;
      }
      res.write(chunk.value);
      chunk = await pending;
    }
    while (!chunk.done) {
      if (res.destroyed) return;
      if (!res.write(chunk.value)) await drainOrClose(res);
      chunk = await reader.read();
    }
    if (!res.destroyed) res.end();
  } finally {
    res.off('close', onClose);
    try {
      reader.releaseLock();
    } catch {
      // a read still pending after the client left: nothing to release it for
    }
  }
}

/** The value of `promise` if it settles within this event-loop turn, else undefined (it keeps running). */
function settledThisTurn<T>(promise: Promise<T>): Promise<T | undefined> {
  return Promise.race([promise, new Promise<undefined>((r) => setImmediate(() => r(undefined)))]);
}

/** Resolves on the response's next 'drain' or its 'close', removing both listeners. */
function drainOrClose(res: ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      res.off('drain', done);
      res.off('close', done);
      resolve();
    };
    res.on('drain', done);
    res.on('close', done);
  });
}
