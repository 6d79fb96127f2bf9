/**
 * uWSGI's fastrouter (`--fastrouter ADDR`): takes uwsgi-protocol requests (nginx's `uwsgi_pass`), picks the pool by
 * `UWSGI_FASTROUTER_KEY`, else `HTTP_HOST`, else `SERVER_NAME`, and passes the request, unchanged, to a vassal's
 * uwsgi `socket`; the vassal's answer goes back byte for byte. As in uWSGI, one request per connection: the
 * connection closes when the vassal closes its side.
 *
 *   head ──packet (4-byte header + vars) complete──► connecting ──CONNECT──► piping ──backend EOF──► closed
 *     │ headers-timeout, bad packet: closed            │ refused: next member (nothing was sent yet)
 *     ▼                                                ▼ every member refused / none: a 502 or 503 HTTP answer
 *
 * Pools, members, passive health and the connection cap are the HTTP front's (`pool-table.ts`, `http-front.ts`):
 * a vassal is in a domain's fastrouter pool when it has a uwsgi `socket`.
 */
import {connect, createServer, type Server, type Socket} from 'node:net';
import {failureResponse, type RouterFailure} from './error-page.js';
import {describeError} from './failure-log.js';
import type {FrontContext} from './front-context.js';
import type {Member} from './pool-table.js';
import {upstreamKey} from './hosts-and-upstreams.js';
import {unknownState} from '../util/unreachable.js';

/** Largest vars block uWSGI accepts by default (buffer-size 4096); nginx sends far less. */
const MAX_VARS_BYTES = 64 * 1024;
const SWEEP_MS = 1_000;

/** The uwsgi vars of a packet whose header and vars are in `buf`, or why the packet is refused. */
export function parseUwsgiVars(buf: Buffer, size: number): Map<string, string> | string {
  const vars = new Map<string, string>();
  let at = 4;
  const end = 4 + size;
  while (at < end) {
    if (at + 2 > end) return 'truncated key length';
    const keyLength = buf.readUInt16LE(at);
    at += 2;
    if (at + keyLength + 2 > end) return 'truncated key';
    const key = buf.toString('latin1', at, at + keyLength);
    at += keyLength;
    const valueLength = buf.readUInt16LE(at);
    at += 2;
    if (at + valueLength > end) return 'truncated value';
    vars.set(key, buf.toString('latin1', at, at + valueLength));
    at += valueLength;
  }
  return vars;
}

type Phase = 'head' | 'connecting' | 'piping' | 'closed';

class FastrouterConnection {
  readonly #client: Socket;
  readonly #ctx: FrontContext;
  #phase: Phase = 'head';
  #buf: Buffer | undefined;
  #backend: Socket | undefined;
  #member: Member | undefined;
  #tried: Set<Member> | undefined;
  deadline: number;

  constructor(client: Socket, ctx: FrontContext, router: FastRouter, now: number) {
    this.#client = client;
    this.#ctx = ctx;
    this.deadline = now + ctx.settings.headersTimeoutMs;
    client.setNoDelay(true);
    client.on('data', (chunk: Buffer) => this.#onData(chunk));
    client.on('end', () => {
      if (this.#phase === 'piping') this.#backend?.end();
      else if (this.#phase === 'head') client.destroy();
    });
    client.on('error', () => client.destroy());
    client.on('close', () => {
      this.#phase = 'closed';
      this.#backend?.destroy();
      this.#release();
      router.closed(this);
    });
    client.on('drain', () => this.#backend?.resume());
  }

  #onData(chunk: Buffer): void {
    switch (this.#phase) {
      case 'piping':
        if (!(this.#backend as Socket).write(chunk)) this.#client.pause();
        return;
      case 'connecting':
        this.#buf = this.#buf === undefined ? chunk : Buffer.concat([this.#buf, chunk]);
        return;
      case 'closed':
        return;
      case 'head':
        break;
      default:
        throw unknownState(this.#phase, 'fastrouter phase');
    }
    const buf = this.#buf === undefined ? chunk : Buffer.concat([this.#buf, chunk]);
    this.#buf = buf;
    if (buf.length < 4) return;
    const size = buf.readUInt16LE(1);
    if (size > MAX_VARS_BYTES) return void this.#client.destroy();
    if (buf.length < 4 + size) return;
    const vars = parseUwsgiVars(buf, size);
    if (typeof vars === 'string') return void this.#client.destroy();
    const key = vars.get('UWSGI_FASTROUTER_KEY') || vars.get('HTTP_HOST') || vars.get('SERVER_NAME') || '';
    const pool = this.#ctx.routing.uwsgi.lookup(key);
    if (pool === undefined) return this.#answer({kind: 'unknown-host', host: key === '' ? '(none)' : key}, vars);
    this.#phase = 'connecting';
    this.deadline = Date.now() + this.#ctx.settings.connectTimeoutMs;
    this.#connect(pool.pick(Date.now(), this.#tried), vars, pool.members[0]);
  }

  #connect(member: Member | undefined, vars: Map<string, string>, first: Member | undefined): void {
    if (member === undefined) {
      return this.#answer({kind: 'unavailable', vassal: first?.vassal ?? '?', state: first?.state ?? 'unknown', cause: this.#tried ? 'every backend failed' : 'it is not running'}, vars);
    }
    this.#member = member;
    member.active += 1;
    const upstream = member.upstream;
    const backend = 'socketPath' in upstream ? connect({path: upstream.socketPath}) : connect({host: upstream.host, port: upstream.port, noDelay: true});
    this.#backend = backend;
    let connected = false;
    backend.on('connect', () => {
      connected = true;
      this.#phase = 'piping';
      this.deadline = Date.now() + this.#ctx.settings.upstreamTimeoutMs;
      if (this.#buf !== undefined) backend.write(this.#buf);
      this.#buf = undefined;
    });
    backend.on('data', (data: Buffer) => {
      this.deadline = Date.now() + this.#ctx.settings.upstreamTimeoutMs;
      if (!this.#client.write(data)) backend.pause();
    });
    backend.on('drain', () => this.#client.resume());
    backend.on('end', () => this.#client.end());
    backend.on('error', (error: NodeJS.ErrnoException) => {
      if (connected || this.#phase === 'closed') return void this.#client.destroy();
      // Nothing was sent: another member may take it.
      this.#release();
      member.downUntil = Date.now() + this.#ctx.settings.failTimeoutMs;
      (this.#tried ??= new Set()).add(member);
      const failure: RouterFailure = {kind: 'bad-gateway', vassal: member.vassal, state: member.state, cause: describeError(error)};
      const pool = this.#ctx.routing.uwsgi.lookup(vars.get('UWSGI_FASTROUTER_KEY') || vars.get('HTTP_HOST') || vars.get('SERVER_NAME') || '');
      const next = pool?.pick(Date.now(), this.#tried);
      this.#ctx.failures.report(failure, upstreamKey(member.upstream), {retried: next !== undefined});
      if (next !== undefined) return this.#connect(next, vars, pool?.members[0]);
      this.#answer(failure, vars);
    });
    backend.on('close', () => {
      if (this.#phase === 'piping') this.#client.end();
    });
  }

  #release(): void {
    if (this.#member !== undefined) this.#member.active -= 1;
    this.#member = undefined;
  }

  /** The router's own answer, as the HTTP response nginx expects from a uwsgi backend. */
  #answer(failure: RouterFailure, vars: Map<string, string>): void {
    this.#phase = 'closed';
    const response = failureResponse(failure, {close: true, headOnly: vars.get('REQUEST_METHOD') === 'HEAD'});
    this.#client.end(response.text, 'latin1');
  }

  checkTimeout(now: number): void {
    if (now <= this.deadline) return;
    if (this.#phase === 'piping' || this.#phase === 'connecting') {
      const member = this.#member;
      if (member !== undefined) this.#ctx.log.warn('fastrouter backend timed out', {uwsgi: `[fastrouter] vassal ${member.vassal} at ${upstreamKey(member.upstream)}: no answer within the timeout`});
    }
    this.#client.destroy();
  }

  destroy(): void {
    this.#client.destroy();
  }
}

/** The fastrouter of a router process. */
export class FastRouter {
  readonly #ctx: FrontContext;
  readonly #servers: Server[] = [];
  readonly #connections = new Set<FastrouterConnection>();
  readonly #sweep: NodeJS.Timeout;
  readonly #maxConnections: number;

  constructor(ctx: FrontContext, maxConnections: number) {
    this.#ctx = ctx;
    this.#maxConnections = maxConnections;
    this.#sweep = setInterval(() => {
      const now = Date.now();
      for (const connection of this.#connections) connection.checkTimeout(now);
    }, SWEEP_MS);
    this.#sweep.unref();
  }

  /** Serves a listening socket handle (from the emperor), or a `{port, host}` for tests. */
  listen(handle: object): Promise<Server> {
    const server = createServer({noDelay: true}, (socket) => {
      if (this.#connections.size >= this.#maxConnections) {
        socket.destroy();
        return;
      }
      this.#connections.add(new FastrouterConnection(socket, this.#ctx, this, Date.now()));
    });
    this.#servers.push(server);
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(handle, () => {
        server.off('error', reject);
        resolve(server);
      });
    });
  }

  closed(connection: FastrouterConnection): void {
    this.#connections.delete(connection);
  }

  /** Members leave no idle connections behind here (one connection per request). */
  retire(_member: Member): void {}

  async close(graceMs: number): Promise<void> {
    for (const server of this.#servers) server.close();
    const until = Date.now() + graceMs;
    while (this.#connections.size > 0 && Date.now() < until) await new Promise((resolve) => setTimeout(resolve, 20));
    for (const connection of this.#connections) connection.destroy();
    clearInterval(this.#sweep);
  }
}
