/**
 * The emperor's open-file limit, said once at start. Every vassal costs the emperor a few descriptors (pipes, held
 * sockets; an on-demand vassal one per socket here and one in the runtime host). Node raises its soft RLIMIT_NOFILE
 * to the hard limit at start; say what we got, and warn when it is low for mass hosting (raise the hard limit:
 * LimitNOFILE= in the systemd unit, ulimit -Hn).
 */
import type {Logger} from '../log/logger.js';
import type {System} from '../system/system.js';

/** Below this soft limit the emperor warns. */
const MASS_HOSTING_FILES = 16384;

/** Reads /proc/self/limits and logs the open-file limit (nothing where /proc is missing). */
export async function logOpenFileLimit(sys: System, log: Logger): Promise<void> {
  let text: string;
  try {
    text = (await sys.readFile('/proc/self/limits')).toString('utf8');
  } catch {
    return;
  }
  const fields = text.split('\n').find((l) => l.startsWith('Max open files'))?.split(/\s+/) ?? [];
  const soft = Number(fields[3]);
  const hard = Number(fields[4]);
  if (!Number.isFinite(soft)) return;
  const message = `open-file limit ${soft} (hard ${Number.isFinite(hard) ? hard : 'unlimited'}; a vassal needs 1-3 descriptors here)`;
  if (soft < MASS_HOSTING_FILES) log.warn('low open-file limit', {uwsgi: `[emperor] ${message}; raise it for mass hosting (LimitNOFILE= / ulimit -n)`});
  else log.info('open-file limit', {uwsgi: `[emperor] ${message}`});
}
