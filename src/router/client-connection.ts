/**
 * One client connection of the HTTP front: reads request heads strictly, frames request bodies, runs one exchange
 * at a time (pipelined requests wait their turn), keeps the connection alive between requests, and enforces the
 * client-side timeouts. Works on any `net.Socket`, a `tls.TLSSocket` included, so a TLS listener hands its
 * connections here unchanged (`secure` sets X-Forwarded-Proto).
 *
 *   idle ──first byte──► head ──complete head──► body ──last body byte──► waiting ──response done──► idle
 *     │                   │                       │                        │           (keep-alive)
 *     │ keepalive-timeout │ headers-timeout: 408   │ body-timeout: 408       │ 101 Switching Protocols
 *     ▼                   ▼ bad head: 400         ▼                        ▼
 *   closed ◄──────────────┴───────────────────────┴──────── close ──────── tunnel (bytes both ways)
 *
 * A head without a body goes straight from head to waiting. `idle` and `head` connections are the ones the front
 * may close to make room when the connection cap is reached (nginx does the same with idle keep-alive connections).
 */
import type {Socket} from 'node:net';
import {ChunkedDecoder} from './chunked-decoder.js';
import {failureResponse, type RouterFailure} from './error-page.js';
import {Exchange} from './exchange.js';
import type {FrontContext} from './front-context.js';
import {findHeadEnd, isHeadError, MAX_HEAD_BYTES, parseRequestHead, type RequestHead} from './request-head.js';
import {directWrite, pendingWriteBytes} from './direct-write.js';
import type {EvictLinks} from './evict-queue.js';
import {readShared} from './shared-read.js';
import type {LocalAnswer} from './tls/local-answers.js';
import type {UpstreamConnection, UpstreamListener} from './upstream-pool.js';
import {unknownState} from '../util/unreachable.js';

export type ClientPhase = 'idle' | 'head' | 'body' | 'waiting' | 'tunnel' | 'closed';

/** What a connection tells the front that holds it. */
export interface ConnectionRegistry {
  /** The connection may be closed to make room (idle or reading a head). */
  markIdle(connection: ClientConnection): void;
  /** The connection has a request in flight. */
  markBusy(connection: ClientConnection): void;
  closed(connection: ClientConnection): void;
}

/** Pipelined bytes held while a request is in flight; past this the connection stops reading. */
const MAX_PIPELINED_BYTES = 64 * 1024;

export class ClientConnection implements EvictLinks<ClientConnection> {
  readonly socket: Socket;
  /** The client's address, for X-Forwarded-For and the access log. */
  readonly remote: string;
  /** The client came over TLS (X-Forwarded-Proto, HTTPS redirects, the uwsgi protocol's HTTPS var). */
  readonly secure: boolean;
  readonly #ctx: FrontContext;
  readonly #registry: ConnectionRegistry;
  #phase: ClientPhase = 'idle';
  #pending: Buffer | undefined;
  #exchange: Exchange | undefined;
  #bodyRemaining = 0;
  #bodyDecoder: ChunkedDecoder | undefined;
  #consuming = false;
  #ended = false;
  #paused = false;
  #writeStalledSince = 0;
  #tunnelPeer: UpstreamConnection | undefined;
  /** When the current client-side wait ends (ms since the epoch). */
  deadline: number;
  /** The front's evict queue (evict-queue.ts) links it through these. */
  evictPrev: ClientConnection | undefined = undefined;
  evictNext: ClientConnection | undefined = undefined;
  evictQueued = false;

  constructor(socket: Socket, secure: boolean, ctx: FrontContext, registry: ConnectionRegistry, now: number) {
    this.socket = socket;
    this.secure = secure;
    this.#ctx = ctx;
    this.#registry = registry;
    const remote = socket.remoteAddress ?? 'unknown';
    this.remote = remote.startsWith('::ffff:') ? remote.slice(7) : remote;
    // A new connection must send its head within headers-timeout, as nginx's client_header_timeout.
    this.deadline = now + ctx.settings.headersTimeoutMs;
    socket.setNoDelay(true);
    // Reads land in a shared buffer (shared-read.ts); where that cannot be, as 'data' events.
    if (!readShared(socket, (bytes, buffer) => this.#onData(buffer.subarray(0, bytes), true))) socket.on('data', (chunk: Buffer) => this.#onData(chunk, false));
    socket.on('end', () => this.#onEnd());
    socket.on('error', () => socket.destroy());
    socket.on('close', () => this.#onClose());
    socket.on('drain', this.#onDrain);
    registry.markIdle(this);
  }

  /** The client's socket can take more (its stream drained, or a direct write completed). */
  readonly #onDrain = (): void => {
    this.#writeStalledSince = 0;
    if (this.#tunnelPeer !== undefined) this.#tunnelPeer.socket.resume();
    else this.#exchange?.onClientDrain();
  };

  /** Writes response bytes to the client (direct-write.ts). False: wait for the drain (the exchange is told). */
  write(chunk: Buffer): boolean {
    return directWrite(this.socket, chunk, this.#onDrain);
  }

  get phase(): ClientPhase {
    return this.#phase;
  }

  /** `shared`: `chunk` is the shared read buffer, valid during this call only (what is kept is copied). */
  #onData(chunk: Buffer, shared: boolean): void {
    if (this.#phase === 'tunnel') {
      if (!(this.#tunnelPeer as UpstreamConnection).socket.write(shared ? Buffer.from(chunk) : chunk)) this.socket.pause();
      return;
    }
    if (this.#phase === 'closed') return;
    if (this.#pending !== undefined) {
      const buf = Buffer.concat([this.#pending, chunk]);
      this.#pending = undefined;
      return this.#consume(buf, Date.now(), false);
    }
    this.#consume(chunk, Date.now(), shared);
  }

  /** Bytes from `buf` to keep past this call: a copy when `buf` is the shared read buffer. */
  #keep(buf: Buffer, from: number, to: number, shared: boolean): Buffer {
    if (shared) return Buffer.from(buf.subarray(from, to));
    return from === 0 && to === buf.length ? buf : buf.subarray(from, to);
  }

  #consume(buf: Buffer, now: number, shared: boolean): void {
    this.#consuming = true;
    let offset = 0;
    try {
      while (offset < buf.length) {
        switch (this.#phase) {
          case 'idle':
            // The first byte of a request: from now on the head must be complete within headers-timeout.
            this.#phase = 'head';
            this.deadline = now + this.#ctx.settings.headersTimeoutMs;
            break;
          case 'head': {
            const end = findHeadEnd(buf, offset, buf.length);
            if (end === -1) {
              if (buf.length - offset > MAX_HEAD_BYTES) return this.#refuse({kind: 'bad-request', status: 431, reason: 'request head too large'});
              this.#pending = this.#keep(buf, offset, buf.length, shared);
              return;
            }
            const head = parseRequestHead(buf.toString('latin1', offset, end));
            offset = end;
            if (isHeadError(head)) return this.#refuse({kind: 'bad-request', status: head.status, reason: head.reason});
            this.#startExchange(head, now);
            break;
          }
          case 'body':
            offset = this.#readBody(buf, offset, now, shared);
            break;
          case 'waiting':
            this.#pending = this.#keep(buf, offset, buf.length, shared);
            if (this.#pending.length > MAX_PIPELINED_BYTES) this.pauseReading();
            return;
          case 'tunnel':
            (this.#tunnelPeer as UpstreamConnection).socket.write(this.#keep(buf, offset, buf.length, shared));
            return;
          case 'closed':
            return;
          default:
            throw unknownState(this.#phase, 'client phase');
        }
      }
    } finally {
      this.#consuming = false;
    }
  }

  #startExchange(head: RequestHead, now: number): void {
    // Answered here, the request body (if any) is not read: the connection closes after the answer.
    const keepAlive = head.keepAlive && head.body.kind === 'none';
    const answers = this.#ctx.answers;
    const challenge = answers.challenge(head, keepAlive);
    if (challenge !== undefined) return this.#answerLocally(head, challenge, keepAlive, now);
    const pool = this.#ctx.routing.http.lookup(head.host);
    if (pool === undefined) {
      this.sendFailure({kind: 'unknown-host', host: head.host === '' ? '(none)' : head.host}, keepAlive, head);
      this.#logLocal(head, 404, 0, now);
      return this.onExchangeDone(keepAlive);
    }
    if (pool.httpsRedirect && !this.secure) {
      const redirect = answers.redirect(head, keepAlive);
      if (redirect !== undefined) return this.#answerLocally(head, redirect, keepAlive, now);
    }
    let upstreamHead = `${head.method} ${head.target} HTTP/1.1\r\nHost: ${head.host}\r\n${head.forwardLines}X-Forwarded-For: ${head.forwardedFor === undefined ? this.remote : `${head.forwardedFor}, ${this.remote}`}\r\nX-Forwarded-Proto: ${this.secure ? 'https' : 'http'}\r\nX-Forwarded-Host: ${head.host}\r\n`;
    const body = head.body;
    if (body.kind === 'length') upstreamHead += `Content-Length: ${body.length}\r\n`;
    else if (body.kind === 'chunked') upstreamHead += 'Transfer-Encoding: chunked\r\n';
    if (head.upgrade !== undefined) upstreamHead += `Connection: upgrade\r\nUpgrade: ${head.upgrade}\r\n`;
    upstreamHead += '\r\n';
    const exchange = new Exchange(this, head, pool, this.#ctx, upstreamHead, now);
    this.#exchange = exchange;
    this.#registry.markBusy(this);
    if (body.kind === 'length') {
      this.#bodyRemaining = body.length;
      this.#phase = 'body';
      this.deadline = now + this.#ctx.settings.bodyTimeoutMs;
    } else if (body.kind === 'chunked') {
      this.#bodyDecoder = new ChunkedDecoder();
      this.#phase = 'body';
      this.deadline = now + this.#ctx.settings.bodyTimeoutMs;
    } else {
      this.#phase = 'waiting';
      this.deadline = Infinity;
    }
    exchange.start(now);
  }

  /** Passes the body bytes in `buf[offset…]` to the exchange; returns the offset past them. */
  #readBody(buf: Buffer, offset: number, now: number, shared: boolean): number {
    const exchange = this.#exchange as Exchange;
    let take: number;
    let done: boolean;
    if (this.#bodyDecoder !== undefined) {
      take = this.#bodyDecoder.feed(buf, offset, buf.length);
      if (take < 0) {
        const reason = `invalid chunked body: ${this.#bodyDecoder.error ?? ''}`;
        exchange.onClientClosed();
        this.#refuse({kind: 'bad-request', status: 400, reason});
        return buf.length;
      }
      done = this.#bodyDecoder.done;
    } else {
      take = Math.min(this.#bodyRemaining, buf.length - offset);
      this.#bodyRemaining -= take;
      done = this.#bodyRemaining === 0;
    }
    this.deadline = now + this.#ctx.settings.bodyTimeoutMs;
    if (take > 0 && !exchange.sendBody(this.#keep(buf, offset, offset + take, shared))) this.pauseReading();
    if (done) {
      this.#bodyDecoder = undefined;
      exchange.endBody();
      if (this.#phase === 'body') {
        this.#phase = 'waiting';
        this.deadline = Infinity;
      }
    }
    return offset + take;
  }

  /** Writes the router's own answer; returns its status. `keepAlive` false adds `Connection: close`. */
  sendFailure(failure: RouterFailure, keepAlive: boolean, head?: RequestHead): number {
    const method = head?.method ?? this.#exchange?.head.method;
    const response = failureResponse(failure, {close: !keepAlive, headOnly: method === 'HEAD'});
    if (!this.socket.destroyed) this.socket.write(response.text, 'latin1');
    return response.status;
  }

  /** Refuses the request on this connection and closes it (nothing after a bad head can be trusted). */
  #refuse(failure: RouterFailure): void {
    this.sendFailure(failure, false);
    this.#close();
  }

  /** The exchange is over: keep the connection for the next request, or close it (`now`: the caller's clock). */
  onExchangeDone(keepAlive: boolean, now = Date.now()): void {
    this.#exchange = undefined;
    if (this.#phase === 'closed' || this.#phase === 'tunnel') return;
    if (!keepAlive || this.#ended) return this.#close();
    this.#phase = 'idle';
    this.deadline = now + this.#ctx.settings.keepaliveTimeoutMs;
    this.#registry.markIdle(this);
    this.resumeReading();
    if (!this.#consuming && this.#pending !== undefined) {
      const buf = this.#pending;
      this.#pending = undefined;
      this.#consume(buf, now, false);
    }
  }

  /** The backend switched protocols: from now on bytes go both ways untouched. */
  startTunnel(peer: UpstreamConnection, response: Buffer): void {
    this.#exchange = undefined;
    this.#phase = 'tunnel';
    this.#tunnelPeer = peer;
    this.deadline = Infinity;
    const client = this.socket;
    const listener: UpstreamListener = {
      onUpstreamConnect: () => undefined,
      onUpstreamData: (chunk) => {
        if (!client.write(chunk)) peer.socket.pause();
      },
      onUpstreamEnd: () => client.end(),
      onUpstreamError: () => client.destroy(),
      onUpstreamDrain: () => client.resume(),
    };
    peer.acquire(listener);
    client.write(response);
    if (this.#pending !== undefined) {
      peer.socket.write(this.#pending);
      this.#pending = undefined;
    }
    this.resumeReading();
  }

  pauseReading(): void {
    if (this.#paused) return;
    this.#paused = true;
    this.socket.pause();
  }

  resumeReading(): void {
    if (!this.#paused) return;
    this.#paused = false;
    this.socket.resume();
  }

  /** Called by the front's once-a-second sweep. */
  checkTimeout(now: number): void {
    switch (this.#phase) {
      case 'idle':
        if (now > this.deadline) this.destroy();
        return;
      case 'head':
        if (now > this.deadline) this.#refuse({kind: 'timeout', status: 408, reason: 'request head not received within the headers timeout'});
        return;
      case 'body':
        if (now > this.deadline) {
          this.#exchange?.onClientClosed();
          this.#refuse({kind: 'timeout', status: 408, reason: 'request body stalled for longer than the body timeout'});
          return;
        }
        break;
      case 'waiting':
        break;
      case 'tunnel':
        return;
      case 'closed':
        if (now > this.deadline) this.destroy();
        return;
      default:
        throw unknownState(this.#phase, 'client phase');
    }
    const exchange = this.#exchange;
    if (exchange !== undefined && now > exchange.deadline) exchange.onTimeout(now);
    // A client that does not read its response holds the backend connection: as nginx's send_timeout.
    if (pendingWriteBytes(this.socket) > 0) {
      if (this.#writeStalledSince === 0) this.#writeStalledSince = now;
      else if (now - this.#writeStalledSince > this.#ctx.settings.bodyTimeoutMs) this.destroy();
    } else {
      this.#writeStalledSince = 0;
    }
  }

  #onEnd(): void {
    this.#ended = true;
    // A client that half-closes still gets the answer to a request in flight, then the connection closes.
    if (this.#phase === 'idle' || this.#phase === 'head') this.#close();
    else if (this.#phase === 'tunnel') this.#tunnelPeer?.socket.end();
  }

  #close(): void {
    if (this.#phase === 'closed') return;
    this.#phase = 'closed';
    this.#pending = undefined;
    this.socket.end();
    // end() waits for the client to close its side; a client that never does is cut off with the sweep.
    this.deadline = Date.now() + 5_000;
  }

  /** Closes at once (eviction, timeouts, shutdown). */
  destroy(): void {
    this.socket.destroy();
  }

  #onClose(): void {
    this.#phase = 'closed';
    this.#exchange?.onClientClosed();
    this.#exchange = undefined;
    this.#tunnelPeer?.destroy();
    this.#registry.closed(this);
  }

  #answerLocally(head: RequestHead, answer: LocalAnswer, keepAlive: boolean, now: number): void {
    if (!this.socket.destroyed) this.socket.write(answer.text, 'latin1');
    this.#logLocal(head, answer.status, answer.bodyBytes, now);
    this.onExchangeDone(keepAlive);
  }

  #logLocal(head: RequestHead, status: number, bodyBytes: number, now: number): void {
    this.#ctx.accessLog?.add({remote: this.remote, method: head.method, target: head.target, minor: head.minor, status, bodyBytes, referer: head.referer, userAgent: head.userAgent, host: head.host, startedAt: now}, now);
  }
}
