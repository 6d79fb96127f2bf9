/**
 * The emperor's front door: one HTTP server that routes each request by its `Host` header to the vassal declaring
 * that domain, like nginx's `server_name` + `proxy_pass`, without a config to regenerate.
 *
 *   request ──lookup(Host)──► none ──► 404 "no vassal serves HOST"
 *                │
 *                ▼ route {vassal, upstream}
 *             wake(vassal) (on-demand vassals spawn; rejects ──► 503)
 *                │
 *                ▼ state(vassal) in backoff | invalid | held | stopped ──► 503 at once
 *             proxy over the upstream's keep-alive agent, bodies streamed both ways
 *                │ refused / reset / timeout before the response
 *                ▼
 *             503 if the vassal is not in a serving state (starting, stopping…), else 502; one log line
 *
 * The table is read from `routes()` on every request, so a rebuilt table applies to the next request while the
 * requests in flight finish on the route they started with: adding or removing a vassal drops nothing else.
 * Keep-alive both ways: clients keep their connection across requests (and across 4xx/5xx from the router itself);
 * upstream connections are pooled per upstream (`upstream-agents.ts`). A GET that fails on a pooled connection the
 * vassal had just closed is replayed once on a fresh one (bodies are streamed, so only requests without one).
 * Upgrade requests (WebSocket) are passed through as a raw byte pipe once the vassal accepts the connection.
 */
import {createServer, request, type IncomingMessage, type ServerResponse} from 'node:http';
import {connect, type Socket} from 'node:net';
import type {Duplex} from 'node:stream';
import type {Logger} from '../log/logger.js';
import {sendFailure, type RouterFailure} from './error-page.js';
import {downstreamResponseHeaders, hasRequestBody, upstreamRequestHeaders} from './proxy-headers.js';
import {listenOn} from './listen-address.js';
import {upstreamKey, type Route, type RouteTable} from './route-table.js';
import {UpstreamAgents, type UpstreamAgentOptions} from './upstream-agents.js';
import {answerChallenge, httpsRedirectLocation, isAcmeChallenge, isEncrypted, redirect} from './tls/plain-http-hooks.js';
import {SubscribedRoutes, type SubscriptionPools} from './subscription/subscribed-routes.js';
import {uwsgiRequest, UwsgiRequestRefused, uwsgiVars} from './uwsgi-request.js';
import {encodePacket, MODIFIER1} from '../protocol/uwsgi-packet.js';
import {DOWN, SERVING} from '../emperor/vassal-states.js';

export interface HttpRouterOptions {
  /**
   * Where to listen: `127.0.0.1:8080`, `:80` (every interface), `[::1]:8080`, `/run/kaiser-http.sock`; port 0 picks
   * one. Undefined: no plain listener, only `handlers` (an HTTPS-only front door).
   */
  address: string | undefined;
  /** The current table; called per request. */
  routes: () => RouteTable;
  /** Resolves when the vassal may accept (on-demand vassals spawn here). Not called when absent. */
  wake?: (vassal: string) => Promise<void> | void;
  /** The vassal's state id (`ready`, `starting`, `backoff`…), to answer 503 rather than 502. */
  state?: (vassal: string) => string | undefined;
  log: Logger;
  /** Idle time allowed on an upstream request before it fails (nginx's proxy_read_timeout); default 60 s. */
  upstreamTimeoutMs?: number;
  /** How long an idle client connection stays open (nginx's keepalive_timeout); default 75 s. */
  clientKeepAliveMs?: number;
  /** Upstream connection pool sizes. */
  agents?: Partial<UpstreamAgentOptions>;
  /** Nodes from the subscription server, for Hosts no vassal serves (subscription/). */
  pools?: SubscriptionPools;
  /** The key authorization for an ACME HTTP-01 token, served at /.well-known/acme-challenge/TOKEN (acme/). */
  acmeChallenge?: (token: string) => string | undefined;
  /** The HTTPS port that `https-redirect` vassals' plain-HTTP requests are sent to (443 leaves it out). */
  httpsPort?: () => number | undefined;
}

export interface HttpRouter {
  /** The bound address, with the real port (`127.0.0.1:41234`) or the socket path. */
  readonly address: string;
  /** The request and upgrade handlers, for other listeners of the same front door (HTTPS: tls/https-listener.ts). */
  readonly handlers: {
    request(req: IncomingMessage, res: ServerResponse): void;
    upgrade(req: IncomingMessage, client: Duplex, head: Buffer): void;
  };
  /** Stops accepting, lets requests in flight finish for `graceMs` (default 5 s), then closes everything. */
  close(graceMs?: number): Promise<void>;
}

/** A vassal failing under load logs once per this long, with the count of the failures in between. */
const FAILURE_LOG_INTERVAL_MS = 1_000;

/** Starts the router; resolves once it listens. */
export async function startHttpRouter(options: HttpRouterOptions): Promise<HttpRouter> {
  const log = options.log.child({component: 'router'});
  const agents = new UpstreamAgents(options.agents);
  const upstreamTimeoutMs = options.upstreamTimeoutMs ?? 60_000;
  const failureLog = new FailureLog(log);
  const subscribed = options.pools === undefined ? undefined : new SubscribedRoutes(options.pools);
  let lastTable: RouteTable | undefined;

  /** The route for a request, retiring upstream agents whenever a new table appears. */
  const routeOf = (hostHeader: string): Route | undefined => {
    const table = options.routes();
    if (table !== lastTable) {
      if (lastTable !== undefined) agents.retainOnly(table.upstreamKeys());
      lastTable = table;
    }
    return table.lookup(hostHeader) ?? subscribed?.routeOf(hostHeader);
  };

  /** Wakes and checks the vassal; a failure to answer with, or undefined to go ahead. */
  const admit = async (route: Route): Promise<RouterFailure | undefined> => {
    if (options.wake !== undefined) {
      try {
        await options.wake(route.vassal);
      } catch (cause) {
        return {kind: 'unavailable', vassal: route.vassal, state: stateOf(route.vassal), cause: `cannot wake it: ${messageOf(cause)}`};
      }
    }
    const state = stateOf(route.vassal);
    if (DOWN.has(state)) return {kind: 'unavailable', vassal: route.vassal, state, cause: 'it is not running'};
    return undefined;
  };

  const stateOf = (vassal: string): string => options.state?.(vassal) ?? 'unknown';

  const fail = (res: ServerResponse, route: Route, cause: string): void => {
    const state = stateOf(route.vassal);
    const failure: RouterFailure = SERVING.has(state) || state === 'unknown'
      ? {kind: 'bad-gateway', vassal: route.vassal, state, cause}
      : {kind: 'unavailable', vassal: route.vassal, state, cause};
    failureLog.report(failure, upstreamKey(route.upstream));
    sendFailure(res, failure);
  };

  const proxy = (req: IncomingMessage, res: ServerResponse, route: Route, replayed: boolean): void => {
    const upstream = route.upstream;
    const upReq = route.protocol === 'uwsgi'
      ? uwsgiRequest(req, {address: upstream, modifier1: route.modifier1, modifier2: route.modifier2}, {timeoutMs: upstreamTimeoutMs})
      : request({
        ...('socketPath' in upstream ? {socketPath: upstream.socketPath} : {host: upstream.host, port: upstream.port}),
        method: req.method,
        path: req.url,
        headers: upstreamRequestHeaders(req),
        agent: agents.agentFor(upstream),
        timeout: upstreamTimeoutMs,
        // Headers go as the client sent them: Host included; Node must not add its own.
        setHost: false,
      });
    let answered = false;
    upReq.on('response', (upRes) => {
      answered = true;
      // HTTP/2 has no reason phrase (Node warns when given one).
      const reason = req.httpVersionMajor === 2 ? undefined : upRes.statusMessage;
      res.writeHead(upRes.statusCode ?? 502, reason, downstreamResponseHeaders(upRes.rawHeaders, upRes.headers));
      upRes.pipe(res);
      // Headers go out with the first body bytes (one write); a vassal that sends headers and then waits (long
      // polling, an upload answered early) must not leave the client waiting for them.
      let bodyStarted = false;
      upRes.once('data', () => (bodyStarted = true));
      // Runs after the pipe has flowed what came in with the headers (process.nextTick runs before microtasks).
      queueMicrotask(() => {
        if (!bodyStarted && !upRes.complete && !res.destroyed) res.flushHeaders();
      });
      // The vassal broke off mid-body: the client must not take the truncated body for a whole one.
      upRes.on('aborted', () => res.destroy());
      upRes.on('error', () => res.destroy());
    });
    upReq.on('timeout', () => upReq.destroy(Object.assign(new Error('no answer within the upstream timeout'), {code: 'ETIMEDOUT'})));
    upReq.on('error', (error: NodeJS.ErrnoException) => {
      if (answered || res.writableEnded || res.destroyed) {
        res.destroy();
        return;
      }
      // A pooled connection the vassal closed while idle: the request never reached it, so send it again once.
      if (upReq.reusedSocket && !replayed && !hasRequestBody(req) && error.code === 'ECONNRESET') {
        proxy(req, res, route, true);
        return;
      }
      if (error instanceof UwsgiRequestRefused) return sendFailure(res, {kind: 'refused', status: error.status, cause: error.message});
      // A subscribed node that refused: skip it for a while, and give the request (without a body) to another one.
      const retry = subscribed?.onFailure(route, error, !replayed && !hasRequestBody(req));
      if (retry !== undefined) return proxy(req, res, retry, true);
      fail(res, route, describeError(error));
    });
    // The client went away: stop the upstream request (its socket is not reused).
    res.on('close', () => {
      if (!res.writableFinished) upReq.destroy();
    });
    if (route.protocol === 'uwsgi') return; // uwsgiRequest sends the body itself
    if (hasRequestBody(req)) req.pipe(upReq);
    else upReq.end();
  };

  const onRequest = (req: IncomingMessage, res: ServerResponse): void => {
    if (options.acmeChallenge !== undefined && isAcmeChallenge(req)) return answerChallenge(req, res, options.acmeChallenge);
    const host = req.headers.host;
    if (host === undefined || host === '') return sendFailure(res, {kind: 'no-host'});
    const route = routeOf(host);
    if (route === undefined) return sendFailure(res, {kind: 'unknown-host', host});
    const httpsPort = route.httpsRedirect === true ? options.httpsPort?.() : undefined;
    if (httpsPort !== undefined && !isEncrypted(req)) return redirect(res, httpsRedirectLocation(host, req.url ?? '/', httpsPort));
    if (options.wake === undefined && options.state === undefined) return proxy(req, res, route, false);
    void admit(route).then((failure) => {
      if (failure === undefined) return proxy(req, res, route, false);
      failureLog.report(failure, upstreamKey(route.upstream));
      sendFailure(res, failure);
    });
  };

  const onUpgrade = (req: IncomingMessage, client: Duplex, head: Buffer): void => {
    const host = req.headers.host;
    const route = host === undefined ? undefined : routeOf(host);
    if (route === undefined) return rejectUpgrade(client, 404, `no vassal serves ${host ?? '(no Host)'}\n`);
    void admit(route).then((failure) => {
      if (failure !== undefined) {
        failureLog.report(failure, upstreamKey(route.upstream));
        return rejectUpgrade(client, 503, `vassal ${route.vassal} is ${failure.kind === 'unavailable' ? failure.state : 'failing'}\n`);
      }
      tunnel(req, client, head, route, (cause) => {
        const state = stateOf(route.vassal);
        failureLog.report({kind: SERVING.has(state) ? 'bad-gateway' : 'unavailable', vassal: route.vassal, state, cause}, upstreamKey(route.upstream));
        rejectUpgrade(client, SERVING.has(state) || state === 'unknown' ? 502 : 503, `vassal ${route.vassal} did not answer: ${cause}\n`);
      });
    });
  };

  const server = createServer({requestTimeout: 0, headersTimeout: 60_000}, onRequest);
  server.keepAliveTimeout = options.clientKeepAliveMs ?? 75_000;
  server.on('upgrade', onUpgrade);
  server.on('clientError', (_error, socket) => {
    if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
    else socket.destroy();
  });
  const address = options.address === undefined ? '' : await listenOn(server, options.address);
  if (options.address !== undefined) log.info('router listening', {uwsgi: `*** kaiser HTTP router enabled on ${address} ***`, address});

  let closing: Promise<void> | undefined;
  return {
    address,
    handlers: {request: onRequest, upgrade: onUpgrade},
    close(graceMs = 5_000) {
      return (closing ??= new Promise<void>((resolve) => {
        const force = setTimeout(() => server.closeAllConnections(), graceMs);
        server.close(() => {
          clearTimeout(force);
          agents.destroy();
          resolve();
        });
        server.closeIdleConnections();
      }));
    },
  };
}

/** Pipes an upgrade request to the vassal as raw bytes; `onFailure` if the vassal cannot be reached. */
function tunnel(req: IncomingMessage, client: Duplex, head: Buffer, route: Route, onFailure: (cause: string) => void): void {
  const upstream = route.upstream;
  const socket: Socket = 'socketPath' in upstream ? connect({path: upstream.socketPath}) : connect({host: upstream.host, port: upstream.port});
  let connected = false;
  socket.once('connect', () => {
    connected = true;
    if (route.protocol === 'uwsgi') {
      // uWSGI's own router does the same: the request as a vars packet, then raw bytes both ways.
      socket.write(encodePacket(route.modifier1 ?? MODIFIER1.REQUEST, route.modifier2 ?? 0, uwsgiVars(req, {bodyLength: undefined, upgrade: true})));
      if (head.length > 0) socket.write(head);
      socket.pipe(client);
      client.pipe(socket);
      return;
    }
    const headers = upstreamRequestHeaders(req, {upgrade: true});
    let text = `${req.method ?? 'GET'} ${req.url ?? '/'} HTTP/1.1\r\n`;
    for (const [name, value] of Object.entries(headers)) {
      for (const item of Array.isArray(value) ? value : [value]) text += `${name}: ${String(item)}\r\n`;
    }
    socket.write(`${text}\r\n`);
    if (head.length > 0) socket.write(head);
    socket.pipe(client);
    client.pipe(socket);
  });
  socket.on('error', (error: NodeJS.ErrnoException) => {
    if (!connected) onFailure(describeError(error));
    client.destroy();
  });
  client.on('error', () => socket.destroy());
  client.on('close', () => socket.destroy());
  socket.on('close', () => client.destroy());
}

function rejectUpgrade(client: Duplex, status: number, body: string): void {
  const reason = status === 404 ? 'Not Found' : status === 503 ? 'Service Unavailable' : 'Bad Gateway';
  client.end(`HTTP/1.1 ${status} ${reason}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
}

function describeError(error: NodeJS.ErrnoException): string {
  switch (error.code) {
    case 'ECONNREFUSED':
      return 'connection refused';
    case 'ECONNRESET':
      return 'connection reset';
    case 'ENOENT':
      return 'socket file missing';
    case 'ETIMEDOUT':
      return 'timed out';
    case undefined: // not a system call error: its message says what happened
    default:
      return error.code ?? error.message;
  }
}

function messageOf(cause: unknown): string {
  return cause instanceof Error ? cause.message : String(cause);
}

/** Logs upstream failures, at most one line per vassal per interval, with how many were folded into it. */
class FailureLog {
  readonly #log: Logger;
  readonly #last = new Map<string, {at: number; suppressed: number}>();

  constructor(log: Logger) {
    this.#log = log;
  }

  report(failure: RouterFailure, upstream: string): void {
    if (failure.kind !== 'bad-gateway' && failure.kind !== 'unavailable') return;
    const now = Date.now();
    const last = this.#last.get(failure.vassal);
    if (last !== undefined && now - last.at < FAILURE_LOG_INTERVAL_MS) {
      last.suppressed += 1;
      return;
    }
    const suppressed = last?.suppressed ?? 0;
    this.#last.set(failure.vassal, {at: now, suppressed: 0});
    if (this.#last.size > 10_000) this.#last.clear();
    const status = failure.kind === 'bad-gateway' ? 502 : 503;
    this.#log.warn('vassal did not answer', {
      uwsgi: `[router] ${status} for vassal ${failure.vassal} (${failure.state}) at ${upstream}: ${failure.cause}${suppressed ? ` (+${suppressed} more)` : ''}`,
      vassal: failure.vassal,
      status,
      state: failure.state,
      upstream,
      cause: failure.cause,
      suppressed,
    });
  }
}
