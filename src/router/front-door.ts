/**
 * The emperor's front door, assembled from its options: the router processes (`--emperor-http`, `--emperor-https`,
 * `--fastrouter`: every listener is served there, never in the emperor's loop), the uWSGI subscription server
 * (`--subscription-server`, in the emperor: its nodes go to every router process with the vassals' pools), and the
 * ACME manager (`--acme-directory`, in the emperor: it orders certificates into the sni-dir, leaves HTTP-01 answers
 * in `SNI-DIR/.acme/challenges/`, and the router processes read both from the files). The emperor's vassals become
 * routable vassals here (owner = the uid each runs as, the emperor's own when it switches none). The only place that
 * knows both the emperor's surface and the router's.
 *
 * Start order: router processes (they must listen before anything is announced) → subscription server → ACME.
 * Stop in reverse.
 */
import {randomBytes} from 'node:crypto';
import {resolve} from 'node:path';
import type {VassalSpec} from '../config/vassal-spec.js';
import {formatError} from '../errors.js';
import type {Logger} from '../log/logger.js';
import {err, ok, type Result} from '../result.js';
import {AcmeManager} from './acme/acme-manager.js';
import {AcmeAccount} from './acme/acme-order.js';
import {challengeDir, ensureAcmeDirs} from './acme/cert-files.js';
import {DomainClaimsFile} from './domain-claims-file.js';
import type {RoutableVassal} from './pools.js';
import {RouterProcesses} from './router-processes.js';
import type {ListenerRequest} from './router-supervisor.js';
import {poolSpecsOf} from './subscription/pool-specs.js';
import {startSubscriptionServer, type SubscriptionServer} from './subscription/subscription-server.js';
import {TLS_DEFAULTS} from './tls/https-listener.js';
import type {FrontDoorOptions} from './front-door-options.js';
import {SniStore} from './tls/sni-store.js';


/** What the front door needs of the emperor. */
export interface GovernedVassals {
  snapshots(): readonly {name: string; state: string; uid?: number}[];
  vassal(name: string): {spec: VassalSpec | undefined} | undefined;
}

export interface FrontDoorDeps {
  readonly emperor: GovernedVassals;
  /** The domain claims file (`--emperor-state-dir`) and what the emperor governs, written inside it. */
  readonly claims?: {readonly file: string; readonly governed: string};
  readonly python: string | undefined;
  readonly logFormat: 'human' | 'json';
  readonly log: Logger;
}


/** The running front door. */
export class FrontDoor {
  readonly routers: RouterProcesses;
  readonly #subscriptions: SubscriptionServer | undefined;
  readonly #acme: AcmeManager | undefined;

  constructor(routers: RouterProcesses, subscriptions: SubscriptionServer | undefined, acme: AcmeManager | undefined) {
    this.routers = routers;
    this.#subscriptions = subscriptions;
    this.#acme = acme;
  }

  /** A vassal appeared, changed state or went: the pools are rebuilt and sent. */
  changed(): void {
    this.routers.changed();
  }

  reopenLogs(): void {
    this.routers.reopenLogs();
  }

  async stop(graceMs = 5_000): Promise<void> {
    this.#acme?.stop();
    await this.#subscriptions?.close();
    await this.routers.stop(graceMs);
  }
}

/** Starts what the options ask for; on failure, stops what had started and says why. */
export async function startFrontDoor(options: FrontDoorOptions, deps: FrontDoorDeps): Promise<Result<FrontDoor, string>> {
  const {emperor, log} = deps;
  const router = options.router;
  const sniDir = options.sniDir === undefined ? undefined : resolve(options.sniDir);
  const acme = sniDir !== undefined && options.acmeDirectory !== undefined;
  if (acme) ensureAcmeDirs(sniDir);
  const listeners: ListenerRequest[] = [];
  if (router.http !== undefined) listeners.push({kind: 'http', address: router.http});
  if (options.emperorHttps !== undefined && sniDir !== undefined) {
    // One set of ticket keys for every router process (and every restart of one): sessions resume anywhere.
    listeners.push({kind: 'https', address: options.emperorHttps, options: {sniDir, h2: options.emperorHttpsH2, ticketKeys: randomBytes(48).toString('base64')}});
  }
  if (router.fastrouter !== undefined) listeners.push({kind: 'fastrouter', address: router.fastrouter});
  const emperorUid = typeof process.getuid === 'function' ? process.getuid() : undefined;
  const claimsFile = deps.claims === undefined ? undefined : await DomainClaimsFile.open(deps.claims.file, deps.claims.governed, log);
  const vassals = (): RoutableVassal[] =>
    emperor.snapshots().flatMap((snap) => {
      const spec = emperor.vassal(snap.name)?.spec;
      return spec !== undefined && spec.domains.length > 0 ? [{spec, owner: snap.uid ?? emperorUid, state: snap.state}] : [];
    });
  const routers = new RouterProcesses({
    python: deps.python ?? '/usr/bin/python3',
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
      logFormat: deps.logFormat,
      acmeChallengeDir: acme ? challengeDir(sniDir) : undefined,
    },
    listeners,
    vassals,
    emperorUid,
    ...(claimsFile === undefined ? {} : {claimsFile}),
    log,
  });
  const started = await routers.start();
  if (!started.ok) return err(formatError('KAISER_ROUTER_BIND_FAILED', {cause: started.error}));
  const count = `${router.processes} process${router.processes === 1 ? '' : 'es'}`;
  for (const address of routers.addresses('http')) {
    log.info('front router', {uwsgi: `*** HTTP router on ${address} (${count}): requests go to the vassals serving their Host ***`, address});
  }
  for (const address of routers.addresses('https')) {
    log.info('https listening', {uwsgi: `*** kaiser HTTPS router enabled on ${address} (${count}, certificates from ${sniDir ?? ''}) ***`, address, h2: options.emperorHttpsH2});
  }
  for (const address of routers.addresses('fastrouter')) {
    log.info('fastrouter', {uwsgi: `*** fastrouter on ${address}: uwsgi requests go to the vassals serving their SERVER_NAME ***`, address});
  }
  let subscriptions: SubscriptionServer | undefined;
  try {
    if (options.subscriptionServer !== undefined) {
      subscriptions = await startSubscriptionServer({
        address: options.subscriptionServer,
        toleranceMs: options.subscriptionToleranceSeconds * 1000,
        log,
        onChange: () => {
          if (subscriptions !== undefined) routers.setExtraPools('subscription', poolSpecsOf(subscriptions.pools, performance.now()));
        },
      });
    }
  } catch (error) {
    await routers.stop(1_000);
    return err(error instanceof Error ? error.message : String(error));
  }
  let manager: AcmeManager | undefined;
  if (acme && options.acmeDirectory !== undefined) {
    if (router.http === undefined) {
      log.warn('acme without plain http', {uwsgi: '[acme] no --emperor-http: HTTP-01 challenges are answered only if port 80 of each domain reaches this emperor some other way'});
    }
    const store = new SniStore({dir: sniDir, settings: TLS_DEFAULTS, log});
    const account = new AcmeAccount({directoryUrl: options.acmeDirectory, email: options.acmeEmail, caFile: options.acmeCaFile, sniDir});
    manager = new AcmeManager({sniDir, directoryUrl: options.acmeDirectory, store, source: account, wantedDomains: () => routers.vassalDomains(), log});
    manager.start();
  }
  // Vassals that changed state while the subscription server started told nobody (the emperor gets the front door
  // only now, with no event in between): one more rebuild catches them.
  routers.changed();
  return ok(new FrontDoor(routers, subscriptions, manager));
}
