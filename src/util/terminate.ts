/**
 * Ending a process, the one way kaiser does it (execa's `lib/terminate/`): ask → grace → force. The ask is whatever
 * the process understands (a stop signal, the emperor pipe's stop byte, closing its stdin, an IPC disconnect); the
 * force is a SIGKILL of its process group (or of the process, for helpers that do not lead a group). Whoever ends a
 * process calls this, so the grace is never forgotten and the force timer never outlives the process.
 */

export interface TerminateOptions {
  /** Asks the process to stop. */
  ask: () => void;
  /** How long it may take before `force`. */
  graceMs: number;
  /** Called once the grace is over and it still runs: SIGKILL of the group (and a log line saying so). */
  force: () => void;
  /** Default: node's setTimeout (the emperor passes its System's clock). */
  setTimer?: (ms: number, fn: () => void) => () => void;
}

/** Asks, waits `graceMs`, then forces. Resolves with the exit once `exited` does. */
export async function terminate<T>(exited: Promise<T>, options: TerminateOptions): Promise<T> {
  options.ask();
  const setTimer = options.setTimer ?? defaultTimer;
  const cancel = setTimer(options.graceMs, options.force);
  try {
    return await exited;
  } finally {
    cancel();
  }
}

function defaultTimer(ms: number, fn: () => void): () => void {
  const timer = setTimeout(fn, ms);
  return () => clearTimeout(timer);
}

/** Sends `signal` to the process group `pgid` leads (the usual force: SIGKILL); a group already gone is no error. */
export function signalGroup(pgid: number, signal: NodeJS.Signals = 'SIGKILL'): void {
  if (pgid <= 0) return;
  try {
    process.kill(-pgid, signal);
  } catch {
    // ESRCH: the group is gone already.
  }
}
