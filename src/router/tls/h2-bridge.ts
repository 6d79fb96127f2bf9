/**
 * HTTP/2 to clients (ALPN `h2` on the HTTPS listener), HTTP/1.1 to backends: each HTTP/2 stream becomes one
 * HTTP/1.1 exchange on the router's own front (`HttpFront.accept`), through a duplex that looks like a connection
 * carrying exactly one request with `Connection: close`:
 *
 *   h2 HEADERS ──► "GET /path HTTP/1.1 / Host: :authority / … / Connection: close" ──► ClientConnection (routing, pools,
 *   h2 DATA    ──► body bytes as they come (chunked when the client gave no content-length)   errors, access log)
 *   h2 response ◄── status + headers + DATA ◄── HTTP/1.1 response bytes, parsed back (response-head.ts, framing)
 *
 * So the router has one code path for every transport: the bridge only translates framing. Backpressure holds both
 * ways (a stream that cannot take more pauses the response; a front that stops reading pauses the stream).
 * Connection-specific headers (RFC 9113 §8.2.2) are dropped both ways; a header value with CR, LF or NUL resets
 * the stream (nghttp2 refuses them too; checked here again because the head is rebuilt as text).
 */
import {constants, createServer as createH2Server, type Http2Server, type IncomingHttpHeaders, type OutgoingHttpHeaders, type ServerHttp2Session, type ServerHttp2Stream} from 'node:http2';
import type {Socket} from 'node:net';
import {Duplex} from 'node:stream';
import type {TLSSocket} from 'node:tls';
import type {Logger} from '../../log/logger.js';
import {ChunkedDecoder} from '../chunked-decoder.js';
import type {HttpFront} from '../http-front.js';
import {findHeadEnd, MAX_HEAD_BYTES} from '../request-head.js';
import {parseResponseHead, type ResponseFraming} from '../response-head.js';

/** Headers that describe one HTTP/1.1 connection: never sent over HTTP/2, never taken from it. */
const CONNECTION_SPECIFIC = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade', 'http2-settings', 'te', 'host']);
const UNSAFE_TEXT = /[\r\n\0]/;
const LAST_CHUNK = Buffer.from('0\r\n\r\n', 'latin1');

/** The HTTP/2 server of a router process, fed the TLS connections that chose `h2`. */
export class H2Bridge {
  readonly #server: Http2Server;
  readonly #sessions = new Set<ServerHttp2Session>();

  constructor(front: HttpFront, log: Logger) {
    this.#server = createH2Server({settings: {maxConcurrentStreams: 128}});
    this.#server.on('stream', (stream: ServerHttp2Stream, headers: IncomingHttpHeaders) => {
      const socket = H2StreamSocket.open(stream, headers);
      // The front takes anything socket-shaped (a net.Socket, a TLSSocket, this duplex).
      if (socket !== undefined) front.accept(socket as unknown as Socket, true);
    });
    this.#server.on('session', (session: ServerHttp2Session) => {
      this.#sessions.add(session);
      session.once('close', () => this.#sessions.delete(session));
      session.on('error', () => session.destroy());
    });
    this.#server.on('sessionError', (error: Error) => log.debug('http/2 session error', {error: error.message}));
    this.#server.setTimeout(front.context.settings.keepaliveTimeoutMs);
  }

  /** Serves a TLS connection whose client chose `h2`. */
  accept(socket: TLSSocket): void {
    this.#server.emit('connection', socket);
  }

  /** Asks every session to finish its streams and close (GOAWAY). */
  close(): void {
    for (const session of this.#sessions) session.close();
  }
}

type ResponsePhase = 'head' | 'body' | 'done';

/** One HTTP/2 stream as a connection carrying one HTTP/1.1 request (what `ClientConnection` reads and writes). */
export class H2StreamSocket extends Duplex {
  readonly remoteAddress: string | undefined;
  readonly remotePort: number | undefined;
  readonly #stream: ServerHttp2Stream;
  readonly #headOnly: boolean;
  #phase: ResponsePhase = 'head';
  #buf: Buffer | undefined;
  #framing: ResponseFraming = {kind: 'close'};
  #remaining = 0;
  #decoder: ChunkedDecoder | undefined;
  #drainWaiter: (() => void) | undefined;

  /** The duplex for a new stream, or undefined when its headers cannot be carried (the stream is reset). */
  static open(stream: ServerHttp2Stream, headers: IncomingHttpHeaders): H2StreamSocket | undefined {
    const method = String(headers[':method'] ?? '');
    const path = String(headers[':path'] ?? '');
    const authority = String(headers[':authority'] ?? headers.host ?? '');
    let head = `${method} ${path} HTTP/1.1\r\nHost: ${authority}\r\n`;
    let unsafe = UNSAFE_TEXT.test(method) || UNSAFE_TEXT.test(path) || UNSAFE_TEXT.test(authority);
    for (const [name, value] of Object.entries(headers)) {
      if (name.startsWith(':') || CONNECTION_SPECIFIC.has(name) || value === undefined) continue;
      for (const item of Array.isArray(value) ? value : [value]) {
        if (UNSAFE_TEXT.test(name) || UNSAFE_TEXT.test(item)) unsafe = true;
        head += `${name}: ${item}\r\n`;
      }
    }
    if (unsafe) {
      stream.close(constants.NGHTTP2_PROTOCOL_ERROR);
      return undefined;
    }
    const chunkedBody = headers['content-length'] === undefined && !stream.endAfterHeaders;
    if (chunkedBody) head += 'Transfer-Encoding: chunked\r\n';
    return new H2StreamSocket(stream, `${head}Connection: close\r\n\r\n`, method === 'HEAD', chunkedBody);
  }

  private constructor(stream: ServerHttp2Stream, head: string, headOnly: boolean, chunkedBody: boolean) {
    super({allowHalfOpen: true});
    this.#stream = stream;
    this.#headOnly = headOnly;
    const socket = stream.session?.socket;
    this.remoteAddress = socket?.remoteAddress;
    this.remotePort = socket?.remotePort;
    this.push(Buffer.from(head, 'latin1'));
    stream.on('data', (chunk: Buffer) => {
      const framed = chunkedBody ? Buffer.concat([Buffer.from(`${chunk.length.toString(16)}\r\n`, 'latin1'), chunk, Buffer.from('\r\n', 'latin1')]) : chunk;
      if (chunk.length > 0 && !this.push(framed)) stream.pause();
    });
    stream.on('end', () => {
      if (chunkedBody) this.push(LAST_CHUNK);
      this.push(null);
    });
    stream.on('drain', () => {
      const waiter = this.#drainWaiter;
      this.#drainWaiter = undefined;
      waiter?.();
    });
    stream.on('error', () => this.destroy());
    stream.on('close', () => {
      if (!this.destroyed) this.destroy();
    });
  }

  /** What ClientConnection calls on a socket. */
  setNoDelay(): this {
    return this;
  }

  override _read(): void {
    this.#stream.resume();
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, done: (error?: Error | null) => void): void {
    const more = this.#response(chunk);
    if (more) done();
    else this.#drainWaiter = () => done();
  }

  override _final(done: (error?: Error | null) => void): void {
    const stream = this.#stream;
    if (this.#phase === 'body' && this.#framing.kind === 'close' && !stream.closed) stream.end();
    else if (this.#phase !== 'done' && !stream.closed) stream.close(constants.NGHTTP2_INTERNAL_ERROR);
    this.#phase = 'done';
    done();
  }

  override _destroy(error: Error | null, done: (error: Error | null) => void): void {
    const stream = this.#stream;
    if (this.#phase !== 'done' && !stream.closed) stream.close(constants.NGHTTP2_INTERNAL_ERROR);
    this.#phase = 'done';
    const waiter = this.#drainWaiter;
    this.#drainWaiter = undefined;
    waiter?.();
    done(error);
  }

  /** Translates HTTP/1.1 response bytes; false when the stream cannot take more for now. */
  #response(chunk: Buffer): boolean {
    if (this.#phase === 'done') return true;
    if (this.#phase === 'body') return this.#body(chunk, 0);
    const buf = this.#buf === undefined ? chunk : Buffer.concat([this.#buf, chunk]);
    const end = findHeadEnd(buf, 0, buf.length);
    if (end === -1) {
      if (buf.length > MAX_HEAD_BYTES) this.destroy();
      else this.#buf = buf;
      return true;
    }
    this.#buf = undefined;
    const parsed = parseResponseHead(buf.toString('latin1', 0, end), this.#headOnly);
    if (typeof parsed === 'string') {
      this.destroy();
      return true;
    }
    // 100 Continue and friends: the real response follows (HTTP/2 clients need no interim answer to send a body).
    if (parsed.status < 200) return end < buf.length ? this.#response(buf.subarray(end)) : true;
    const headers: OutgoingHttpHeaders = {':status': parsed.status};
    for (const line of parsed.lines.split('\r\n').slice(1)) {
      const colon = line.indexOf(':');
      if (colon <= 0) continue;
      const name = line.slice(0, colon).toLowerCase();
      if (CONNECTION_SPECIFIC.has(name)) continue;
      const value = line.slice(colon + 1).trim();
      const previous = headers[name];
      headers[name] = previous === undefined ? value : Array.isArray(previous) ? [...previous, value] : [String(previous), value];
    }
    this.#framing = parsed.framing;
    const none = parsed.framing.kind === 'none';
    try {
      this.#stream.respond(headers, {endStream: none});
    } catch {
      this.destroy();
      return true;
    }
    if (none) {
      this.#phase = 'done';
      return true;
    }
    this.#phase = 'body';
    if (parsed.framing.kind === 'length') this.#remaining = parsed.framing.length;
    if (parsed.framing.kind === 'chunked') this.#decoder = new ChunkedDecoder();
    return end < buf.length ? this.#body(buf, end) : true;
  }

  #body(buf: Buffer, start: number): boolean {
    const stream = this.#stream;
    const framing = this.#framing;
    let more = true;
    let complete = false;
    if (framing.kind === 'length') {
      const take = Math.min(this.#remaining, buf.length - start);
      this.#remaining -= take;
      if (take > 0) more = stream.write(start === 0 && take === buf.length ? buf : buf.subarray(start, start + take));
      complete = this.#remaining === 0;
    } else if (framing.kind === 'chunked') {
      const decoder = this.#decoder as ChunkedDecoder;
      decoder.onData = (data, from, to) => {
        more = stream.write(data.subarray(from, to)) && more;
      };
      if (decoder.feed(buf, start, buf.length) < 0) {
        this.destroy();
        return true;
      }
      complete = decoder.done;
    } else {
      more = stream.write(start === 0 ? buf : buf.subarray(start));
    }
    if (complete) {
      this.#phase = 'done';
      stream.end();
    }
    return more;
  }
}
