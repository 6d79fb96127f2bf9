/**
 * One proxied request over the uwsgi protocol, to a node that announced a uWSGI `socket` (subscriptions with
 * modifier1 0): the request becomes a vars packet (CGI names, as nginx's `uwsgi_params` and uWSGI's own HTTP router
 * send them) followed by the body; the node answers with a plain HTTP response and closes (UWSGI-REFERENCE §13).
 *
 * The answer is parsed by Node's own HTTP client: `uwsgiRequest` returns a real `ClientRequest` whose connection is
 * a stream that reads the node's bytes and swallows what the client would have written, while the packet and the
 * body go straight to the node's socket. So status, headers, chunked or read-to-close bodies are handled exactly as
 * for an HTTP upstream, and the caller treats both kinds alike ('response', 'error').
 *
 * A request body is streamed when its length is known; a chunked body is collected first (up to `maxBufferedBody`,
 * else 413), because the uwsgi protocol carries the body length in CONTENT_LENGTH before the body.
 */
import {request, type ClientRequest, type IncomingMessage} from 'node:http';
import {connect, type Socket} from 'node:net';
import {Duplex} from 'node:stream';
import {encodePacket, MAX_VARS_BYTES, MODIFIER1, varsSize} from '../protocol/uwsgi-packet.js';
import {normalizeHost} from './route-table.js';

export interface UwsgiTarget {
  readonly address: {host: string; port: number} | {socketPath: string};
  readonly modifier1?: number;
  readonly modifier2?: number;
}

/** Why the request could not be sent (answered by the caller with this status). */
export class UwsgiRequestRefused extends Error {
  constructor(readonly status: 413 | 431, message: string) {
    super(message);
  }
}

/** The CGI vars of a request, in the order nginx's uwsgi_params sends them, then the headers. */
export function uwsgiVars(req: IncomingMessage, {bodyLength, upgrade = false}: {bodyLength: number | undefined; upgrade?: boolean}): [string, string | Buffer][] {
  const url = req.url ?? '/';
  const question = url.indexOf('?');
  const rawPath = question === -1 ? url : url.slice(0, question);
  const encrypted = 'encrypted' in req.socket && req.socket.encrypted === true;
  const host = req.headers.host ?? '';
  const serverName = normalizeHost(host);
  const portMatch = /:(\d+)$/.exec(host.startsWith('[') ? host.slice(host.indexOf(']') + 1) : host);
  const vars: [string, string | Buffer][] = [
    ['QUERY_STRING', question === -1 ? '' : url.slice(question + 1)],
    ['REQUEST_METHOD', req.method ?? 'GET'],
    ['CONTENT_TYPE', headerText(req.headers['content-type'])],
    ['CONTENT_LENGTH', bodyLength === undefined || bodyLength === 0 ? '' : String(bodyLength)],
    ['REQUEST_URI', url],
    ['PATH_INFO', decodePath(rawPath)],
    ['DOCUMENT_ROOT', ''],
    ['SERVER_PROTOCOL', req.httpVersionMajor === 2 ? 'HTTP/2' : `HTTP/${req.httpVersion}`],
    ['REQUEST_SCHEME', encrypted ? 'https' : 'http'],
    ...(encrypted ? [['HTTPS', 'on'] as [string, string]] : []),
    ['REMOTE_ADDR', (req.socket.remoteAddress ?? '').replace(/^::ffff:/, '')],
    ['REMOTE_PORT', String(req.socket.remotePort ?? '')],
    ['SERVER_PORT', portMatch?.[1] ?? (encrypted ? '443' : '80')],
    ['SERVER_NAME', serverName],
  ];
  for (const [name, value] of Object.entries(req.headers)) {
    if (value === undefined || name.startsWith(':') || name === 'content-type' || name === 'content-length') continue;
    // Hop-by-hop: the node sees one request on one connection it closes (an upgrade keeps Connection and Upgrade).
    if (!upgrade && (name === 'connection' || name === 'upgrade')) continue;
    if (name === 'keep-alive' || name === 'transfer-encoding' || name === 'te') continue;
    const cgi = `HTTP_${name.toUpperCase().replace(/-/g, '_')}`;
    vars.push([cgi, Array.isArray(value) ? value.join(name === 'cookie' ? '; ' : ', ') : value]);
  }
  return vars;
}

/**
 * Starts the request to the node. The returned ClientRequest emits 'response' with the node's answer or 'error'
 * (ECONNREFUSED, ETIMEDOUT, a UwsgiRequestRefused for a request too large to carry). The caller must not write to
 * it: the body is sent here.
 */
export function uwsgiRequest(req: IncomingMessage, target: UwsgiTarget, {timeoutMs, maxBufferedBody = 8 * 1024 * 1024}: {timeoutMs: number; maxBufferedBody?: number}): ClientRequest {
  const socket: Socket = 'socketPath' in target.address ? connect({path: target.address.socketPath}) : connect({host: target.address.host, port: target.address.port});
  const wire = new NodeWire(socket);
  const client = request({createConnection: () => wire as unknown as Socket, method: req.method, path: '/', headers: {}, setHost: false});
  client.end();
  socket.setTimeout(timeoutMs, () => socket.destroy(Object.assign(new Error('no answer within the upstream timeout'), {code: 'ETIMEDOUT'})));
  const send = (bodyLength: number | undefined, buffered: Buffer | undefined): void => {
    const vars = uwsgiVars(req, {bodyLength});
    if (varsSize(vars) > MAX_VARS_BYTES) {
      socket.destroy(new UwsgiRequestRefused(431, 'request headers larger than the 64 KiB a uwsgi packet carries'));
      return;
    }
    socket.write(encodePacket(target.modifier1 ?? MODIFIER1.REQUEST, target.modifier2 ?? 0, vars));
    if (buffered !== undefined) socket.write(buffered);
    else if (bodyLength !== undefined && bodyLength > 0) req.pipe(socket, {end: false});
  };
  const declared = req.headers['content-length'];
  if (req.headers['transfer-encoding'] === undefined) {
    send(declared === undefined ? undefined : Number(declared), undefined);
  } else {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > maxBufferedBody) {
        req.removeAllListeners('data');
        socket.destroy(new UwsgiRequestRefused(413, `a chunked body over ${maxBufferedBody} bytes cannot be sent over the uwsgi protocol`));
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => {
      if (!socket.destroyed) send(size, Buffer.concat(chunks, size));
    });
  }
  return client;
}

/**
 * The "socket" the HTTP client sees: reads come from the node, writes (the client's own request bytes) are dropped.
 * Closing either side closes both.
 */
class NodeWire extends Duplex {
  readonly #socket: Socket;

  constructor(socket: Socket) {
    super();
    this.#socket = socket;
    socket.on('data', (chunk: Buffer) => {
      if (!this.push(chunk)) socket.pause();
    });
    socket.on('end', () => this.push(null));
    socket.on('error', (error) => this.destroy(error));
    socket.on('close', () => {
      if (!this.destroyed) this.push(null);
    });
  }

  override _read(): void {
    this.#socket.resume();
  }

  override _write(_chunk: unknown, _encoding: BufferEncoding, done: (error?: Error | null) => void): void {
    done();
  }

  override _destroy(error: Error | null, done: (error: Error | null) => void): void {
    this.#socket.destroy();
    done(error);
  }

  // What ClientRequest calls on a socket.
  setTimeout(): this {
    return this;
  }
  setNoDelay(): this {
    return this;
  }
  setKeepAlive(): this {
    return this;
  }
  ref(): this {
    return this;
  }
  unref(): this {
    return this;
  }
}

function headerText(value: string | string[] | undefined): string {
  if (value === undefined) return '';
  return Array.isArray(value) ? value.join(', ') : value;
}

/** PATH_INFO is the path with %XX decoded to bytes (not UTF-8 text: the app decides), as uWSGI's router does. */
function decodePath(raw: string): Buffer {
  if (!raw.includes('%')) return Buffer.from(raw, 'latin1');
  const bytes: number[] = [];
  for (let i = 0; i < raw.length; i += 1) {
    const hex = raw[i] === '%' ? raw.slice(i + 1, i + 3) : '';
    if (/^[0-9a-fA-F]{2}$/.test(hex)) {
      bytes.push(parseInt(hex, 16));
      i += 2;
    } else {
      bytes.push(raw.charCodeAt(i) & 0xff);
    }
  }
  return Buffer.from(bytes);
}
