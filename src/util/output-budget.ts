/**
 * What one vassal's output may cost the emperor (issue 14, "bounded work"). Every line a vassal prints is split,
 * decoded, logged, written to its `logto` file and kept for `kaiser logs`, all on the emperor's one thread: one
 * `exec = ["yes"]` vassal used to take that thread whole (`kaiser ls` took 4-6 s, new vassals waited). Two token
 * buckets per vassal instance bound it:
 *
 * - **lines**: `LINES_PER_SECOND` sustained, `BURST_LINES` at once (a start-up traceback fits). Lines over it are
 *   dropped and counted, as journald's rate limit does, and the count is said as a line of the vassal's output
 *   every `REPORT_EVERY_MS` while it lasts (`KAISER_VASSAL_OUTPUT_DROPPED`). An emperor-wide bucket (`shared`)
 *   bounds all vassals together, so a hundred chatty vassals cost what a few do.
 * - **bytes**: `BYTES_PER_SECOND` sustained, `BURST_BYTES` at once. Past it the emperor stops reading the pipe
 *   until the bucket refills: the vassal's writes block (back-pressure, as a full pipe does), and the emperor never
 *   spends more than that reading output it would drop.
 *
 * Clock and timers are injected (the emperor's System), so tests move time by hand.
 */

/** Sustained lines per second one vassal instance may have logged. */
export const LINES_PER_SECOND = 5_000;
/** Lines one instance may log at once before the rate applies. */
export const BURST_LINES = 10_000;
/** Lines per second all vassals together may have logged. */
export const SHARED_LINES_PER_SECOND = 20_000;
/** Sustained bytes per second read from one instance's output. */
export const BYTES_PER_SECOND = 8 * 1024 * 1024;
/** Bytes read at once before the rate applies. */
export const BURST_BYTES = 16 * 1024 * 1024;
/** While lines are dropped, how often the count is said. */
export const REPORT_EVERY_MS = 5_000;

/** The clock and timers a budget runs on. */
export interface BudgetClock {
  /** Milliseconds (any origin). */
  now(): number;
  /** Calls `fn` once after `ms`; returns the cancel function. */
  setTimer(ms: number, fn: () => void): () => void;
}

/** Node's own clock and timers (for parts of the emperor that do not run on its System). */
export const REAL_CLOCK: BudgetClock = {
  now: () => performance.now(),
  setTimer(ms, fn) {
    const timer = setTimeout(fn, ms);
    return () => clearTimeout(timer);
  },
};

/** A token bucket: `rate` tokens per second, at most `burst` saved. */
export class TokenBucket {
  readonly #rate: number;
  readonly #burst: number;
  readonly #clock: BudgetClock;
  #tokens: number;
  #at: number;

  constructor(rate: number, burst: number, clock: BudgetClock) {
    this.#rate = rate;
    this.#burst = burst;
    this.#clock = clock;
    this.#tokens = burst;
    this.#at = clock.now();
  }

  /** Takes `n` tokens if there are that many (true), else none (false). */
  take(n = 1): boolean {
    this.#refill();
    if (this.#tokens < n) return false;
    this.#tokens -= n;
    return true;
  }

  /** Takes `n` tokens even into debt; returns how many ms until the bucket is out of debt (0: it is not). */
  charge(n: number): number {
    this.#refill();
    this.#tokens -= n;
    return this.#tokens >= 0 ? 0 : Math.ceil((-this.#tokens / this.#rate) * 1000);
  }

  #refill(): void {
    const now = this.#clock.now();
    const elapsedMs = now - this.#at;
    if (elapsedMs <= 0) return;
    this.#at = now;
    this.#tokens = Math.min(this.#burst, this.#tokens + (elapsedMs / 1000) * this.#rate);
  }
}

export interface OutputBudgetOptions {
  clock: BudgetClock;
  /** The emperor-wide line bucket (`sharedLineBucket`), consulted after the instance's own. */
  shared?: TokenBucket;
  /** Says how many lines were dropped over how many seconds (a line of the vassal's output, unbudgeted). */
  onDropped: (lines: number, seconds: number) => void;
  linesPerSecond?: number;
  burstLines?: number;
  bytesPerSecond?: number;
  burstBytes?: number;
}

/** The budget of one vassal instance's output (stdout and stderr together). */
export class OutputBudget {
  readonly #clock: BudgetClock;
  readonly #lines: TokenBucket;
  readonly #bytes: TokenBucket;
  readonly #shared: TokenBucket | undefined;
  readonly #onDropped: (lines: number, seconds: number) => void;
  #dropped = 0;
  #droppedTotal = 0;
  #droppingSince = 0;
  #cancelReport: (() => void) | undefined;

  constructor(options: OutputBudgetOptions) {
    this.#clock = options.clock;
    this.#lines = new TokenBucket(options.linesPerSecond ?? LINES_PER_SECOND, options.burstLines ?? BURST_LINES, options.clock);
    this.#bytes = new TokenBucket(options.bytesPerSecond ?? BYTES_PER_SECOND, options.burstBytes ?? BURST_BYTES, options.clock);
    this.#shared = options.shared;
    this.#onDropped = options.onDropped;
  }

  /** Lines dropped over the whole life of the instance. */
  get droppedLines(): number {
    return this.#droppedTotal;
  }

  /** True when one more line may be handled; false: drop it (it is counted). */
  takeLine(): boolean {
    if (this.#lines.take() && (this.#shared === undefined || this.#shared.take())) return true;
    this.dropLines(1);
    return false;
  }

  /** Counts `n` more lines dropped without asking the buckets (the rest of a chunk after a refused line). */
  dropLines(n: number): void {
    this.#dropped += n;
    this.#droppedTotal += n;
    if (this.#cancelReport === undefined) {
      this.#droppingSince = this.#clock.now();
      this.#cancelReport = this.#clock.setTimer(REPORT_EVERY_MS, () => this.#report());
    }
  }

  /** Counts `n` bytes read; returns how long to stop reading (0: go on). */
  takeBytes(n: number): number {
    return this.#bytes.charge(n);
  }

  /** The instance is gone: say what is still uncounted. */
  close(): void {
    this.#cancelReport?.();
    if (this.#dropped > 0) this.#report();
  }

  #report(): void {
    this.#cancelReport = undefined;
    const lines = this.#dropped;
    this.#dropped = 0;
    if (lines > 0) this.#onDropped(lines, Math.max(1, Math.round((this.#clock.now() - this.#droppingSince) / 1000)));
  }
}

/** The emperor-wide line bucket every instance's budget shares. */
export function sharedLineBucket(clock: BudgetClock): TokenBucket {
  return new TokenBucket(SHARED_LINES_PER_SECOND, SHARED_LINES_PER_SECOND, clock);
}
