/** Who a vassal runs as: user/group resolution from passwd/group text, and the tyrant-mode rules. */
import {describe, expect, it} from '@jest/globals';
import {GETENT_MISSING, identityFor, nssUserDb, parseUserDb, runGetent, type GetentRunner} from '../../src/emperor/identity.js';

const PASSWD = `root:x:0:0:root:/root:/bin/bash
# a comment
www-data:x:33:33:www-data:/var/www:/usr/sbin/nologin
alice:x:1001:1001::/home/alice:/bin/sh
bob:x:1002:1002::/home/bob:/bin/sh
broken line
`;
const GROUP = `root:x:0:
www-data:x:33:
alice:x:1001:
bob:x:1002:
staff:x:50:alice,bob
`;
const db = parseUserDb(PASSWD, GROUP);
const ROOT = {uid: 0, gid: 0};
const ALICE = {uid: 1001, gid: 1001};

describe('parseUserDb', () => {
  it('reads users and groups and skips comments and malformed lines', () => {
    expect(db.users.map((u) => u.name)).toEqual(['root', 'www-data', 'alice', 'bob']);
    expect(db.groups.find((g) => g.name === 'staff')?.gid).toBe(50);
  });
});

describe('nssUserDb', () => {
  /** A getent that knows alice (uid 1001, group 1001) and the group staff (50), and counts its calls. */
  function fakeGetent(): GetentRunner & {calls: string[]} {
    const calls: string[] = [];
    const run = ((database: 'passwd' | 'group', key: string) => {
      calls.push(`${database} ${key}`);
      if (database === 'passwd' && (key === 'alice' || key === '1001')) return 'alice:*:1001:1001:Alice:/home/alice:/bin/sh';
      if (database === 'group' && key === 'staff') return 'staff:*:50:alice';
      return undefined;
    }) as GetentRunner & {calls: string[]};
    run.calls = calls;
    return run;
  }

  it('resolves users (by name or number) and groups through getent, as a directory user would be', () => {
    const users = nssUserDb(fakeGetent());
    expect(identityFor({name: 'a.toml', uid: 'alice'}, undefined, false, users, ROOT)).toEqual({ok: true, value: {uid: 1001, gid: 1001}});
    expect(identityFor({name: 'a.toml', uid: '1001', gid: 'staff'}, undefined, false, users, ROOT)).toEqual({ok: true, value: {uid: 1001, gid: 50}});
    expect(identityFor({name: 'a.toml', uid: '4242', gid: '77'}, undefined, false, users, ROOT)).toEqual({ok: true, value: {uid: 4242, gid: 77}});
    const unknown = identityFor({name: 'a.toml', uid: 'mallory'}, undefined, false, users, ROOT);
    expect(unknown.ok || unknown.error).toMatch(/^KAISER_UNKNOWN_USER .*"mallory" \(getent passwd knows none\)/);
  });

  it('remembers found entries for 30 s and never remembers a miss', () => {
    const getent = fakeGetent();
    let now = 0;
    const users = nssUserDb(getent, () => now);
    users.user('alice');
    users.user('alice');
    users.user('mallory');
    users.user('mallory');
    expect(getent.calls).toEqual(['passwd alice', 'passwd mallory', 'passwd mallory']);
    now = 30_000;
    users.user('alice');
    expect(getent.calls).toEqual(['passwd alice', 'passwd mallory', 'passwd mallory', 'passwd alice']);
  });

  it('falls back to /etc/passwd where getent is missing', () => {
    const users = nssUserDb(() => GETENT_MISSING);
    expect(users.user('root')).toEqual({uid: 0, gid: 0});
    expect(users.group('root')).toBe(0);
  });

  it('asks the real getent (root is in every user database)', () => {
    expect(runGetent('passwd', 'root')).toMatch(/^root:[^:]*:0:0:/);
    expect(runGetent('passwd', 'no-such-user-kaiser')).toBeUndefined();
    expect(runGetent('passwd', '--help')).toBeUndefined();
  });
});

describe('identityFor without tyrant mode', () => {
  it('runs as the emperor when no uid or gid is set', () => {
    expect(identityFor({name: 'a.toml'}, ALICE, false, db, ROOT)).toEqual({ok: true, value: undefined});
  });

  it('resolves a user name with its primary group, and a numeric uid', () => {
    expect(identityFor({name: 'a.toml', uid: 'www-data'}, undefined, false, db, ROOT)).toEqual({ok: true, value: {uid: 33, gid: 33}});
    expect(identityFor({name: 'a.toml', uid: '1002', gid: 'staff'}, undefined, false, db, ROOT)).toEqual({ok: true, value: {uid: 1002, gid: 50}});
    expect(identityFor({name: 'a.toml', uid: '4242'}, undefined, false, db, ROOT)).toEqual({ok: true, value: {uid: 4242, gid: 0}});
  });

  it('refuses unknown user and group names with their codes', () => {
    const user = identityFor({name: 'a.toml', uid: 'mallory'}, undefined, false, db, ROOT);
    expect(user.ok || user.error).toMatch(/^KAISER_UNKNOWN_USER .*"mallory"/);
    const group = identityFor({name: 'a.toml', gid: 'wheel'}, undefined, false, db, ROOT);
    expect(group.ok || group.error).toMatch(/^KAISER_UNKNOWN_GROUP .*"wheel"/);
  });

  it('refuses a user switch when the emperor is not root, and allows its own identity', () => {
    const other = identityFor({name: 'a.toml', uid: 'bob'}, undefined, false, db, ALICE);
    expect(other.ok || other.error).toMatch(/^KAISER_IDENTITY_NEEDS_ROOT /);
    expect(identityFor({name: 'a.toml', uid: 'alice'}, undefined, false, db, ALICE)).toEqual({ok: true, value: undefined});
  });
});

describe('identityFor in tyrant mode', () => {
  it('runs the vassal as the owner of its file', () => {
    expect(identityFor({name: 'a.toml'}, ALICE, true, db, ROOT)).toEqual({ok: true, value: ALICE});
  });

  it('refuses a file owned by uid 0 or by gid 0', () => {
    for (const owner of [ROOT, {uid: 1001, gid: 0}, {uid: 0, gid: 1001}]) {
      const result = identityFor({name: 'a.toml'}, owner, true, db, ROOT);
      expect(result.ok || result.error).toMatch(/^KAISER_TYRANT_ROOT_OWNED \[emperor-tyrant\] invalid permissions for vassal a\.toml/);
    }
  });

  it('refuses uid or gid keys that escape the owner, and accepts ones naming the owner', () => {
    const uid = identityFor({name: 'a.toml', uid: 'bob'}, ALICE, true, db, ROOT);
    expect(uid.ok || uid.error).toMatch(/^KAISER_TYRANT_ESCAPE .*uid bob/);
    const gid = identityFor({name: 'a.toml', gid: 'staff'}, ALICE, true, db, ROOT);
    expect(gid.ok || gid.error).toMatch(/^KAISER_TYRANT_ESCAPE .*gid staff/);
    const root = identityFor({name: 'a.toml', uid: 'root'}, ALICE, true, db, ROOT);
    expect(root.ok || root.error).toMatch(/^KAISER_TYRANT_ESCAPE/);
    expect(identityFor({name: 'a.toml', uid: 'alice', gid: '1001'}, ALICE, true, db, ROOT)).toEqual({ok: true, value: ALICE});
  });

  it('runs a vassal without a file owner (fleet) only as the non-root uid and gid it names', () => {
    const none = identityFor({name: 'f'}, undefined, true, db, ROOT);
    expect(none.ok || none.error).toMatch(/^KAISER_TYRANT_NO_OWNER /);
    const root = identityFor({name: 'f', uid: 'root', gid: 'root'}, undefined, true, db, ROOT);
    expect(root.ok || root.error).toMatch(/^KAISER_TYRANT_NO_OWNER /);
    expect(identityFor({name: 'f', uid: 'bob', gid: 'bob'}, undefined, true, db, ROOT)).toEqual({ok: true, value: {uid: 1002, gid: 1002}});
  });
});
