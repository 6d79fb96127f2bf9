/**
 * Turns periodic tree samples into per-vassal figures: CPU % (of one core, over the last interval), RSS bytes and
 * process count. Keyed by the vassal's leader pid (= its session id).
 */
import {sampleSessions} from './process-table.js';

/** Figures for one vassal. */
export interface VassalUsage {
  cpuPercent: number;
  cpuSeconds: number;
  rssBytes: number;
  processes: number;
  sampledAt: number;
}

/** Keeps the previous sample of each session to compute CPU % from deltas. */
export class Accountant {
  readonly #previous = new Map<number, {cpuSeconds: number; at: number}>();
  readonly #latest = new Map<number, VassalUsage>();

  /**
   * Samples the given leader pids once. `measured` holds figures read elsewhere (a vassal's cgroup counters), which
   * replace the /proc sums of those leaders' memory and CPU time.
   */
  async sample(pids: readonly number[], measured: ReadonlyMap<number, {rssBytes: number; cpuSeconds: number}> = new Map()): Promise<void> {
    const sessions = new Set(pids.filter((pid) => pid > 0));
    const now = performance.now();
    const usage = await sampleSessions(sessions);
    for (const [pid, figures] of measured) {
      if (!sessions.has(pid)) continue;
      usage.set(pid, {...figures, processes: usage.get(pid)?.processes ?? 0});
    }
    for (const pid of [...this.#latest.keys()]) if (!sessions.has(pid)) this.#latest.delete(pid);
    for (const pid of [...this.#previous.keys()]) if (!sessions.has(pid)) this.#previous.delete(pid);
    for (const [pid, tree] of usage) {
      const before = this.#previous.get(pid);
      const seconds = before ? (now - before.at) / 1000 : 0;
      const cpuPercent = before && seconds > 0 ? Math.max(0, ((tree.cpuSeconds - before.cpuSeconds) / seconds) * 100) : 0;
      this.#previous.set(pid, {cpuSeconds: tree.cpuSeconds, at: now});
      this.#latest.set(pid, {cpuPercent, cpuSeconds: tree.cpuSeconds, rssBytes: tree.rssBytes, processes: tree.processes, sampledAt: Date.now()});
    }
  }

  /** The last figures for a leader pid, if sampled. */
  usageOf(pid: number): VassalUsage | undefined {
    return this.#latest.get(pid);
  }
}
