/**
 * Who a vassal runs as. Owns resolving user and group names or numbers through the system's name service (NSS:
 * `getent passwd|group`, so LDAP, SSSD and systemd-homed users work as in `ls -l` and `id`; /etc/passwd and
 * /etc/group are read directly only where getent is missing), and the rules of tyrant mode (uWSGI's
 * `--emperor-tyrant`):
 *
 * - not tyrant: the vassal's `uid` / `gid` keys if set (a `uid` alone also takes the user's primary group);
 *   otherwise the vassal runs as the emperor.
 * - tyrant: the vassal runs as the owner uid/gid of its file. A file owned by uid 0 or gid 0 is refused, and so are
 *   `uid` / `gid` keys that name anyone else (a vassal cannot escape its owner). A vassal without a file owner
 *   (fleet vassals) must name a non-root `uid` and `gid` itself: in tyrant mode nothing runs as root.
 * - switching to another user needs a root emperor: anything else is an error, not a silent no-op.
 */
import {spawnSync} from 'node:child_process';
import {readFileSync} from 'node:fs';
import {err, ok, type Result} from '../result.js';
import {formatError, type ErrorCode, type ErrorFields} from '../errors.js';

/** A numeric identity. */
export interface Identity {
  uid: number;
  gid: number;
}

/** Finds users and groups by name (or a user by number, for its primary group). */
export interface UserLookup {
  /** The user called `name` (or whose uid is the number `name`), with its primary group. */
  user(name: string): Identity | undefined;
  /** The gid of the group called `name`. */
  group(name: string): number | undefined;
}

/** Users and groups as passwd and group files list them, searchable. */
export interface UserDb extends UserLookup {
  users: readonly {name: string; uid: number; gid: number}[];
  groups: readonly {name: string; gid: number}[];
}

/** Parses /etc/passwd and /etc/group text (comments, blank and malformed lines are skipped). */
export function parseUserDb(passwd: string, group: string): UserDb {
  const rows = (text: string) =>
    text
      .split('\n')
      .filter((line) => line.trim() !== '' && !line.startsWith('#'))
      .map((line) => line.split(':'));
  const users = rows(passwd)
    .filter((f) => f.length >= 4 && /^\d+$/.test(f[2] ?? '') && /^\d+$/.test(f[3] ?? ''))
    .map((f) => ({name: f[0] ?? '', uid: Number(f[2]), gid: Number(f[3])}));
  const groups = rows(group)
    .filter((f) => f.length >= 3 && /^\d+$/.test(f[2] ?? ''))
    .map((f) => ({name: f[0] ?? '', gid: Number(f[2])}));
  return {
    users,
    groups,
    user: (name) => {
      const found = /^\d+$/.test(name) ? users.find((u) => u.uid === Number(name)) : users.find((u) => u.name === name);
      return found && {uid: found.uid, gid: found.gid};
    },
    group: (name) => groups.find((g) => g.name === name)?.gid,
  };
}

/** /etc/passwd and /etc/group themselves, for machines without getent. */
export function readUserFiles(): UserDb {
  const read = (path: string) => {
    try {
      return readFileSync(path, 'utf8');
    } catch {
      return '';
    }
  };
  return parseUserDb(read('/etc/passwd'), read('/etc/group'));
}

/** What `getent DATABASE KEY` printed (its first line), undefined when the key is unknown, GETENT_MISSING without getent. */
export type GetentRunner = (database: 'passwd' | 'group', key: string) => string | undefined | typeof GETENT_MISSING;

/** What a `GetentRunner` says when there is no getent to run. */
export const GETENT_MISSING: unique symbol = Symbol('getent missing');

const GETENT_PATHS = ['/usr/bin/getent', '/bin/getent'];
const GETENT_TIMEOUT_MS = 5_000;

/** Runs the system's getent (glibc's NSS front end: files, LDAP, SSSD, systemd, as nsswitch.conf says). */
export const runGetent: GetentRunner = (database, key) => {
  // A key starting with '-' would be an option; names never do.
  if (key === '' || key.startsWith('-')) return undefined;
  for (const getent of GETENT_PATHS) {
    const result = spawnSync(getent, [database, key], {encoding: 'utf8', timeout: GETENT_TIMEOUT_MS});
    if ((result.error as NodeJS.ErrnoException | undefined)?.code === 'ENOENT') continue;
    return result.status === 0 ? result.stdout.split('\n', 1)[0] : undefined;
  }
  return GETENT_MISSING;
};

/** How long a found user or group is remembered: a vassal file reload must not run getent for every vassal. */
const NSS_CACHE_MS = 30_000;
const NSS_CACHE_ENTRIES = 4_096;

/**
 * Users and groups through NSS (`getent`), remembered for 30 s when found (never when not: a user just created is
 * seen at once). Where getent is missing, /etc/passwd and /etc/group are read instead.
 */
export function nssUserDb(getent: GetentRunner = runGetent, now: () => number = Date.now): UserLookup {
  const cache = new Map<string, {value: Identity | number; at: number}>();
  const lookup = <T extends Identity | number>(key: string, fetch: () => T | undefined): T | undefined => {
    const hit = cache.get(key);
    if (hit !== undefined && now() - hit.at < NSS_CACHE_MS) return hit.value as T;
    const value = fetch();
    if (cache.size >= NSS_CACHE_ENTRIES) cache.clear();
    if (value !== undefined) cache.set(key, {value, at: now()});
    else cache.delete(key);
    return value;
  };
  return {
    user: (name) =>
      lookup(`u:${name}`, () => {
        const line = getent('passwd', name);
        if (line === GETENT_MISSING) return readUserFiles().user(name);
        const fields = line?.split(':') ?? [];
        return fields.length >= 4 && /^\d+$/.test(fields[2] ?? '') && /^\d+$/.test(fields[3] ?? '') ? {uid: Number(fields[2]), gid: Number(fields[3])} : undefined;
      }),
    group: (name) =>
      lookup(`g:${name}`, () => {
        const line = getent('group', name);
        if (line === GETENT_MISSING) return readUserFiles().group(name);
        const gid = line?.split(':')[2] ?? '';
        return /^\d+$/.test(gid) ? Number(gid) : undefined;
      }),
  };
}

/** The emperor's own user lookup. */
const SYSTEM_USERS = nssUserDb();

/** What identity resolution needs from a vassal spec. */
export interface IdentityRequest {
  /** The vassal name, for messages. */
  name: string;
  uid?: string;
  gid?: string;
}

/** The emperor's own identity (`process.getuid()`, `process.getgid()`). */
export type EmperorIdentity = Identity;

function fail<C extends ErrorCode>(code: C, fields: ErrorFields<C>): Result<never, string> {
  return err(`${code} ${formatError(code, fields)}`);
}

function resolveUser(text: string, db: UserLookup): {uid: number; primaryGid: number | undefined} | undefined {
  // A number needs no user entry (containers run arbitrary uids); its entry, if any, gives the primary group.
  if (/^\d+$/.test(text)) return {uid: Number(text), primaryGid: db.user(text)?.gid};
  const user = db.user(text);
  return user && {uid: user.uid, primaryGid: user.gid};
}

function resolveGroup(text: string, db: UserLookup): number | undefined {
  if (/^\d+$/.test(text)) return Number(text);
  return db.group(text);
}

/**
 * The identity a vassal runs as, or undefined to run as the emperor. `owner` is its file's owner (undefined for
 * vassals that have no file, e.g. fleet vassals). Errors are `CODE message` strings for the operator.
 */
export function identityFor(
  spec: IdentityRequest,
  owner: Identity | undefined,
  tyrant: boolean,
  db: UserLookup = SYSTEM_USERS,
  emperor: EmperorIdentity = {uid: process.getuid?.() ?? 0, gid: process.getgid?.() ?? 0},
): Result<Identity | undefined, string> {
  let uid: number | undefined;
  let gid: number | undefined;
  let primaryGid: number | undefined;
  if (spec.uid !== undefined) {
    const user = resolveUser(spec.uid, db);
    if (!user) return fail('KAISER_UNKNOWN_USER', {vassal: spec.name, user: spec.uid});
    uid = user.uid;
    primaryGid = user.primaryGid;
  }
  if (spec.gid !== undefined) {
    gid = resolveGroup(spec.gid, db);
    if (gid === undefined) return fail('KAISER_UNKNOWN_GROUP', {vassal: spec.name, group: spec.gid});
  }
  let wanted: Identity | undefined;
  if (tyrant) {
    if (owner === undefined) {
      // No file owner to run as: the vassal must say who it is, and it may not be root.
      if (uid === undefined || gid === undefined || uid === 0 || gid === 0) return fail('KAISER_TYRANT_NO_OWNER', {vassal: spec.name});
      wanted = {uid, gid};
    } else {
      if (owner.uid === 0 || owner.gid === 0) return fail('KAISER_TYRANT_ROOT_OWNED', {vassal: spec.name, uid: owner.uid, gid: owner.gid});
      if ((uid !== undefined && uid !== owner.uid) || (gid !== undefined && gid !== owner.gid)) {
        return fail('KAISER_TYRANT_ESCAPE', {
          vassal: spec.name,
          wanted: `${spec.uid !== undefined ? `uid ${spec.uid}` : ''}${spec.uid !== undefined && spec.gid !== undefined ? ', ' : ''}${spec.gid !== undefined ? `gid ${spec.gid}` : ''}`,
          uid: owner.uid,
          gid: owner.gid,
        });
      }
      wanted = {uid: owner.uid, gid: owner.gid};
    }
  } else if (uid !== undefined || gid !== undefined) {
    wanted = {uid: uid ?? emperor.uid, gid: gid ?? primaryGid ?? emperor.gid};
  }
  if (wanted === undefined) return ok(undefined);
  if (wanted.uid === emperor.uid && wanted.gid === emperor.gid) return ok(undefined);
  if (emperor.uid !== 0) {
    return fail('KAISER_IDENTITY_NEEDS_ROOT', {vassal: spec.name, uid: wanted.uid, gid: wanted.gid, emperorUid: emperor.uid});
  }
  return ok(wanted);
}
