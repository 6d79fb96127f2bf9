/**
 * One request through the router: pick a member of the pool, send the request over a pooled connection, pass the
 * response back. Bodies stream both ways with backpressure; framing is checked on both sides (`request-head.ts`,
 * `response-head.ts`, `chunked-decoder.ts`), so a response ends exactly where its frame says, and a connection
 * whose backend said more than that is never reused.
 *
 *   connecting ──CONNECT──► sent ──response head──► responding ──last byte──► done (connection back to the pool)
 *       │                    │                          │
 *       │ refused            │ reset/EOF before any     │ reset/EOF mid-body
 *       ▼                    ▼ response byte            ▼
 *   retry on another member (passive health: the member is skipped for fail-timeout) ··· or 502/503/504 ··· abort
 *
 * Retries (nginx's proxy_next_upstream error): a refused connect is retried on another member whatever the method
 * (nothing was sent); a reset before the response is retried once when the method is idempotent and the body (up to
 * 64 KB) is still held. A failure on a reused keep-alive connection is the backend closing an idle connection, not
 * a dead backend: it is retried on a fresh connection without marking the member down.
 */
import {ChunkedDecoder} from './chunked-decoder.js';
import type {ClientConnection} from './client-connection.js';
import type {RouterFailure} from './error-page.js';
import {describeError} from './failure-log.js';
import type {FrontContext} from './front-context.js';
import {isServingState, type Member, type Pool} from './pool-table.js';
import {findHeadEnd, IDEMPOTENT_METHODS, MAX_HEAD_BYTES, type RequestHead} from './request-head.js';
import {parseResponseHead, type ResponseHead} from './response-head.js';
import {upstreamKey} from './hosts-and-upstreams.js';
import type {UpstreamConnection, UpstreamListener} from './upstream-pool.js';
import {dechunk, MAX_COLLECTED_BODY, uwsgiPacket} from './uwsgi-upstream.js';

/** Request bodies up to this size are held for a retry. */
const MAX_REPLAY_BYTES = 64 * 1024;
/** At most this many tries of one request. */
const MAX_TRIES = 4;

type ResponsePhase = 'head' | 'body' | 'done';

export class Exchange implements UpstreamListener {
  readonly #client: ClientConnection;
  readonly head: RequestHead;
  readonly #pool: Pool;
  readonly #ctx: FrontContext;
  readonly startedAt: number;
  readonly #upstreamHead: string;
  #member: Member | undefined;
  #conn: UpstreamConnection | undefined;
  #tried: Set<Member> | undefined;
  #tries = 0;
  #staleRetried = false;
  #requestWritten = false;
  #requestDone: boolean;
  /** Body bytes not yet written because the connection is still connecting (or a uwsgi node waits for all of them). */
  #queued: Buffer[] = [];
  #queuedBytes = 0;
  /** A uwsgi member waits for the whole chunked body before the packet (which says its length) can go. */
  #awaitingBody = false;
  /** The router sent `100 Continue` itself (uwsgi members). */
  #continued = false;
  /** Body bytes sent so far, for a retry; undefined once past MAX_REPLAY_BYTES. */
  #held: Buffer[] | undefined = [];
  #heldBytes = 0;
  #phase: ResponsePhase = 'head';
  #respBuf: Buffer | undefined;
  #response: ResponseHead | undefined;
  #remaining = 0;
  #decoder: ChunkedDecoder | undefined;
  /** Close-delimited response re-framed as chunked for an HTTP/1.1 client. */
  #rechunk = false;
  #upstreamReusable = true;
  #clientKeepAlive = false;
  #pausedUpstream = false;
  #finished = false;
  status = 0;
  bodyBytes = 0;
  /** When the backend must have said something (ms since the epoch); Infinity when not waiting on it. */
  deadline = Infinity;
  /** When the backend's latest bytes (or EOF) arrived: the clock of the response path (one Date.now() per read). */
  #now = 0;

  constructor(client: ClientConnection, head: RequestHead, pool: Pool, ctx: FrontContext, upstreamHead: string, now: number) {
    this.#client = client;
    this.head = head;
    this.#pool = pool;
    this.#ctx = ctx;
    this.#upstreamHead = upstreamHead;
    this.startedAt = now;
    this.#requestDone = head.body.kind === 'none';
  }

  get finished(): boolean {
    return this.#finished;
  }

  /** Picks a member and sends the request; answers 503 itself when no member can. */
  start(now: number): void {
    const member = this.#pool.pick(now, this.#tried);
    if (member === undefined) {
      const first = this.#pool.members[0];
      const cause = this.#tries > 0 ? 'every backend failed' : 'it is not running';
      return this.#fail({kind: 'unavailable', vassal: first?.vassal ?? this.#pool.domain, state: first?.state ?? 'unknown', cause});
    }
    this.#tries += 1;
    this.#member = member;
    member.active += 1;
    // A uwsgi node closes after each answer; an upgrade keeps its connection for itself.
    const fresh = member.protocol === 'uwsgi' || this.head.upgrade !== undefined || this.#staleRetried;
    const conn = fresh ? this.#ctx.upstreams.freshConnection(member, this) : this.#ctx.upstreams.connectionFor(member, this);
    this.#conn = conn;
    if (conn.isConnected) this.#writeRequest(now);
    else this.deadline = now + this.#ctx.settings.connectTimeoutMs;
  }

  /** Body bytes from the client (already checked against the framing). False: stop reading until `resumeReading`. */
  sendBody(chunk: Buffer): boolean {
    if (this.#held !== undefined) {
      this.#heldBytes += chunk.length;
      if (this.#heldBytes > MAX_REPLAY_BYTES) this.#held = undefined;
      else this.#held.push(chunk);
    }
    if (this.#finished) return true;
    if (this.#requestWritten && this.#conn !== undefined) return this.#conn.write(chunk);
    this.#queued.push(chunk);
    this.#queuedBytes += chunk.length;
    if (this.#awaitingBody && this.#queuedBytes > MAX_COLLECTED_BODY) {
      this.#conn?.destroy();
      this.#conn = undefined;
      this.#fail({kind: 'refused', status: 413, cause: `a chunked body over ${MAX_COLLECTED_BODY} bytes cannot be sent over the uwsgi protocol`});
    }
    return true;
  }

  /** The client sent the whole body. */
  endBody(): void {
    this.#requestDone = true;
    if (this.#awaitingBody && !this.#finished) {
      this.#awaitingBody = false;
      this.#writeUwsgiRequest(Date.now());
    }
  }

  onUpstreamConnect(): void {
    this.#writeRequest(Date.now());
  }

  #writeRequest(now: number): void {
    if ((this.#member as Member).protocol === 'uwsgi') return this.#writeUwsgiRequest(now);
    const conn = this.#conn as UpstreamConnection;
    this.#requestWritten = true;
    this.deadline = now + this.#ctx.settings.upstreamTimeoutMs;
    if (this.#queued.length === 0) {
      conn.write(this.#upstreamHead);
      return;
    }
    const socket = conn.socket;
    socket.cork();
    socket.write(this.#upstreamHead, 'latin1');
    let ok = true;
    for (const chunk of this.#queued) ok = socket.write(chunk);
    this.#queued = [];
    socket.uncork();
    if (!ok) this.#client.pauseReading();
  }

  /** The request as a uwsgi packet and its body; a chunked body is collected whole first (the packet says its length). */
  #writeUwsgiRequest(now: number): void {
    const head = this.head;
    const member = this.#member as Member;
    const socket = (this.#conn as UpstreamConnection).socket;
    const client = this.#client;
    // uWSGI does not answer Expect: 100-continue itself; the router does, as nginx does before reading a body.
    if (head.expectContinue && head.minor === 1 && head.body.kind !== 'none' && !this.#continued) {
      this.#continued = true;
      client.socket.write(CONTINUE);
    }
    if (head.body.kind === 'chunked' && !this.#requestDone) {
      this.#awaitingBody = true;
      this.deadline = Infinity; // the client's body timeout runs meanwhile
      return;
    }
    const collected = head.body.kind === 'chunked' ? dechunk(this.#queued) : undefined;
    const bodyLength = collected?.length ?? (head.body.kind === 'length' ? head.body.length : 0);
    const packet = uwsgiPacket(head, {remote: client.remote, remotePort: client.socket.remotePort, secure: client.secure}, member, bodyLength);
    if (packet === undefined) {
      this.#conn?.destroy();
      this.#conn = undefined;
      return this.#fail({kind: 'refused', status: 431, cause: 'request headers larger than the 64 KiB a uwsgi packet carries'}, member);
    }
    this.#requestWritten = true;
    this.deadline = now + this.#ctx.settings.upstreamTimeoutMs;
    socket.cork();
    socket.write(packet);
    let ok = true;
    if (collected !== undefined) ok = collected.length === 0 || socket.write(collected);
    else for (const chunk of this.#queued) ok = socket.write(chunk);
    this.#queued = [];
    this.#queuedBytes = 0;
    socket.uncork();
    if (!ok) this.#client.pauseReading();
  }

  onUpstreamDrain(): void {
    this.#client.resumeReading();
  }

  /** The client's socket drained: read from the backend again. */
  onClientDrain(): void {
    if (this.#pausedUpstream) {
      this.#pausedUpstream = false;
      this.#conn?.socket.resume();
    }
  }

  onUpstreamData(chunk: Buffer): void {
    if (this.#finished) return;
    const now = Date.now();
    this.#now = now;
    this.deadline = now + this.#ctx.settings.upstreamTimeoutMs;
    if (this.#phase === 'body') return this.#forwardBody(chunk, 0);
    if (this.#phase === 'head') return this.#readHead(this.#respBuf === undefined ? chunk : Buffer.concat([this.#respBuf, chunk]));
    this.#upstreamReusable = false; // bytes after the end of the response
  }

  #readHead(buf: Buffer): void {
    const end = findHeadEnd(buf, 0, buf.length);
    if (end === -1) {
      if (buf.length > MAX_HEAD_BYTES) return this.#badGateway('response head too large');
      this.#respBuf = buf;
      return;
    }
    this.#respBuf = undefined;
    const parsed = parseResponseHead(buf.toString('latin1', 0, end), this.head.method === 'HEAD');
    if (typeof parsed === 'string') return this.#badGateway(`invalid response: ${parsed}`);
    const client = this.#client.socket;
    if (parsed.status >= 100 && parsed.status < 200) {
      if (parsed.status === 101 && this.head.upgrade !== undefined) {
        this.status = 101;
        this.#finished = true;
        this.deadline = Infinity;
        (this.#member as Member).active -= 1;
        this.#log(this.#now);
        return this.#client.startTunnel(this.#conn as UpstreamConnection, buf);
      }
      // 100 Continue and friends: passed on (HTTP/1.1 clients), and the real response follows.
      if (this.head.minor === 1 && parsed.status !== 101) client.write(buf.subarray(0, end));
      if (end < buf.length) this.#readHead(buf.subarray(end));
      return;
    }
    this.#response = parsed;
    this.status = parsed.status;
    this.#phase = 'body';
    if (!parsed.reusable) this.#upstreamReusable = false;
    // A client still sending its body when the answer comes is not kept: its leftover bytes cannot be told apart.
    let keepAlive = this.head.keepAlive && this.#requestDone;
    const framing = parsed.framing;
    if (framing.kind === 'close') {
      if (keepAlive && this.head.minor === 1) this.#rechunk = true;
      else keepAlive = false;
    } else if (framing.kind === 'chunked') {
      this.#decoder = new ChunkedDecoder();
      if (this.head.minor === 0) {
        keepAlive = false;
        this.#decoder.onData = (data, from, to) => this.#write(data.subarray(from, to));
      }
    } else if (framing.kind === 'length') {
      this.#remaining = framing.length;
    }
    this.#clientKeepAlive = keepAlive;
    const asIs = parsed.minor === 1 && !parsed.hasHopByHop && !this.#rechunk && this.#decoder?.onData === undefined && keepAlive && this.head.minor === 1;
    if (asIs) {
      // The common case: the head goes out byte for byte, with the body bytes that came with it, in one write.
      return this.#forwardBody(buf, end, true);
    }
    let lines = parsed.lines;
    if (this.#decoder?.onData !== undefined) lines = lines.split('\r\n').filter((l) => !/^transfer-encoding:/i.test(l)).join('\r\n');
    if (this.#rechunk) lines += 'Transfer-Encoding: chunked\r\n';
    lines += keepAlive ? (this.head.minor === 0 ? 'Connection: keep-alive\r\n\r\n' : '\r\n') : 'Connection: close\r\n\r\n';
    client.cork();
    this.#write(Buffer.from(lines, 'latin1'));
    if (framing.kind === 'none') this.#finish();
    else if (end < buf.length) this.#forwardBody(buf, end);
    client.uncork();
  }

  /** Passes body bytes `buf[start…]` on; `withHead`: `buf[0, start)` is the head, sent in the same write. */
  #forwardBody(buf: Buffer, start: number, withHead = false): void {
    const framing = (this.#response as ResponseHead).framing;
    let take = buf.length - start;
    let complete = false;
    let data = take;
    switch (framing.kind) {
      case 'none':
        complete = true;
        take = data = 0;
        break;
      case 'length':
        take = data = Math.min(take, this.#remaining);
        this.#remaining -= take;
        complete = this.#remaining === 0;
        break;
      case 'chunked': {
        const decoder = this.#decoder as ChunkedDecoder;
        const before = decoder.dataBytes;
        take = decoder.feed(buf, start, buf.length);
        if (take < 0) return this.#abort(`invalid chunked response: ${decoder.error ?? ''}`);
        data = decoder.dataBytes - before;
        complete = decoder.done;
        break;
      }
      case 'close':
        break;
      default: {
        const never: never = framing;
        throw new Error(`Internal error: unknown framing ${JSON.stringify(never)}`);
      }
    }
    if (start + take < buf.length) this.#upstreamReusable = false; // more than the frame: never reuse
    this.bodyBytes += data;
    if (this.#decoder?.onData !== undefined) {
      // HTTP/1.0 client: the decoder wrote the data itself.
    } else if (this.#rechunk) {
      if (take > 0) {
        const client = this.#client.socket;
        client.cork();
        this.#write(Buffer.from(`${take.toString(16)}\r\n`, 'latin1'));
        this.#write(buf.subarray(start, start + take));
        this.#write(CRLF);
        client.uncork();
      }
    } else if (withHead) {
      this.#write(start + take === buf.length ? buf : buf.subarray(0, start + take));
    } else if (take > 0) {
      this.#write(start === 0 && take === buf.length ? buf : buf.subarray(start, start + take));
    }
    if (complete) this.#finish();
  }

  #write(chunk: Buffer): void {
    if (!this.#client.write(chunk) && !this.#pausedUpstream && this.#conn !== undefined) {
      this.#pausedUpstream = true;
      this.#conn.socket.pause();
    }
  }

  onUpstreamEnd(): void {
    if (this.#finished) return;
    this.#now = Date.now();
    if (this.#phase === 'body' && this.#response?.framing.kind === 'close') {
      this.#upstreamReusable = false;
      if (this.#rechunk) this.#write(LAST_CHUNK);
      return this.#finish();
    }
    this.onUpstreamError(Object.assign(new Error('connection closed by the backend'), {code: 'ECONNRESET'}));
  }

  onUpstreamError(error: NodeJS.ErrnoException): void {
    if (this.#finished) return;
    const member = this.#member as Member;
    const conn = this.#conn;
    this.#conn = undefined;
    conn?.destroy();
    if (this.#phase !== 'head' || this.#respBuf !== undefined) return this.#abort(`backend failed mid-response: ${describeError(error)}`);
    const now = Date.now();
    const stale = conn?.reused === true && this.#requestWritten && !this.#staleRetried;
    const replayable = this.#held !== undefined && (this.#requestDone || !this.#requestWritten);
    const idempotent = IDEMPOTENT_METHODS.has(this.head.method);
    const cause = describeError(error);
    member.active -= 1;
    this.#member = undefined;
    if (stale && replayable && idempotent) {
      this.#staleRetried = true;
      return this.#retry(now);
    }
    if (!stale) member.downUntil = now + this.#ctx.settings.failTimeoutMs;
    const canRetry = replayable && (!this.#requestWritten || idempotent) && this.#tries < MAX_TRIES;
    if (canRetry) {
      (this.#tried ??= new Set()).add(member);
      if (this.#pool.pick(now, this.#tried) !== undefined) {
        this.#ctx.failures.report({kind: 'bad-gateway', vassal: member.vassal, state: member.state, cause}, upstreamKey(member.upstream), {retried: true});
        return this.#retry(now);
      }
    }
    this.#fail({kind: 'bad-gateway', vassal: member.vassal, state: member.state, cause}, member);
  }

  #retry(now: number): void {
    this.#requestWritten = false;
    this.#queued = [...(this.#held ?? [])];
    this.#queuedBytes = this.#heldBytes;
    this.start(now);
  }

  /** The backend said nothing for too long. */
  onTimeout(now: number): void {
    if (this.#finished) return;
    const member = this.#member as Member;
    if (this.#phase === 'head' && this.#respBuf === undefined) {
      member.downUntil = now + this.#ctx.settings.failTimeoutMs;
      this.#conn?.destroy();
      this.#conn = undefined;
      const connecting = !this.#requestWritten;
      return this.#fail({kind: connecting ? 'bad-gateway' : 'gateway-timeout', vassal: member.vassal, state: member.state, cause: connecting ? 'connect timed out' : 'no answer within the upstream timeout'}, member);
    }
    this.#abort('no more bytes within the upstream timeout');
  }

  /** The client went away: stop the backend request (its connection is not reused). */
  onClientClosed(): void {
    if (this.#finished) return;
    this.#finished = true;
    this.status = this.status || 499;
    this.#conn?.destroy();
    if (this.#member !== undefined) this.#member.active -= 1;
    this.#log(Date.now());
  }

  #finish(): void {
    if (this.#finished) return;
    this.#finished = true;
    this.deadline = Infinity;
    const now = this.#now;
    (this.#member as Member).active -= 1;
    const conn = this.#conn as UpstreamConnection;
    if (this.#pausedUpstream) conn.socket.resume();
    if (this.#upstreamReusable && this.#requestDone && conn.member.protocol === 'http') conn.release(now);
    else conn.destroy();
    this.#log(now);
    this.#client.onExchangeDone(this.#clientKeepAlive, now);
  }

  #badGateway(cause: string): void {
    const member = this.#member as Member;
    this.#conn?.destroy();
    this.#conn = undefined;
    this.#fail({kind: 'bad-gateway', vassal: member.vassal, state: member.state, cause}, member);
  }

  /** Answers with the router's own page (nothing of the backend's response was sent). */
  #fail(reported: RouterFailure, member?: Member): void {
    // A backend that is not serving yet (starting) or any more (stopping) is unavailable, not broken.
    const failure: RouterFailure = reported.kind === 'bad-gateway' && !isServingState(reported.state) ? {...reported, kind: 'unavailable'} : reported;
    this.#finished = true;
    this.deadline = Infinity;
    if (member !== undefined && this.#member === member) member.active -= 1;
    this.#member = undefined;
    if (member !== undefined) this.#ctx.failures.report(failure, upstreamKey(member.upstream));
    this.status = this.#client.sendFailure(failure, this.head.keepAlive && this.#requestDone);
    this.#log(Date.now());
    this.#client.onExchangeDone(this.head.keepAlive && this.#requestDone);
  }

  /** The response broke after it started: the client must not take a truncated body for a whole one. */
  #abort(cause: string): void {
    this.#finished = true;
    this.deadline = Infinity;
    if (this.#member !== undefined) {
      this.#member.active -= 1;
      this.#ctx.log.warn('backend broke off a response', {uwsgi: `[router] vassal ${this.#member.vassal} at ${upstreamKey(this.#member.upstream)}: ${cause}`, vassal: this.#member.vassal});
    }
    this.#conn?.destroy();
    this.#log(Date.now());
    this.#client.socket.destroy();
  }

  #log(now: number): void {
    const log = this.#ctx.accessLog;
    if (log === undefined) return;
    const h = this.head;
    log.add({remote: this.#client.remote, method: h.method, target: h.target, minor: h.minor, status: this.status, bodyBytes: this.bodyBytes, referer: h.referer, userAgent: h.userAgent, host: h.host, startedAt: this.startedAt}, now);
  }
}

const CRLF = Buffer.from('\r\n', 'latin1');
const CONTINUE = Buffer.from('HTTP/1.1 100 Continue\r\n\r\n', 'latin1');
const LAST_CHUNK = Buffer.from('0\r\n\r\n', 'latin1');
