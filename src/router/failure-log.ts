/**
 * Logs backend failures seen by a router process: at most one line per vassal per second, with how many were folded
 * into it, so a vassal failing under load cannot flood the emperor's log.
 */
import type {Logger} from '../log/logger.js';
import type {RouterFailure} from './error-page.js';

/** A vassal failing under load logs once per this long. */
const FAILURE_LOG_INTERVAL_MS = 1_000;

export class FailureLog {
  readonly #log: Logger;
  readonly #last = new Map<string, {at: number; suppressed: number}>();

  constructor(log: Logger) {
    this.#log = log;
  }

  /** Logs a failure to reach `upstream` (a 502/503/504 answer, or a member skipped). */
  report(failure: RouterFailure, upstream: string, {retried = false}: {retried?: boolean} = {}): void {
    if (failure.kind !== 'bad-gateway' && failure.kind !== 'unavailable' && failure.kind !== 'gateway-timeout') return;
    const now = Date.now();
    const last = this.#last.get(failure.vassal);
    if (last !== undefined && now - last.at < FAILURE_LOG_INTERVAL_MS) {
      last.suppressed += 1;
      return;
    }
    const suppressed = last?.suppressed ?? 0;
    this.#last.set(failure.vassal, {at: now, suppressed: 0});
    if (this.#last.size > 10_000) this.#last.clear();
    const status = failure.kind === 'bad-gateway' ? 502 : failure.kind === 'gateway-timeout' ? 504 : 503;
    const what = retried ? 'skipped (request retried on another backend)' : `answered ${status}`;
    this.#log.warn('vassal did not answer', {
      uwsgi: `[router] vassal ${failure.vassal} (${failure.state}) at ${upstream}: ${failure.cause}; ${what}${suppressed ? ` (+${suppressed} more)` : ''}`,
      vassal: failure.vassal,
      status: retried ? 0 : status,
      state: failure.state,
      upstream,
      cause: failure.cause,
      suppressed,
    });
  }
}

/** An upstream error as a short phrase for pages and logs. */
export function describeError(error: NodeJS.ErrnoException): string {
  switch (error.code) {
    case 'ECONNREFUSED':
      return 'connection refused';
    case 'ECONNRESET':
    case 'EPIPE':
      return 'connection reset';
    case 'ENOENT':
      return 'socket file missing';
    case 'ETIMEDOUT':
      return 'timed out';
    case undefined: // not a system call error: its message says what happened
    default:
      return error.message || error.code || 'error';
  }
}
