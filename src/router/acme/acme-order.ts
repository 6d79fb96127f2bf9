/**
 * One certificate order against an ACME server (RFC 8555), through acme-client (a maintained client for Node ≥ 16:
 * account, order, authorizations, finalize, download, with its badNonce and Retry-After handling). This module only
 * says what kaiser wants: an ECDSA P-256 key per domain (small, fast handshakes), the HTTP-01 challenge (answered by
 * the front router from the challenge files), and a CA file for private ACME servers.
 *
 * acme-client is loaded on first use, so an emperor without --acme-directory does not carry it (axios and friends).
 */
import {readFileSync, existsSync} from 'node:fs';
import {get as httpGet} from 'node:http';
import {Agent, get as httpsGet} from 'node:https';
import {join} from 'node:path';
import {rootCertificates} from 'node:tls';
import {acmeDir, removeChallenge, writeChallenge, writeFileAtomic} from './cert-files.js';

export interface AcmeAccountOptions {
  readonly directoryUrl: string;
  readonly email: string | undefined;
  /** A PEM file of CAs trusted (besides the system's) for the directory's HTTPS. */
  readonly caFile: string | undefined;
  readonly sniDir: string;
}

/** What an order yields. */
export interface IssuedPair {
  readonly keyPem: Buffer;
  /** The certificate followed by its chain, as the CA sent it. */
  readonly certPem: string;
  readonly notAfterMs: number;
}

type AcmeModule = typeof import('acme-client');

/** An ACME account, created on the first order and reused. */
export class AcmeAccount {
  readonly #options: AcmeAccountOptions;
  #client: Promise<{acme: AcmeModule; client: InstanceType<AcmeModule['Client']>}> | undefined;

  constructor(options: AcmeAccountOptions) {
    this.#options = options;
  }

  /** Orders a certificate for `domain`; rejects with the CA's or the network's reason. */
  async order(domain: string): Promise<IssuedPair> {
    // acme-client reports a network failure as a TypeError about its own internals: ask the directory first, so
    // the operator reads ECONNREFUSED or "unable to verify the first certificate" instead.
    await this.#reachDirectory();
    const {acme, client} = await (this.#client ??= this.#connect());
    const domainKey = await acme.crypto.createPrivateEcdsaKey('P-256');
    const [, csr] = await acme.crypto.createCsr({commonName: domain, altNames: [domain]}, domainKey);
    const sniDir = this.#options.sniDir;
    const certPem = await client.auto({
      csr,
      ...(this.#options.email === undefined ? {} : {email: this.#options.email}),
      termsOfServiceAgreed: true,
      challengePriority: ['http-01'],
      // acme-client would fetch the token itself first; the CA's own check is the one that counts, and a name on a
      // private network may not resolve from here.
      skipChallengeVerification: true,
      challengeCreateFn: async (_authz, challenge, keyAuthorization) => {
        if (challenge.type !== 'http-01') throw new Error(`challenge ${challenge.type} is not supported (http-01 only)`);
        writeChallenge(sniDir, challenge.token, keyAuthorization);
      },
      challengeRemoveFn: async (_authz, challenge) => {
        if (challenge.type === 'http-01') removeChallenge(sniDir, challenge.token);
      },
    });
    const info = acme.crypto.readCertificateInfo(certPem);
    return {keyPem: domainKey, certPem, notAfterMs: info.notAfter.getTime()};
  }

  #reachDirectory(): Promise<void> {
    const url = new URL(this.#options.directoryUrl);
    const get = url.protocol === 'http:' ? httpGet : httpsGet;
    const ca = this.#options.caFile === undefined ? undefined : [...rootCertificates, readFileSync(this.#options.caFile, 'utf8')];
    return new Promise((resolve, reject) => {
      const req = get(url, {timeout: 10_000, ...(ca === undefined ? {} : {ca})}, (res) => {
        res.resume();
        if ((res.statusCode ?? 0) >= 200 && (res.statusCode ?? 0) < 300) resolve();
        else reject(new Error(`the directory answered HTTP ${res.statusCode ?? '?'}`));
      });
      req.on('timeout', () => req.destroy(Object.assign(new Error('the directory did not answer within 10 s'), {code: 'ETIMEDOUT'})));
      req.on('error', (error: NodeJS.ErrnoException) => reject(new Error(`cannot reach the directory: ${error.message}${error.code !== undefined && !error.message.includes(error.code) ? ` (${error.code})` : ''}`)));
    });
  }

  async #connect(): Promise<{acme: AcmeModule; client: InstanceType<AcmeModule['Client']>}> {
    const acme = (await import('acme-client')).default;
    // acme-client retries a failed request 5 times, 5 s more each time (75 s before an order fails when the server is
    // down); two quick retries are enough inside an order, kaiser's own backoff spaces out the orders.
    const settings = (acme.axios.defaults as {acmeSettings?: {retryMaxAttempts: number; retryDefaultDelay: number}}).acmeSettings;
    if (settings !== undefined) Object.assign(settings, {retryMaxAttempts: 2, retryDefaultDelay: 1});
    if (this.#options.caFile !== undefined) {
      // acme-client talks through its own axios instance: trust the private CA there, next to the system's roots.
      acme.axios.defaults.httpsAgent = new Agent({ca: [...rootCertificates, readFileSync(this.#options.caFile, 'utf8')], keepAlive: true});
    }
    const keyFile = join(acmeDir(this.#options.sniDir), 'account.key');
    let accountKey: Buffer;
    if (existsSync(keyFile)) {
      accountKey = readFileSync(keyFile);
    } else {
      accountKey = await acme.crypto.createPrivateEcdsaKey('P-256');
      writeFileAtomic(keyFile, accountKey, 0o600);
    }
    // Few quick retries inside one order; kaiser's own backoff (acme-manager.ts) spaces out whole orders.
    const client = new acme.Client({directoryUrl: this.#options.directoryUrl, accountKey, backoffAttempts: 5, backoffMin: 500, backoffMax: 5_000});
    return {acme, client};
  }
}
