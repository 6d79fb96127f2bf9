/**
 * Automatic certificates: every vassal domain without a certificate in the sni-dir gets one from the ACME server,
 * and every certificate kaiser ordered is renewed before it expires. Certificates an operator put in the sni-dir
 * are left alone (kaiser renews only what it has an issue record for, `.acme/NAME.json`).
 *
 * One state per domain, checked once a second against the route table and the files:
 *
 *   (new) ──no pair──► ordering ──ISSUED──► valid ──RENEW_DUE──► ordering
 *     │                 │    ▲                 ▲
 *     │ pair present    │    └── RETRY_DUE ──┐ │ a pair appears (operator)
 *     ▼                 ▼ FAILED              │ │
 *   valid            backoff ─────────────────┘─┘
 *
 * Renewal is due when a third of the certificate's lifetime is left, or 30 days, whichever comes first (Let's
 * Encrypt's 90-day certificates renew at 30 days left). Failures back off 1 min, 2, 4 … up to 6 h, and a domain is
 * ordered at most `maxOrdersPerHour` times an hour whatever happens (CAs rate-limit per domain too: Let's Encrypt
 * allows 5 failed validations per hour). Orders run one at a time.
 */
import type {Logger} from '../../log/logger.js';
import {formatError} from '../../errors.js';
import {isSafeName, type SniStore} from '../tls/sni-store.js';
import {installPair, readIssueRecord, writeIssueRecord} from './cert-files.js';
import type {IssuedPair} from './acme-order.js';

/** What the manager needs of an ACME account (acme-order.ts; a fake in unit tests). */
export interface CertificateSource {
  order(domain: string): Promise<IssuedPair>;
}

export type DomainState =
  | {id: 'ordering'; since: number}
  | {id: 'valid'; notAfterMs: number; renewAtMs: number; ours: boolean}
  | {id: 'backoff'; failures: number; retryAt: number; lastError: string};

export interface AcmeManagerOptions {
  readonly sniDir: string;
  readonly directoryUrl: string;
  readonly store: SniStore;
  readonly source: CertificateSource;
  /** The domains vassals declare (wildcards included: they are reported and skipped). */
  readonly wantedDomains: () => readonly string[];
  readonly log: Logger;
  /** Wall clock, ms since the epoch (certificate dates are wall-clock). */
  readonly now?: () => number;
  readonly tickMs?: number;
  readonly maxOrdersPerHour?: number;
  readonly backoffMinMs?: number;
  readonly backoffMaxMs?: number;
}

const DAY_MS = 86_400_000;

export class AcmeManager {
  readonly #options: AcmeManagerOptions;
  readonly #log: Logger;
  readonly #now: () => number;
  readonly #states = new Map<string, DomainState>();
  readonly #ordersAt = new Map<string, number[]>();
  readonly #skipped = new Set<string>();
  #busy = false;
  #timer: NodeJS.Timeout | undefined;

  constructor(options: AcmeManagerOptions) {
    this.#options = options;
    this.#log = options.log.child({component: 'acme'});
    this.#now = options.now ?? Date.now;
  }

  start(): void {
    this.#timer ??= setInterval(() => this.tick(), this.#options.tickMs ?? 1_000);
    this.#timer.unref();
    this.tick();
  }

  stop(): void {
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
  }

  /** The state of a domain (tests, stats). */
  stateOf(domain: string): DomainState | undefined {
    return this.#states.get(domain);
  }

  /** One pass: start at most one order for the first domain that needs one. */
  tick(): void {
    if (this.#busy) return;
    const now = this.#now();
    for (const raw of new Set(this.#options.wantedDomains())) {
      const domain = raw.toLowerCase();
      if (!this.#orderable(domain)) continue;
      const due = this.#due(domain, now);
      if (!due) continue;
      if (!this.#withinRateLimit(domain, now)) continue;
      void this.#order(domain, now);
      return;
    }
  }

  /** Whether `domain` needs an order now, updating its state from the files. */
  #due(domain: string, now: number): boolean {
    const state = this.#states.get(domain);
    if (state?.id === 'ordering') return false;
    const notAfterMs = this.#options.store.hasOwnPair(domain) ? this.#options.store.notAfterOf(domain) : undefined;
    if (notAfterMs !== undefined) {
      const record = readIssueRecord(this.#options.sniDir, domain);
      const ours = record !== undefined;
      const renewAtMs = ours ? renewAt(Date.parse(record.issuedAt), notAfterMs) : Number.POSITIVE_INFINITY;
      if (state?.id !== 'valid' || state.notAfterMs !== notAfterMs) this.#states.set(domain, {id: 'valid', notAfterMs, renewAtMs, ours});
      if (now < renewAtMs) return false;
      // Due for renewal, unless a failed renewal is still backing off.
      if (state?.id === 'backoff' && now < state.retryAt) return false;
      return true;
    }
    if (state?.id === 'backoff' && now < state.retryAt) return false;
    return true;
  }

  #orderable(domain: string): boolean {
    const reason = domain.startsWith('*.')
      ? 'a wildcard name needs the DNS-01 challenge, which kaiser does not do'
      : !isSafeName(domain) || !domain.includes('.') || /^[0-9.]+$/.test(domain)
        ? 'not a DNS name a CA would certify'
        : undefined;
    if (reason === undefined) return true;
    if (!this.#skipped.has(domain)) {
      this.#skipped.add(domain);
      this.#log.warn('no ACME certificate', {uwsgi: `[acme] ${formatError('KAISER_ACME_SKIPPED', {domain, reason})}`, code: 'KAISER_ACME_SKIPPED', domain});
    }
    return false;
  }

  #withinRateLimit(domain: string, now: number): boolean {
    const recent = (this.#ordersAt.get(domain) ?? []).filter((at) => now - at < 3_600_000);
    this.#ordersAt.set(domain, recent);
    return recent.length < (this.#options.maxOrdersPerHour ?? 5);
  }

  async #order(domain: string, now: number): Promise<void> {
    this.#busy = true;
    const previous = this.#states.get(domain);
    this.#states.set(domain, {id: 'ordering', since: now});
    this.#ordersAt.get(domain)?.push(now);
    this.#log.info('ordering certificate', {uwsgi: `[acme] ordering a certificate for ${domain} from ${this.#options.directoryUrl}`, domain});
    try {
      const issued = await this.#options.source.order(domain);
      installPair(this.#options.sniDir, domain, issued.keyPem, issued.certPem);
      const issuedAt = new Date(this.#now()).toISOString();
      writeIssueRecord(this.#options.sniDir, {domain, directory: this.#options.directoryUrl, issuedAt, notAfter: new Date(issued.notAfterMs).toISOString()});
      this.#states.set(domain, {id: 'valid', notAfterMs: issued.notAfterMs, renewAtMs: renewAt(Date.parse(issuedAt), issued.notAfterMs), ours: true});
      this.#log.info('certificate issued', {uwsgi: `[acme] certificate for ${domain} issued, valid until ${new Date(issued.notAfterMs).toISOString()}`, domain, notAfter: new Date(issued.notAfterMs).toISOString()});
    } catch (error) {
      const failures = (previous?.id === 'backoff' ? previous.failures : 0) + 1;
      const waitMs = Math.min((this.#options.backoffMinMs ?? 60_000) * 2 ** (failures - 1), this.#options.backoffMaxMs ?? 6 * 3_600_000);
      const cause = describe(error);
      this.#states.set(domain, {id: 'backoff', failures, retryAt: this.#now() + waitMs, lastError: cause});
      this.#log.error('certificate order failed', {
        uwsgi: `[acme] ${formatError('KAISER_ACME_FAILED', {domain, directory: this.#options.directoryUrl, cause, retrySeconds: Math.round(waitMs / 1000)})}`,
        code: 'KAISER_ACME_FAILED',
        domain,
        cause,
        failures,
      });
    } finally {
      this.#busy = false;
    }
  }
}

/** When a certificate issued at `issuedMs` and expiring at `notAfterMs` is renewed. */
export function renewAt(issuedMs: number, notAfterMs: number): number {
  const lifetime = Math.max(notAfterMs - (Number.isFinite(issuedMs) ? issuedMs : notAfterMs - 90 * DAY_MS), 0);
  const before = Math.min(lifetime / 3, 30 * DAY_MS);
  return notAfterMs - before;
}

function describe(error: unknown): string {
  if (error instanceof Error) {
    const code = (error as NodeJS.ErrnoException).code;
    return code !== undefined && !error.message.includes(code) ? `${error.message} (${code})` : error.message;
  }
  return String(error);
}
