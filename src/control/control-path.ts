/**
 * Where the control socket lives: `--control PATH`, else `KAISER_CONTROL`, else a per-user default
 * (`/run/kaiser/control.sock` for root when /run is writable, else `$XDG_RUNTIME_DIR/kaiser/control.sock`, else
 * `/tmp/kaiser-$UID/control.sock`). Also makes the socket's directory (0700) for the server, refusing a directory
 * that another unprivileged user owns, so nobody can pre-create `/tmp/kaiser-$UID` and watch our socket.
 */
import {accessSync, constants, lstatSync, mkdirSync} from 'node:fs';
import {dirname, join} from 'node:path';
import {formatError} from '../errors.js';
import {err, ok, type Result} from '../result.js';

/** The environment variable naming the control socket. */
export const CONTROL_ENV = 'KAISER_CONTROL';

/** What choosing the default depends on; every field defaults to the real process. */
export interface ControlPathFacts {
  readonly uid?: number;
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** Whether this process may create entries in `dir`. */
  readonly canWrite?: (dir: string) => boolean;
}

/** The default control socket path for this user. Pure apart from the probe of /run; creates nothing. */
export function defaultControlPath(facts: ControlPathFacts = {}): string {
  const uid = facts.uid ?? process.getuid?.() ?? 0;
  const env = facts.env ?? process.env;
  const canWrite = facts.canWrite ?? isWritableDir;
  if (uid === 0 && canWrite('/run')) return '/run/kaiser/control.sock';
  const runtime = env['XDG_RUNTIME_DIR'];
  if (runtime !== undefined && runtime.startsWith('/')) return join(runtime, 'kaiser', 'control.sock');
  return `/tmp/kaiser-${uid}/control.sock`;
}

/** `--control PATH`, else `KAISER_CONTROL`, else `defaultControlPath()`. */
export function resolveControlPath(flag: string | undefined, facts: ControlPathFacts = {}): string {
  if (flag !== undefined && flag !== '') return flag;
  const fromEnv = (facts.env ?? process.env)[CONTROL_ENV];
  if (fromEnv !== undefined && fromEnv !== '') return fromEnv;
  return defaultControlPath(facts);
}

/** Creates the directory of `socketPath` (0700, parents as needed) and checks that it is safe to listen in. */
export function ensureControlDir(socketPath: string): Result<string, string> {
  const dir = dirname(socketPath);
  try {
    mkdirSync(dir, {recursive: true, mode: 0o700});
    const st = lstatSync(dir);
    if (!st.isDirectory()) return err(`${dir} is not a directory`);
    const uid = process.getuid?.() ?? 0;
    // Root-owned directories (/run, /tmp) are trusted; one owned by another ordinary user could be a trap.
    if (st.uid !== uid && st.uid !== 0) return err(`${dir} belongs to uid ${st.uid}, not to you (uid ${uid}): choose another --control path`);
    return ok(dir);
  } catch (cause) {
    return err(`cannot create ${dir}: ${(cause as NodeJS.ErrnoException).code ?? String(cause)}`);
  }
}

/**
 * Why the socket at the default path must not be trusted, or undefined: it (or its directory) belongs to another
 * ordinary user, who could have planted a fake emperor there to feed `kaiser ls` forged rows (issue 14). Root's and
 * our own are trusted; a path given with --control or KAISER_CONTROL is the operator's choice and not checked.
 */
export function untrustedControlSocket(socketPath: string, uid: number = process.getuid?.() ?? 0): string | undefined {
  for (const path of [dirname(socketPath), socketPath]) {
    let owner: number;
    try {
      owner = lstatSync(path).uid;
    } catch {
      continue; // not there: the connect reports it
    }
    if (owner !== uid && owner !== 0) return formatError('KAISER_CONTROL_SOCKET_FOREIGN', {path, owner, uid});
  }
  return undefined;
}

function isWritableDir(dir: string): boolean {
  try {
    accessSync(dir, constants.W_OK | constants.X_OK);
    return true;
  } catch {
    return false;
  }
}
