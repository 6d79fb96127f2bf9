/**
 * Real users for tests where identity matters (tyrant mode): root creates `kaiser-t1` and `kaiser-t2` once (system
 * users without a home or a shell; idempotent, left in place, they own nothing) and publishes vassal files as them.
 */
import {execFileSync} from 'node:child_process';
import {chownSync, renameSync, writeFileSync} from 'node:fs';
import {join} from 'node:path';

export interface User {
  readonly name: string;
  readonly uid: number;
  readonly gid: number;
}

/** Whether this test process may create users and switch to them. */
export const IS_ROOT = process.getuid?.() === 0;

/** The user `name`, created first if it does not exist (needs root). */
export function ensureUser(name: string): User {
  try {
    execFileSync('id', ['-u', name], {stdio: 'ignore'});
  } catch {
    execFileSync('useradd', ['--system', '--no-create-home', '--shell', '/usr/sbin/nologin', name]);
  }
  return {name, uid: Number(execFileSync('id', ['-u', name], {encoding: 'utf8'})), gid: Number(execFileSync('id', ['-g', name], {encoding: 'utf8'}))};
}

/** Writes a vassal file owned by `owner`, chown'ed before it appears under its name (one event for the watcher). */
export function publishAs(dir: string, name: string, text: string, owner: {uid: number; gid: number}): void {
  const tmp = join(dir, `.${name}.tmp`);
  writeFileSync(tmp, text);
  chownSync(tmp, owner.uid, owner.gid);
  renameSync(tmp, join(dir, name));
}
