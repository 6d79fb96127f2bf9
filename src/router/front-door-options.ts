/**
 * The front door's options and their check, apart from the front door itself (front-door.ts): the emperor checks them
 * at every start, and loads the router, TLS, ACME and subscription modules (~3.5 MB of its RSS with node's tls,
 * https, http2, zlib and dgram) only when a listener is asked for.
 */
import {existsSync, readFileSync, statSync} from 'node:fs';
import type {FrontRouterOptions} from '../config/router-options.js';
import {formatError} from '../errors.js';
import {err, ok, type Result} from '../result.js';

/** The emperor's front-door options (README "Front door"). */
export interface FrontDoorOptions {
  readonly router: FrontRouterOptions;
  readonly emperorHttps: string | undefined;
  readonly sniDir: string | undefined;
  readonly emperorHttpsH2: boolean;
  readonly acmeDirectory: string | undefined;
  readonly acmeEmail: string | undefined;
  readonly acmeCaFile: string | undefined;
  readonly subscriptionServer: string | undefined;
  readonly subscriptionToleranceSeconds: number;
}

/** Whether any listener of the front door is asked for. */
export function wantsFrontDoor(options: FrontDoorOptions): boolean {
  return options.router.http !== undefined || options.router.fastrouter !== undefined || options.emperorHttps !== undefined;
}

/** The options' combination, checked before anything starts (KAISER_HTTPS_OPTIONS). */
export function checkFrontDoorOptions(options: FrontDoorOptions): Result<void, string> {
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
  if (options.subscriptionServer !== undefined && options.router.http === undefined && options.emperorHttps === undefined) {
    return fail('--subscription-server needs a router to route to its nodes: --emperor-http or --emperor-https');
  }
  return ok(undefined);
}
