/**
 * The emperor's reserve of file descriptors (issue 14, "bounded work"). Every server in the emperor's process (the
 * stats server, the control socket, the dashboard, metrics) takes connections from anyone who can reach it, and each
 * connection is a descriptor; the emperor needs descriptors of its own to go on working: to read a vassal file,
 * spawn a vassal (three to five pipes), bind its sockets, scan /proc. So a server accepts a connection only while
 * that leaves `reserve` descriptors free under the soft RLIMIT_NOFILE, and closes it at once otherwise; the
 * connections already served are not touched. Servers also cap their own connections (each its own figure).
 *
 * The count of open descriptors is `/proc/self/fd` listed at most every 100 ms (a listing costs ~30 µs per thousand
 * descriptors) and counted up by each connection accepted in between. Where /proc is missing, only the caps apply.
 */
import {readdirSync, readFileSync} from 'node:fs';

/** How often the open descriptors are listed again. */
const RECOUNT_MS = 100;

export interface DescriptorReserveOptions {
  /** The soft open-file limit (default: read from /proc/self/limits). */
  limit?: number;
  /** Descriptors kept free for the emperor (default: a tenth of the limit, at least 64, at most 1024). */
  reserve?: number;
  /** Descriptors open now (default: the entries of /proc/self/fd). */
  countOpen?: () => number;
  now?: () => number;
}

/** Decides whether a server may take one more connection. */
export class DescriptorReserve {
  readonly limit: number;
  readonly reserve: number;
  readonly #countOpen: (() => number) | undefined;
  readonly #now: () => number;
  #open = 0;
  #countedAt = -Infinity;
  #refused = 0;

  constructor(options: DescriptorReserveOptions = {}) {
    this.limit = options.limit ?? softOpenFileLimit() ?? Infinity;
    this.reserve = options.reserve ?? Math.min(1024, Math.max(64, Math.floor(this.limit / 10)));
    this.#countOpen = options.countOpen ?? (Number.isFinite(this.limit) ? countOwnDescriptors : undefined);
    this.#now = options.now ?? (() => performance.now());
  }

  /** Connections refused so far to keep the reserve. */
  get refused(): number {
    return this.#refused;
  }

  /** True when one more descriptor still leaves the reserve free (and counts it as taken until the next listing). */
  mayOpen(): boolean {
    if (this.#countOpen === undefined) return true;
    const now = this.#now();
    if (now - this.#countedAt >= RECOUNT_MS) {
      try {
        this.#open = this.#countOpen();
        this.#countedAt = now;
      } catch {
        // Listing needs a descriptor itself: none left is the answer.
        this.#refused += 1;
        return false;
      }
    }
    if (this.#open + 1 > this.limit - this.reserve) {
      this.#refused += 1;
      return false;
    }
    this.#open += 1;
    return true;
  }
}

let shared: DescriptorReserve | undefined;

/** The reserve of this process, shared by all its servers. */
export function processDescriptors(): DescriptorReserve {
  return (shared ??= new DescriptorReserve());
}

/** The soft RLIMIT_NOFILE, or undefined (unlimited, or no /proc). */
export function softOpenFileLimit(): number | undefined {
  try {
    const match = /^Max open files\s+(\d+|unlimited)/m.exec(readFileSync('/proc/self/limits', 'utf8'));
    return match?.[1] === undefined || match[1] === 'unlimited' ? undefined : Number(match[1]);
  } catch {
    return undefined;
  }
}

function countOwnDescriptors(): number {
  // The listing's own descriptor is in it, and closed again.
  return readdirSync('/proc/self/fd').length - 1;
}
