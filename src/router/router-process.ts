/**
 * Entry point of a router process (`node dist/router/router-process.js`, forked by the emperor's
 * `router-supervisor.ts`). Serves the listening sockets the emperor sends it, routes by the tables the emperor sends
 * it, and exits when the emperor asks, or when the pipe to the emperor closes (the emperor is gone).
 *
 *   (fork) ──start──► configured ──listen × N──► serving ──stop / pipe closed──► draining ──► exit 0
 *   any uncaught error ──► exit 1 (the emperor starts another; its sockets kept the queued connections)
 *
 * Listener kinds are a table (`LISTENER_KINDS`): `http` (the HTTP front), `https` (TLS by SNI, HTTP/2 by ALPN, onto
 * the same HTTP front) and `fastrouter` (the uwsgi-protocol front), each getting the shared routing and settings.
 */
import {AccessLog} from './access-log.js';
import {createLogger, type Logger} from '../log/logger.js';
import {FastRouter} from './fastrouter.js';
import {HealthChecker} from './health-check.js';
import {HttpFront} from './http-front.js';
import {Routing} from './pool-table.js';
import type {FromRouter, ListenerSpec, RouterSettings, ToRouter} from './router-messages.js';
import {HttpsFront, TLS_DEFAULTS} from './tls/https-listener.js';
import {SniStore} from './tls/sni-store.js';

/** What a listener kind gets to work with. */
export interface ListenerDeps {
  readonly http: HttpFront;
  readonly fastrouter: FastRouter;
  readonly log: Logger;
  readonly settings: RouterSettings;
  /** The HTTPS fronts started so far (closed on stop). */
  readonly https: HttpsFront[];
}

/** Starts serving one listening socket handle; resolves once it accepts. */
export type ListenerKind = (handle: object, spec: ListenerSpec, deps: ListenerDeps) => Promise<void>;

export const LISTENER_KINDS: Record<string, ListenerKind> = {
  http: async (handle, _spec, deps) => void (await deps.http.listen(handle)),
  fastrouter: async (handle, _spec, deps) => void (await deps.fastrouter.listen(handle)),
  https: async (handle, spec, deps) => {
    const tls = spec.options;
    if (tls === undefined) throw new Error(`Internal error: https listener ${spec.id} without its settings`);
    const ticketKeys = Buffer.from(tls.ticketKeys, 'base64');
    const store = new SniStore({dir: tls.sniDir, settings: {...TLS_DEFAULTS, ticketKeys}, log: deps.log});
    const front = new HttpsFront({store, front: deps.http, log: deps.log, h2: tls.h2, ticketKeys, handshakeTimeoutMs: deps.settings.headersTimeoutMs});
    deps.https.push(front);
    await front.listen(handle);
  },
};

function send(message: FromRouter): void {
  process.send?.(message);
}

interface Running {
  settings: RouterSettings;
  listeners: ListenerSpec[];
  waiting: Set<string>;
  deps: ListenerDeps;
  accessLog: AccessLog | undefined;
  health: HealthChecker | undefined;
}

let running: Running | undefined;
let stopping = false;

function start(settings: RouterSettings, listeners: ListenerSpec[]): void {
  const log = createLogger({format: settings.logFormat}).child({component: 'router', pid: process.pid});
  const accessLog = settings.accessLog === undefined ? undefined : new AccessLog(settings.accessLog, log);
  let http: HttpFront | undefined;
  let fastrouter: FastRouter | undefined;
  const routing = new Routing(settings.balance, (member) => {
    http?.retire(member);
    fastrouter?.retire(member);
  });
  http = new HttpFront(routing, settings, log, accessLog);
  // https-redirect pools send plain-HTTP clients to the first HTTPS listener's port.
  const https = listeners.find((l) => l.kind === 'https');
  if (https !== undefined) http.context.answers.httpsPort = portOf(https.address);
  fastrouter = new FastRouter(http.context, http.maxConnections);
  const health = settings.healthCheckPath === undefined ? undefined : new HealthChecker(routing, settings.healthCheckPath, settings.healthIntervalMs, log);
  running = {settings, listeners, waiting: new Set(listeners.map((l) => l.id)), deps: {http, fastrouter, log, settings, https: []}, accessLog, health};
}

function portOf(address: string): number | undefined {
  const match = /:(\d+)$/.exec(address);
  return match === null ? undefined : Number(match[1]);
}

async function listen(id: string, handle: object | undefined): Promise<void> {
  const state = running;
  if (state === undefined) throw new Error('Internal error: listen before start');
  const spec = state.listeners.find((l) => l.id === id);
  if (spec === undefined || handle === undefined) throw new Error(`Internal error: no listener ${id} or no socket sent with it`);
  const kind = LISTENER_KINDS[spec.kind];
  if (kind === undefined) throw new Error(`Internal error: unknown listener kind ${spec.kind}`);
  await kind(handle, spec, state.deps);
  state.waiting.delete(id);
  if (state.waiting.size === 0) send({act: 'listening'});
}

async function stop(graceMs: number): Promise<void> {
  if (stopping) return;
  stopping = true;
  running?.health?.stop();
  for (const https of running?.deps.https ?? []) https.close();
  await Promise.all([running?.deps.http.close(graceMs), running?.deps.fastrouter.close(graceMs)]);
  running?.accessLog?.close();
  process.exit(0);
}

process.on('message', (message: ToRouter, handle: object | undefined) => {
  switch (message.act) {
    case 'start':
      return start(message.settings, message.listeners);
    case 'listen':
      listen(message.id, handle).catch((error: unknown) => {
        send({act: 'failed', error: error instanceof Error ? error.message : String(error)});
        process.exit(1);
      });
      return;
    case 'table':
      running?.deps.http.context.routing.update(message.pools);
      return send({act: 'applied', seq: message.seq});
    case 'reopen-logs':
      return running?.accessLog?.reopen();
    case 'stop':
      return void stop(message.graceMs);
    default:
      // A newer emperor may say more: ignore what this router does not know.
      return;
  }
});
// The emperor is gone: nobody would restart or feed us.
process.on('disconnect', () => void stop(1_000));
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(signal, () => void stop(5_000));
process.on('SIGPIPE', () => undefined);
