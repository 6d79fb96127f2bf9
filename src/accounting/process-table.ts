/**
 * Per-vassal CPU and memory, summed over each vassal's whole process tree, in one pass over /proc per tick.
 *
 * Every vassal leads its own session (the emperor spawns it detached), and its workers and helpers inherit that
 * session, so one read of /proc/PID/stat per process gives ppid, session, CPU ticks and RSS for every process on the
 * machine, grouped by session id: no process spawn and no per-vassal scan, which keeps accounting cheap with a
 * thousand vassals (pidusage would cost one read per pid per call and cannot see the tree). Where /proc is missing
 * (not Linux) it falls back to pidusage on each vassal's leader process only.
 */
import {execFileSync} from 'node:child_process';
import {readdirSync, readFileSync} from 'node:fs';
import pidusage from 'pidusage';

/** Usage of one vassal's tree at one instant. */
export interface TreeUsage {
  /** CPU time used so far by the live processes of the tree, in seconds. */
  cpuSeconds: number;
  rssBytes: number;
  processes: number;
}

function sysconf(name: string, fallback: number): number {
  try {
    const value = Number(execFileSync('getconf', [name], {encoding: 'utf8'}).trim());
    return Number.isFinite(value) && value > 0 ? value : fallback;
  } catch {
    return fallback;
  }
}

const HAS_PROC = (() => {
  try {
    readFileSync('/proc/self/stat');
    return true;
  } catch {
    return false;
  }
})();
const CLOCK_TICKS = HAS_PROC ? sysconf('CLK_TCK', 100) : 100;
const PAGE_BYTES = HAS_PROC ? sysconf('PAGESIZE', 4096) : 4096;

/**
 * Reads numeric fields of one /proc/PID/stat line in increasing order without splitting it (a tick reads every
 * process on the machine: splitting made some 50 strings per process).
 */
class StatFields {
  readonly #text: string;
  #at: number;
  #field = 0;

  constructor(text: string, at: number) {
    this.#text = text;
    this.#at = at;
  }

  /** Field `index` (not before the last one read) as a number. */
  next(index: number): number {
    while (this.#field < index) {
      this.#at = this.#text.indexOf(' ', this.#at) + 1;
      this.#field += 1;
    }
    const end = this.#text.indexOf(' ', this.#at);
    return Number(this.#text.slice(this.#at, end < 0 ? undefined : end));
  }
}

/**
 * Reads /proc once and returns usage per session id, for the sessions asked for. Rejects (never throws) when the pass
 * cannot be complete, EMFILE included: the caller keeps its previous figures.
 */
export async function sampleSessions(sessions: ReadonlySet<number>): Promise<Map<number, TreeUsage>> {
  const usage = new Map<number, TreeUsage>();
  if (sessions.size === 0) return usage;
  if (!HAS_PROC) return sampleWithPidusage(sessions);
  for (const entry of readdirSync('/proc')) {
    const first = entry.charCodeAt(0);
    if (first < 48 || first > 57) continue;
    let text: string;
    try {
      // 'utf8' takes Node's native whole-file read: other encodings read a size-0 /proc file through two fresh
      // 64 KiB buffers (measured: 2.5x slower, and 128 kB of malloc churn per process per tick).
      text = readFileSync(`/proc/${entry}/stat`, 'utf8');
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'ESRCH') continue; // exited between readdir and read
      // EMFILE and friends: a partial pass would under-count a vassal (and mislead memory-limit); fail the pass.
      throw error;
    }
    // Fields after the command name (which may contain spaces and parentheses), counted from 0 = state.
    const fields = new StatFields(text, text.lastIndexOf(')') + 2);
    const session = fields.next(3);
    if (!sessions.has(session)) continue;
    const ticks = fields.next(11) + fields.next(12);
    const rssPages = fields.next(21);
    const total = usage.get(session) ?? {cpuSeconds: 0, rssBytes: 0, processes: 0};
    total.cpuSeconds += ticks / CLOCK_TICKS;
    total.rssBytes += rssPages * PAGE_BYTES;
    total.processes += 1;
    usage.set(session, total);
  }
  return usage;
}

async function sampleWithPidusage(sessions: ReadonlySet<number>): Promise<Map<number, TreeUsage>> {
  const usage = new Map<number, TreeUsage>();
  for (const pid of sessions) {
    try {
      const stat = await pidusage(pid);
      usage.set(pid, {cpuSeconds: stat.ctime / 1000, rssBytes: stat.memory, processes: 1});
    } catch {
      // gone
    }
  }
  return usage;
}
