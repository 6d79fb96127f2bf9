/**
 * Per-vassal `memory-limit` and `cpu-limit`. When the emperor may manage cgroups (detected once, and said once in
 * the log), each limited vassal gets a group of its own, and an OOM kill inside it is reported as the limit's doing.
 * Without cgroups, memory-limit is enforced by sampling (the vassal's tree over its limit at an accounting tick is
 * SIGKILLed) and cpu-limit is reported, once per vassal, as not enforced. Either way a child that died over its
 * limit is named as such (`exitReason`), so the vassal reports "killed: over memory-limit" and backs off.
 */
import type {VassalSpec} from '../config/vassal-spec.js';
import type {Logger} from '../log/logger.js';
import {formatError} from '../errors.js';
import {err, ok, type Result} from '../result.js';
import type {VassalUsage} from '../accounting/accountant.js';
import {Cgroups, detectCgroups, type VassalCgroup} from './cgroups.js';
import {SETPRIV, type Child} from './child.js';

/** An exit this soon after a tick saw the group's OOM kill counter rise is attributed to the limit. */
const OOM_ATTRIBUTION_MS = 3_000;

interface LimitState {
  cgroup: VassalCgroup | undefined;
  /** The group's OOM kill counter as last seen, and when a tick last saw it rise. */
  oomKills: number;
  oomSeenAt: number;
  /** The child the sampling killed for going over memory-limit (no cgroups). */
  memoryKill: Child | undefined;
  /** "cpu-limit needs cgroups" and friends are said once per vassal. */
  warned: string | undefined;
}

/** A running vassal as the limits see it. */
export interface LimitedVassal {
  name: string;
  spec: VassalSpec | undefined;
  child: Child | undefined;
}

export interface VassalLimitsOptions {
  log: Logger;
  /** The accounting period (0: off, so sampling cannot enforce memory-limit). */
  accountingMs: number;
}

/** The limits of every vassal of one emperor. */
export class VassalLimits {
  readonly #options: VassalLimitsOptions;
  readonly #states = new Map<string, LimitState>();
  /** Undefined until a vassal with a limit appears, null when cgroups cannot be used. */
  #cgroups: Cgroups | null | undefined;

  constructor(options: VassalLimitsOptions) {
    this.#options = options;
  }

  /**
   * Applies `spec`'s limits to vassal `name` (creating, updating or relaxing its group). `dropsPrivileges`: the
   * vassal runs as another user. An error (`CODE message`) refuses the vassal.
   */
  apply(name: string, spec: VassalSpec, dropsPrivileges: boolean): Result<void, string> {
    const state = this.#states.get(name);
    const limits = {memoryLimitBytes: spec.memoryLimitBytes, cpuLimitPercent: spec.cpuLimitPercent};
    const wantsLimits = limits.memoryLimitBytes > 0 || limits.cpuLimitPercent > 0;
    const cgroups = wantsLimits || state?.cgroup ? this.#open() : undefined;
    if (cgroups && wantsLimits) {
      if (spec.kind === 'command' && dropsPrivileges && SETPRIV === undefined) {
        return err(`KAISER_LIMITS_NEED_SETPRIV ${formatError('KAISER_LIMITS_NEED_SETPRIV', {vassal: name})}`);
      }
      try {
        if (state?.cgroup) state.cgroup.setLimits(limits);
        else {
          const cgroup = cgroups.create(name, limits);
          const next = this.#stateOf(name);
          next.cgroup = cgroup;
          next.oomKills = cgroup.oomKills();
        }
      } catch (error) {
        const reason = `cannot set up the cgroup of ${name}: ${(error as Error).message}`;
        return err(`KAISER_CONFIG_BAD_VALUE ${formatError('KAISER_CONFIG_BAD_VALUE', {key: 'memory-limit/cpu-limit', reason})}`);
      }
    } else if (state?.cgroup) {
      // Limits removed: the running instance stays in its group, now unlimited.
      state.cgroup.setLimits(limits);
    }
    if (!cgroups && wantsLimits) this.#warnUnenforced(name, spec);
    return ok(undefined);
  }

  /** The vassal's cgroup, if it has one (spawns join it; accounting reads its counters). */
  cgroupOf(name: string): VassalCgroup | undefined {
    return this.#states.get(name)?.cgroup;
  }

  /** Why `child` of vassal `name` died, when it was over its memory-limit (OOM kill in the group, or our SIGKILL). */
  exitReason(name: string, spec: VassalSpec | undefined, child: Child): string | undefined {
    const state = this.#states.get(name);
    const limitBytes = spec?.memoryLimitBytes ?? 0;
    if (!state || limitBytes <= 0) return undefined;
    let over = state.memoryKill === child;
    state.memoryKill = undefined;
    if (state.cgroup) {
      const kills = state.cgroup.oomKills();
      // A kill the last tick already counted still explains an exit that follows it closely.
      if (kills > state.oomKills || Date.now() - state.oomSeenAt < OOM_ATTRIBUTION_MS) over = true;
      state.oomKills = kills;
      state.oomSeenAt = 0;
    }
    return over ? formatError('KAISER_VASSAL_OVER_MEMORY_LIMIT', {limitMb: Math.round(limitBytes / 1048576)}) : undefined;
  }

  /** After each accounting sample: OOM kills inside groups are reported; without cgroups, memory-limit is enforced. */
  enforce(vassals: Iterable<LimitedVassal>, usageOf: (pid: number) => VassalUsage | undefined): void {
    for (const {name, spec, child} of vassals) {
      if (!spec || spec.memoryLimitBytes <= 0 || !child || child.pid <= 0) continue;
      const limitMb = Math.round(spec.memoryLimitBytes / 1048576);
      const state = this.#stateOf(name);
      if (state.cgroup) {
        const kills = state.cgroup.oomKills();
        if (kills > state.oomKills) {
          state.oomKills = kills;
          state.oomSeenAt = Date.now();
          this.#options.log.warn('vassal process killed over memory-limit', {
            uwsgi: `[emperor] the OOM killer killed a process of vassal ${name} (memory-limit ${limitMb} MB)`,
            vassal: name,
          });
        }
        continue;
      }
      const usage = usageOf(child.pid);
      if (usage === undefined || usage.rssBytes <= spec.memoryLimitBytes || state.memoryKill === child) continue;
      state.memoryKill = child;
      this.#options.log.warn('vassal over memory-limit', {
        uwsgi: `[emperor] vassal ${name} uses ${Math.round(usage.rssBytes / 1048576)} MB, over its memory-limit of ${limitMb} MB: killing it`,
        vassal: name,
        rssBytes: usage.rssBytes,
      });
      child.killGroup('SIGKILL');
    }
  }

  /** The vassal is gone: its group is removed. */
  forget(name: string): void {
    const state = this.#states.get(name);
    this.#states.delete(name);
    void state?.cgroup?.remove();
  }

  /** Removes every group (the emperor is stopping). */
  async close(): Promise<void> {
    await Promise.all([...this.#states.values()].flatMap(({cgroup}) => (cgroup ? [cgroup.remove()] : [])));
    this.#states.clear();
    this.#cgroups?.close();
  }

  #stateOf(name: string): LimitState {
    let state = this.#states.get(name);
    if (state === undefined) {
      state = {cgroup: undefined, oomKills: 0, oomSeenAt: 0, memoryKill: undefined, warned: undefined};
      this.#states.set(name, state);
    }
    return state;
  }

  /** Detects and opens cgroups once, saying in the log what the limits will rely on. */
  #open(): Cgroups | undefined {
    if (this.#cgroups !== undefined) return this.#cgroups ?? undefined;
    const opened = Cgroups.open(detectCgroups());
    const accountingMs = this.#options.accountingMs;
    if ('error' in opened) {
      this.#cgroups = null;
      const sampling = accountingMs > 0 ? `enforced by sampling every ${accountingMs / 1000} s (SIGKILL over the limit)` : 'not enforced (accounting is off)';
      this.#options.log.warn('cgroups unavailable', {
        uwsgi: `[emperor] cgroups unavailable (${opened.error}): memory-limit is ${sampling}; cpu-limit is not enforced`,
        reason: opened.error,
      });
      return undefined;
    }
    this.#cgroups = opened;
    const where = opened.support.kind === 'v1' ? opened.support.memory : opened.support.dir;
    this.#options.log.info('cgroups', {uwsgi: `[emperor] vassal limits through cgroup ${opened.support.kind} (${where}/kaiser-${process.pid})`, version: opened.support.kind});
    return opened;
  }

  #warnUnenforced(name: string, spec: VassalSpec): void {
    const problems: string[] = [];
    if (spec.cpuLimitPercent > 0) problems.push('cpu-limit needs cgroups: not enforced');
    if (spec.memoryLimitBytes > 0 && this.#options.accountingMs <= 0) problems.push('memory-limit needs cgroups or emperor-accounting-freq > 0: not enforced');
    const warning = problems.join('; ');
    const state = this.#stateOf(name);
    if (warning === '' || state.warned === warning) return;
    state.warned = warning;
    this.#options.log.warn('vassal limit not enforced', {uwsgi: `[emperor] vassal ${name}: ${warning}`, vassal: name});
  }
}
