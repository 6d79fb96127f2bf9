/**
 * Starts the front door for an emperor: the emperor's router options become router settings and listeners, and the
 * emperor's vassals become routable vassals (owner = the uid each runs as, the emperor's own when it switches none).
 * The only place that knows both the emperor's surface and the router's.
 */
import type {FrontRouterOptions} from '../config/router-options.js';
import {formatError} from '../errors.js';
import type {Logger} from '../log/logger.js';
import {err, ok, type Result} from '../result.js';
import type {VassalSpec} from '../config/vassal-spec.js';
import {RouterProcesses} from './router-processes.js';
import type {RoutableVassal} from './pools.js';
import type {ListenerRequest} from './router-supervisor.js';

export {RouterProcesses} from './router-processes.js';

/** What the front door needs of the emperor. */
export interface GovernedVassals {
  snapshots(): readonly {name: string; state: string; uid?: number}[];
  vassal(name: string): {spec: VassalSpec | undefined} | undefined;
}

export interface StartRouterProcessesOptions {
  readonly emperor: GovernedVassals;
  readonly router: FrontRouterOptions;
  readonly python: string | undefined;
  readonly logFormat: 'human' | 'json';
  readonly log: Logger;
}

export async function startRouterProcesses(options: StartRouterProcessesOptions): Promise<Result<RouterProcesses, string>> {
  const {emperor, router, log} = options;
  const listeners: ListenerRequest[] = [];
  if (router.http !== undefined) listeners.push({kind: 'http', address: router.http});
  if (router.fastrouter !== undefined) listeners.push({kind: 'fastrouter', address: router.fastrouter});
  const emperorUid = typeof process.getuid === 'function' ? process.getuid() : undefined;
  const vassals = (): RoutableVassal[] =>
    emperor.snapshots().flatMap((snap) => {
      const spec = emperor.vassal(snap.name)?.spec;
      return spec !== undefined && spec.domains.length > 0 ? [{spec, owner: snap.uid ?? emperorUid, state: snap.state}] : [];
    });
  const door = new RouterProcesses({
    python: options.python ?? '/usr/bin/python3',
    processes: router.processes,
    settings: {
      balance: router.balance,
      maxConnections: router.maxConnections,
      headersTimeoutMs: router.headersTimeoutMs,
      keepaliveTimeoutMs: router.keepaliveTimeoutMs,
      bodyTimeoutMs: router.bodyTimeoutMs,
      upstreamTimeoutMs: router.upstreamTimeoutMs,
      connectTimeoutMs: router.connectTimeoutMs,
      failTimeoutMs: router.failTimeoutMs,
      healthCheckPath: router.healthCheckPath,
      healthIntervalMs: router.healthIntervalMs,
      accessLog: router.accessLog,
      logFormat: options.logFormat,
    },
    listeners,
    vassals,
    log,
  });
  const started = await door.start();
  if (!started.ok) return err(formatError('KAISER_ROUTER_BIND_FAILED', {cause: started.error}));
  for (const address of door.addresses('http')) {
    log.info('front router', {uwsgi: `*** HTTP router on ${address} (${router.processes} process${router.processes === 1 ? '' : 'es'}): requests go to the vassals serving their Host ***`, address});
  }
  for (const address of door.addresses('fastrouter')) {
    log.info('fastrouter', {uwsgi: `*** fastrouter on ${address}: uwsgi requests go to the vassals serving their SERVER_NAME ***`, address});
  }
  return ok(door);
}
