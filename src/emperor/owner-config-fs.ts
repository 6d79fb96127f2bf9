/**
 * What a tenant's vassal file may read while it is parsed (tyrant mode): the files it includes (`ini =`,
 * `include =`, `inherit =`, `@(file)`, `for-readline`), the paths it tests (`if-exists`, `if-file`, `if-dir`) and
 * the directories it lists (`for-glob`) are those its owner could read. The root emperor parses the file, so without
 * this a tenant could pull `/etc/shadow` into its own environment with `@(/etc/shadow)`, or show a root-only file in
 * its `last_error` through a failed include (issue 14).
 *
 * The check is the kernel's rule for a process running as the owner with no supplementary groups (tyrant vassals run
 * without them): owner bits when the owner owns the file, group bits when its gid is the owner's, other bits
 * otherwise; read on the file, search on every directory of its real path. It is made on the file actually read: the
 * path is resolved once into an O_PATH descriptor (which opens nothing: a device named by a tenant is never opened),
 * its mode comes from `fstat` on that descriptor and its directories from the path the kernel gives for it
 * (`/proc/self/fd/N`); only a regular file that passes is then opened, through that same descriptor, so a symlink
 * swapped in between cannot substitute another file. POSIX ACLs are not consulted: a file readable only through an
 * ACL entry is refused.
 */
import {closeSync, constants, fstatSync, openSync, readlinkSync, realpathSync, statSync, type Stats} from 'node:fs';
import {dirname} from 'node:path';
import {err, type Result} from '../result.js';
import {readOpenFile, REAL_CONFIG_FS, type ConfigFs} from '../config/config-fs.js';
import type {Identity} from './identity.js';

/** open(2)'s O_PATH on Linux (node does not export it): a descriptor naming a file without opening it. */
const O_PATH = 0o10000000;

/** Read, write, search bits as they appear in the "other" triad. */
const READ = 4;
const SEARCH = 1;

/** True when a process running as `owner` (no supplementary groups) has `want` (READ, SEARCH) on `st`. */
export function ownerMay(owner: Identity, st: Pick<Stats, 'uid' | 'gid' | 'mode'>, want: number): boolean {
  if (owner.uid === 0) return true;
  const shift = st.uid === owner.uid ? 6 : st.gid === owner.gid ? 3 : 0;
  return ((st.mode >> shift) & want) === want;
}

/** True when `owner` may search every directory from `/` down to `dir` (a real path: no symlinks in it). */
function mayReach(owner: Identity, dir: string): boolean {
  let current = dir;
  for (;;) {
    try {
      if (!ownerMay(owner, statSync(current), SEARCH)) return false;
    } catch {
      return false;
    }
    const parent = dirname(current);
    if (parent === current) return true;
    current = parent;
  }
}

/** Why `owner` may not read: the words kaiser's include errors use. */
const denied = (owner: Identity) => `permission denied for uid ${owner.uid} (tyrant mode reads what the vassal's owner can read)`;

/** A `ConfigFs` that reads only what `owner` could (see the module header). */
export function ownerConfigFs(owner: Identity): ConfigFs {
  return {
    readFile(path, limitBytes) {
      return readAsOwner(owner, path, limitBytes);
    },
    kindOf(path) {
      const real = realPath(path);
      return real !== undefined && mayReach(owner, dirname(real)) ? REAL_CONFIG_FS.kindOf(real) : undefined;
    },
    listDir(path) {
      const real = realPath(path);
      return real !== undefined && mayReach(owner, real) && mayList(owner, real) ? REAL_CONFIG_FS.listDir(real) : undefined;
    },
  };
}

/** `path` without symlinks, or undefined when it does not resolve. */
function realPath(path: string): string | undefined {
  try {
    return realpathSync(path);
  } catch {
    return undefined;
  }
}

/** True when `owner` may read the directory `dir` (its entry names). */
function mayList(owner: Identity, dir: string): boolean {
  try {
    return ownerMay(owner, statSync(dir), READ);
  } catch {
    return false;
  }
}

/** Resolves `path` once and reads it if `owner` may (see the module header). */
function readAsOwner(owner: Identity, path: string, limitBytes: number): Result<Buffer, string> {
  let named: number;
  try {
    named = openSync(path, O_PATH);
  } catch (error) {
    return err((error as Error).message);
  }
  let fd: number | undefined;
  try {
    const st = fstatSync(named);
    if (!ownerMay(owner, st, READ) || !mayReach(owner, dirname(readlinkSync(`/proc/self/fd/${named}`)))) return err(denied(owner));
    if (!st.isFile()) return err('not a regular file');
    if (st.size > limitBytes) return err(`larger than ${limitBytes} bytes`);
    fd = openSync(`/proc/self/fd/${named}`, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOCTTY);
    return readOpenFile(fd, st.size, limitBytes);
  } catch (error) {
    return err((error as Error).message);
  } finally {
    closeSync(named);
    if (fd !== undefined) closeSync(fd);
  }
}
