/**
 * The environment of a tenant's vassal (tyrant mode): an explicit pass-list, never the emperor's whole environment
 * (issue 14: whatever the emperor was started with, credentials included, reached every tenant, both in the
 * vassal's environment and through `$(VAR)` in its file). As systemd builds a service's environment from scratch,
 * a tenant gets `PATH`, `LANG`, `LANGUAGE`, `LC_*` and `TZ` from the emperor, plus what the operator names with
 * `--emperor-pass-env NAME` (`NAME*` passes a prefix), plus `USER`, `LOGNAME` and `HOME` of the user it runs as
 * (from the name service, `getent passwd UID`, when the uid has an entry). The vassal's own `env` comes on top, as before.
 */
import {readFileSync} from 'node:fs';
import {GETENT_MISSING, runGetent, type GetentRunner, type Identity} from './identity.js';

/** What every tenant gets from the emperor's environment without asking. */
export const TENANT_ENV_PASSED = ['PATH', 'LANG', 'LANGUAGE', 'LC_*', 'TZ'] as const;

/** True when `name` matches a pass-list entry (`LC_*` is a prefix). */
function passes(name: string, list: readonly string[]): boolean {
  return list.some((entry) => (entry.endsWith('*') ? name.startsWith(entry.slice(0, -1)) : name === entry));
}

/**
 * The emperor's variables a tenant may see: the pass-list applied to `emperorEnv`. This is also the environment a
 * tenant's `$(VAR)` expands from.
 */
export function passedEnvironment(emperorEnv: Readonly<Record<string, string | undefined>>, extra: readonly string[]): Record<string, string> {
  const list = [...TENANT_ENV_PASSED, ...extra];
  const env: Record<string, string> = {};
  for (const [name, value] of Object.entries(emperorEnv)) if (value !== undefined && passes(name, list)) env[name] = value;
  return env;
}

/** How long a passwd entry is remembered (a launch must not run getent every time). */
const PASSWD_CACHE_MS = 30_000;
const passwdCache = new Map<number, {entry: {name: string; home: string} | undefined; at: number}>();

/** The name and home of `uid` (NSS; /etc/passwd where getent is missing), or undefined. */
export function passwdEntryOf(uid: number, getent: GetentRunner = runGetent, now: number = Date.now()): {name: string; home: string} | undefined {
  const hit = passwdCache.get(uid);
  if (hit !== undefined && now - hit.at < PASSWD_CACHE_MS) return hit.entry;
  let line = getent('passwd', String(uid));
  if (line === GETENT_MISSING) {
    let passwd = '';
    try {
      passwd = readFileSync('/etc/passwd', 'utf8');
    } catch {
      // no passwd file: no entry
    }
    line = passwd.split('\n').find((l) => l.split(':')[2] === String(uid));
  }
  const fields = line?.split(':') ?? [];
  const entry = fields.length >= 6 && fields[2] === String(uid) ? {name: fields[0] ?? '', home: fields[5] ?? ''} : undefined;
  if (passwdCache.size > 4_096) passwdCache.clear();
  passwdCache.set(uid, {entry, at: now});
  return entry;
}

/** The base environment of a tenant's vassal running as `user`: the passed variables and who it is. */
export function tenantEnvironment(passed: Readonly<Record<string, string>>, user: Identity | undefined, lookup: (uid: number) => {name: string; home: string} | undefined = passwdEntryOf): Record<string, string> {
  const env = {...passed};
  const entry = user === undefined ? undefined : lookup(user.uid);
  if (entry) {
    env['USER'] = entry.name;
    env['LOGNAME'] = entry.name;
    if (entry.home !== '') env['HOME'] = entry.home;
  }
  return env;
}
