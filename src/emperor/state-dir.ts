/**
 * Where the emperor keeps what must outlive it (today: the front router's domain claims, so a contested domain stays
 * with its holder across a restart). `--emperor-state-dir DIR` when given; otherwise, under `--emperor-tyrant` only
 * (where owners are tenants who contest domains), the usual place for a service's state: `$STATE_DIRECTORY` (set by
 * systemd's `StateDirectory=`), `/var/lib/kaiser` for root, else `$XDG_STATE_HOME/kaiser` (`~/.local/state/kaiser`).
 * Without tyrant mode every vassal file is the operator's, so nothing is kept unless asked for. Pure: creates nothing
 * (the claims file makes the directory 0700 when it first writes).
 */
import {isAbsolute, join} from 'node:path';

/** What choosing the default depends on; every field defaults to the real process. */
export interface StateDirFacts {
  readonly uid?: number;
  readonly env?: Readonly<Record<string, string | undefined>>;
}

/** The emperor's state directory, or undefined when nothing is to be kept. */
export function resolveStateDir(flag: string | undefined, tyrant: boolean, facts: StateDirFacts = {}): string | undefined {
  if (flag !== undefined && flag !== '') return flag;
  if (!tyrant) return undefined;
  const env = facts.env ?? process.env;
  // systemd passes every StateDirectory= entry, separated by colons; the first is the unit's own.
  const fromSystemd = env['STATE_DIRECTORY']?.split(':')[0];
  if (fromSystemd !== undefined && isAbsolute(fromSystemd)) return fromSystemd;
  if ((facts.uid ?? process.getuid?.() ?? 0) === 0) return '/var/lib/kaiser';
  const xdg = env['XDG_STATE_HOME'];
  if (xdg !== undefined && isAbsolute(xdg)) return join(xdg, 'kaiser');
  const home = env['HOME'];
  return home !== undefined && isAbsolute(home) ? join(home, '.local', 'state', 'kaiser') : undefined;
}
