/**
 * The emperor's accounting loop: samples the CPU and memory of every running vassal (one pass over /proc for all of
 * them, or a vassal's cgroup counters when it has a cgroup), then lets the limits act on the figures (limits.ts).
 * Accounting may take at most 1 % of a core: the next tick waits at least 100 times the last pass.
 */
import {Accountant, type VassalUsage} from '../accounting/accountant.js';
import type {System} from '../system/system.js';
import type {Containment} from './containment.js';
import type {LimitedVassal, VassalLimits} from './limits.js';

/** Accounting may take at most 1/ACCOUNTING_BUDGET of a core's CPU time (1 %). */
const ACCOUNTING_BUDGET = 100;

export interface VassalAccountingOptions {
  sys: System;
  /** Sampling period (0: only when asked, `sample()`). */
  accountingMs: number;
  limits: VassalLimits;
  /** Every vassal with its current child, if any. */
  vassals: () => Iterable<LimitedVassal>;
  /** Called after each periodic sample (the emperor's housekeeping). */
  afterTick?: () => void;
  /** The emperor's boundaries: a failed sample or limit check skips that tick (or that vassal), never the next. */
  containment: Containment;
}

/** CPU and RSS per vassal, sampled periodically. */
export class VassalAccounting {
  readonly #o: VassalAccountingOptions;
  readonly #accountant = new Accountant();
  #cancelTick: (() => void) | undefined;
  #stopped = false;

  constructor(options: VassalAccountingOptions) {
    this.#o = options;
  }

  /** Starts the periodic samples (if a period is set). */
  start(): void {
    if (this.#o.accountingMs > 0) this.#tick();
  }

  stop(): void {
    this.#stopped = true;
    this.#cancelTick?.();
  }

  /** The last figures of the vassal whose leader is `pid`. */
  usageOf(pid: number): VassalUsage | undefined {
    return this.#accountant.usageOf(pid);
  }

  /**
   * Samples every running vassal now. Never rejects: a pass over /proc that fails (EMFILE when descriptors run out,
   * or any other errno) keeps the previous figures; a vassal whose figures cannot be read is skipped.
   */
  async sample(): Promise<void> {
    // A vassal with a cgroup is accounted from its cgroup's counters (the whole group, even processes that left the
    // vassal's session); the others from one pass over /proc.
    const fromCgroups = new Map<number, {rssBytes: number; cpuSeconds: number}>();
    const leaders: number[] = [];
    const containment = this.#o.containment;
    for (const {name, child} of this.#o.vassals()) {
      if (child === undefined || child.pid <= 0) continue;
      containment.run({component: 'accounting', vassal: name, step: 'accounting'}, () => {
        containment.checkpoint('accounting', name);
        leaders.push(child.pid);
        const usage = this.#o.limits.cgroupOf(name)?.usage();
        if (usage) fromCgroups.set(child.pid, usage);
      });
    }
    const failure = await this.#accountant.sample(leaders, fromCgroups).catch((error: unknown) => error ?? 'failed');
    if (failure !== undefined) this.#o.containment.report({component: 'accounting'}, failure);
  }

  #tick(): void {
    const started = this.#o.sys.cpuMs();
    void this.sample().then(() => {
      this.#o.containment.run({component: 'accounting', step: 'limits'}, () => this.#o.limits.enforce(this.#o.vassals(), (pid) => this.#accountant.usageOf(pid)));
      this.#o.containment.run({component: 'accounting', step: 'log files'}, () => this.#o.afterTick?.());
      if (this.#stopped) return;
      // One /proc pass costs ~25 µs per process on the machine (the kernel formats every stat file): with a thousand
      // vassals that is ~50 ms. The next tick waits at least 100 times the last pass, so accounting stays under 1 % of
      // a core whatever the scale (2 s up to ~800 processes, then longer). The pass is measured in the emperor's CPU
      // time, not on the clock: on a busy machine the clock time of a pass grows with the other processes' load, and so
      // did the period (in a CI run at load 7, a hog over its memory-limit still lived 9 s after it started).
      const spentMs = this.#o.sys.cpuMs() - started;
      this.#cancelTick = this.#o.sys.setTimer(Math.max(this.#o.accountingMs, spentMs * ACCOUNTING_BUDGET), () => this.#tick(), {background: true});
    });
  }
}
