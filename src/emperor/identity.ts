/**
 * Who a vassal runs as. Owns resolving user and group names or numbers through /etc/passwd and /etc/group (plain
 * text, no native code, no NSS: LDAP users need numbers), and the rules of tyrant mode (uWSGI's `--emperor-tyrant`):
 *
 * - not tyrant: the vassal's `uid` / `gid` keys if set (a `uid` alone also takes the user's primary group);
 *   otherwise the vassal runs as the emperor.
 * - tyrant: the vassal runs as the owner uid/gid of its file. A file owned by uid 0 or gid 0 is refused, and so are
 *   `uid` / `gid` keys that name anyone else (a vassal cannot escape its owner). A vassal without a file owner
 *   (fleet vassals) must name a non-root `uid` and `gid` itself: in tyrant mode nothing runs as root.
 * - switching to another user needs a root emperor: anything else is an error, not a silent no-op.
 */
import {readFileSync} from 'node:fs';
import {err, ok, type Result} from '../result.js';
import {formatError, type ErrorCode, type ErrorFields} from '../errors.js';

/** A numeric identity. */
export interface Identity {
  uid: number;
  gid: number;
}

/** The users and groups of the machine, as /etc/passwd and /etc/group list them. */
export interface UserDb {
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
  return {users, groups};
}

/** Reads the machine's user database (small files; read per use so new users are seen without a restart). */
export function readUserDb(): UserDb {
  const read = (path: string) => {
    try {
      return readFileSync(path, 'utf8');
    } catch {
      return '';
    }
  };
  return parseUserDb(read('/etc/passwd'), read('/etc/group'));
}

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

function resolveUser(text: string, db: UserDb): {uid: number; primaryGid: number | undefined} | undefined {
  if (/^\d+$/.test(text)) {
    const uid = Number(text);
    return {uid, primaryGid: db.users.find((u) => u.uid === uid)?.gid};
  }
  const user = db.users.find((u) => u.name === text);
  return user && {uid: user.uid, primaryGid: user.gid};
}

function resolveGroup(text: string, db: UserDb): number | undefined {
  if (/^\d+$/.test(text)) return Number(text);
  return db.groups.find((g) => g.name === text)?.gid;
}

/**
 * The identity a vassal runs as, or undefined to run as the emperor. `owner` is its file's owner (undefined for
 * vassals that have no file, e.g. fleet vassals). Errors are `CODE message` strings for the operator.
 */
export function identityFor(
  spec: IdentityRequest,
  owner: Identity | undefined,
  tyrant: boolean,
  db: UserDb = readUserDb(),
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
