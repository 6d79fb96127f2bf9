/**
 * Process titles, uWSGI's `auto-procname` style: what `ps`, `top`, `pidof` and `systemd-cgls` show for kaiser's
 * Node processes. The title (`kaiser emperor /etc/kaiser/vassals`) goes where `ps` reads the command line: Node's
 * `process.title` overwrites the original argv area (it cannot grow past it: a longer title is cut). The short name
 * in `/proc/PID/comm` (what `pidof`, `top` and `ps -C` match) is set apart: Node would put the first 15 bytes of
 * the title there, and the emperor must be plain `kaiser` so that `kill -USR2 $(pidof kaiser)` reaches the emperor
 * and only it (masters are `kaiser master`, workers `kaiser worker N`: SIGUSR2 would end them).
 * The Python master and workers do the same in `src/server/python/procname.py`.
 */
import {writeFileSync} from 'node:fs';

/** The longest name `/proc/PID/comm` holds (TASK_COMM_LEN - 1). */
export const COMM_MAX_BYTES = 15;

/**
 * Sets the title `ps` shows and the short name (default: the title's first 15 bytes). Best effort: never throws.
 * `KAISER_PROCNAME=0` in the environment leaves both alone (as procname.py does; bench/procname-memory.py uses it).
 */
export function setProcessTitle(title: string, comm: string = title): void {
  if (process.env['KAISER_PROCNAME'] === '0') return;
  try {
    process.title = title;
  } catch {
    // Not settable on this platform: ps keeps showing node.
  }
  try {
    // /proc/self/comm names the main thread, the one `pidof` and `ps` look at.
    writeFileSync('/proc/self/comm', Buffer.from(comm).subarray(0, COMM_MAX_BYTES));
  } catch {
    // No /proc (not Linux): process.title already did what can be done.
  }
}
