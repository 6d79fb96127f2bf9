/**
 * The emperor's front door, assembled from its options: the plain HTTP router (`--emperor-http`), the HTTPS listener
 * (`--emperor-https` + `--sni-dir`), the uWSGI subscription server (`--subscription-server`) whose pools the
 * routers consult for Hosts no vassal serves, and the ACME manager (`--acme-directory`) that fills the sni-dir.
 * The CLI only hands over the options, the route table and the vassal states; everything else is wired here.
 *
 * Start order: subscription server (its pools must exist before a request) → plain router (or only its handlers,
 * for an HTTPS-only door) → HTTPS listener → ACME. Close in reverse.
 */
import {randomBytes} from 'node:crypto';
import {existsSync, readFileSync, statSync} from 'node:fs';
import {resolve} from 'node:path';
import {formatError} from '../errors.js';
import type {Logger} from '../log/logger.js';
import {err, ok, type Result} from '../result.js';
import {AcmeManager} from './acme/acme-manager.js';
import {AcmeAccount} from './acme/acme-order.js';
import {ensureAcmeDirs, readChallenge} from './acme/cert-files.js';
import {startHttpRouter, type HttpRouter} from './http-router.js';
import type {RouteTable} from './route-table.js';
import {startSubscriptionServer, type SubscriptionServer} from './subscription/subscription-server.js';
import {startHttpsListener, TLS_DEFAULTS, type HttpsListener} from './tls/https-listener.js';
import {SniStore} from './tls/sni-store.js';

export interface TlsGatewayOptions {
  readonly emperorHttp: string | undefined;
  readonly emperorHttps: string | undefined;
  readonly sniDir: string | undefined;
  readonly emperorHttpsH2: boolean;
  readonly acmeDirectory: string | undefined;
  readonly acmeEmail: string | undefined;
  readonly acmeCaFile: string | undefined;
  readonly subscriptionServer: string | undefined;
  readonly subscriptionToleranceSeconds: number;
}

export interface TlsGatewayDeps {
  readonly routes: () => RouteTable;
  readonly state: (vassal: string) => string | undefined;
  readonly log: Logger;
}

export interface TlsGateway {
  readonly http: HttpRouter | undefined;
  readonly https: HttpsListener | undefined;
  readonly subscriptions: SubscriptionServer | undefined;
  readonly acme: AcmeManager | undefined;
  close(): Promise<void>;
}

/** Whether any front-door option is given. */
export function wantsTlsGateway(options: TlsGatewayOptions): boolean {
  return options.emperorHttp !== undefined || options.emperorHttps !== undefined || options.subscriptionServer !== undefined;
}

/** The options' combination, checked before anything starts (KAISER_HTTPS_OPTIONS). */
export function checkTlsGatewayOptions(options: TlsGatewayOptions): Result<void, string> {
  const fail = (reason: string) => err(`KAISER_HTTPS_OPTIONS ${formatError('KAISER_HTTPS_OPTIONS', {reason})}`);
  if (options.emperorHttps !== undefined && options.sniDir === undefined) return fail('--emperor-https needs --sni-dir DIR (the certificates, DIR/NAME.crt + DIR/NAME.key)');
  if (options.sniDir !== undefined) {
    if (!existsSync(options.sniDir) || !statSync(options.sniDir).isDirectory()) return fail(`--sni-dir ${options.sniDir}: not a directory`);
    if (options.emperorHttps === undefined) return fail('--sni-dir is for --emperor-https ADDR');
  }
  if (options.acmeDirectory !== undefined) {
    if (options.emperorHttps === undefined) return fail('--acme-directory needs --emperor-https and --sni-dir (where certificates go)');
    if (!/^https?:\/\//.test(options.acmeDirectory)) return fail(`--acme-directory ${options.acmeDirectory}: expected an https:// URL`);
  }
  if ((options.acmeEmail !== undefined || options.acmeCaFile !== undefined) && options.acmeDirectory === undefined) return fail('--acme-email and --acme-ca-file go with --acme-directory URL');
  if (options.acmeCaFile !== undefined) {
    try {
      if (!readFileSync(options.acmeCaFile, 'utf8').includes('-----BEGIN CERTIFICATE-----')) return fail(`--acme-ca-file ${options.acmeCaFile}: no PEM certificate in it`);
    } catch (error) {
      return fail(`--acme-ca-file ${options.acmeCaFile}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`);
    }
  }
  if (options.subscriptionServer !== undefined && options.emperorHttp === undefined && options.emperorHttps === undefined) {
    return fail('--subscription-server needs a router to route to its nodes: --emperor-http or --emperor-https');
  }
  return ok(undefined);
}

/** Starts what the options ask for; on failure, closes what had started and rethrows. */
export async function startTlsGateway(options: TlsGatewayOptions, deps: TlsGatewayDeps): Promise<TlsGateway> {
  const {log} = deps;
  const sniDir = options.sniDir === undefined ? undefined : resolve(options.sniDir);
  let subscriptions: SubscriptionServer | undefined;
  let http: HttpRouter | undefined;
  let https: HttpsListener | undefined;
  let acme: AcmeManager | undefined;
  const close = async (): Promise<void> => {
    acme?.stop();
    await Promise.all([https?.close(), http?.close()]);
    await subscriptions?.close();
  };
  try {
    if (options.subscriptionServer !== undefined) {
      subscriptions = await startSubscriptionServer({address: options.subscriptionServer, toleranceMs: options.subscriptionToleranceSeconds * 1000, log});
    }
    if (sniDir !== undefined && options.acmeDirectory !== undefined) ensureAcmeDirs(sniDir);
    let httpsPort: number | undefined;
    http = await startHttpRouter({
      address: options.emperorHttp,
      routes: deps.routes,
      state: deps.state,
      log,
      ...(subscriptions === undefined ? {} : {pools: subscriptions.pools}),
      ...(sniDir !== undefined && options.acmeDirectory !== undefined ? {acmeChallenge: (token: string) => readChallenge(sniDir, token)} : {}),
      ...(options.emperorHttps === undefined ? {} : {httpsPort: () => httpsPort}),
    });
    if (options.emperorHttps !== undefined && sniDir !== undefined) {
      // One set of ticket keys for every certificate's context (and, with router processes, every process).
      const ticketKeys = randomBytes(48);
      const store = new SniStore({dir: sniDir, settings: {...TLS_DEFAULTS, ticketKeys}, log});
      https = await startHttpsListener({address: options.emperorHttps, store, handlers: http.handlers, log, h2: options.emperorHttpsH2, ticketKeys});
      httpsPort = portOf(https.address);
      if (options.acmeDirectory !== undefined) {
        if (options.emperorHttp === undefined) {
          log.warn('acme without plain http', {uwsgi: '[acme] no --emperor-http: HTTP-01 challenges are answered only if port 80 of each domain reaches this emperor some other way'});
        }
        const account = new AcmeAccount({directoryUrl: options.acmeDirectory, email: options.acmeEmail, caFile: options.acmeCaFile, sniDir});
        acme = new AcmeManager({
          sniDir,
          directoryUrl: options.acmeDirectory,
          store,
          source: account,
          wantedDomains: () => deps.routes().domains().map((d) => d.domain),
          log,
        });
        acme.start();
      }
    }
  } catch (error) {
    await close();
    throw error;
  }
  return {http: options.emperorHttp === undefined ? undefined : http, https, subscriptions, acme, close};
}

function portOf(address: string): number | undefined {
  const match = /:(\d+)$/.exec(address);
  return match === null ? undefined : Number(match[1]);
}
