/**
 * What the emperor does on disk for a vassal that runs as another user, done as that user (issue 14: a tenant must
 * not make a root emperor create, append to, rename, delete or bind anything it could not itself). Each action is a
 * short-lived helper spawned with the vassal's uid and gid (supplementary groups dropped by libuv), a fixed clean
 * environment and `/` as its working directory, so the kernel's own permission checks apply, symlinks included:
 *
 * - `openAppendAs` (`logto`): a /bin/sh opens the file for appending (created 0640) as the user and waits; the
 *   emperor then opens the same file through `/proc/PID/fd/3` (an open of the inode the user opened, not of the
 *   path), checks on its own descriptor that it is a regular file, and lets the helper exit. `rotate` first renames
 *   FILE → FILE.1 … (or removes FILE with no backups), as the user.
 * - `bindUnixAs` (`socket = "unix:PATH"`, on-demand unix addresses): a python3 binds, applies `chmod-socket` and
 *   listens as the user (removing only a stale socket at the path, never another file), and passes the listening
 *   socket to the emperor over a Node IPC channel (SCM_RIGHTS), received as a raw libuv handle.
 * - `removeSocketAs`: the socket file is removed when its vassal is gone, by the user, and only if it is a socket.
 * - `compressAs` (`log-compress`): gzip runs as the user on the rotated file.
 *
 * A helper that does not finish within `HELPER_TIMEOUT_MS` (a FIFO named as a log file blocks its open) is killed
 * and the action fails with a clear reason. Nothing here throws: failures are values naming path, user and cause.
 */
import {spawn} from 'node:child_process';
import {closeSync, constants, fstatSync, openSync} from 'node:fs';
import {err, ok, type Result} from '../result.js';
import type {Identity} from './identity.js';

/** A helper that has not finished by then is killed (a FIFO or a hung NFS path must not hold a vassal forever). */
const HELPER_TIMEOUT_MS = 10_000;

/** The whole environment of a helper: nothing of the emperor's or the vassal's reaches it. */
export const HELPER_ENV: Readonly<Record<string, string>> = {PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', LC_ALL: 'C'};

const SH = '/bin/sh';

/**
 * `$1` = action (open, rotate, unlink-socket, compress), `$2` = path, `$3` = backups, `$4` = backup name (or ''). `open` and `rotate` end with fd 3 open
 * on the file, say `open` and wait for stdin to close (the emperor has its own descriptor by then).
 */
const FILE_SCRIPT = `path=$2
case $1 in
rotate)
  if [ -n "$4" ]; then
    mv -f -- "$path" "$4" || exit 1
  elif [ "$3" -le 0 ]; then
    rm -f -- "$path" || exit 1
  else
    i=$(($3 - 1))
    while [ "$i" -ge 1 ]; do
      for s in '' .gz; do
        if [ -e "$path.$i$s" ] || [ -L "$path.$i$s" ]; then mv -f -- "$path.$i$s" "$path.$((i + 1))$s" || exit 1; fi
      done
      i=$((i - 1))
    done
    if [ -e "$path" ] || [ -L "$path" ]; then mv -f -- "$path" "$path.1" || exit 1; fi
  fi ;;
unlink-socket)
  if [ -S "$path" ]; then exec rm -f -- "$path"; fi
  exit 0 ;;
compress)
  umask 027
  gzip -c -- "$path" > "$path.gz.tmp" && mv -f -- "$path.gz.tmp" "$path.gz" && exec rm -f -- "$path"
  exit 1 ;;
esac
umask 027
exec 3>>"$path" || exit 1
echo open
read -r _ || :
`;

/** Binds `argv[1]` as a unix socket, chmods it to `argv[3]` (octal, or '-'), listens, and passes it on fd NODE_CHANNEL_FD. */
const BIND_SCRIPT = `import json, os, socket, stat, sys
ch = socket.socket(fileno=int(os.environ['NODE_CHANNEL_FD']))
path, backlog, mode = sys.argv[1], int(sys.argv[2]), sys.argv[3]
def reply(obj, fd=None):
    data = (json.dumps(obj) + '\\n').encode()
    if fd is None:
        ch.sendall(data)
    else:
        ch.sendmsg([data], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, fd.to_bytes(4, sys.byteorder))])
try:
    try:
        if stat.S_ISSOCK(os.lstat(path).st_mode):
            os.unlink(path)
    except FileNotFoundError:
        pass
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.bind(path)
    if mode != '-':
        os.chmod(path, int(mode, 8))
    s.listen(backlog)
except OSError as e:
    reply({'ok': False, 'error': e.strerror or str(e)})
    sys.exit(0)
reply({'cmd': 'NODE_HANDLE', 'type': 'net.Native', 'msg': {'ok': True}}, s.fileno())
ch.recv(4096)
`;

/** The raw libuv handle of a listening socket received from a helper (what the socket store keeps). */
export interface ReceivedSocket {
  fd: number;
  close(callback?: () => void): void;
}

/** Who acts, for messages: `uid 1001`. */
function whom(user: Identity): string {
  return `uid ${user.uid} gid ${user.gid}`;
}

/** The last line a helper wrote to stderr, without the shell's `name: line:` prefix. */
function causeOf(stderr: string, fallback: string): string {
  const last = stderr.trim().split('\n').pop()?.trim() ?? '';
  return last.replace(/^kaiser-as-user: \d+: /, '') || fallback;
}

/** Runs the file script as `user`; resolves with an fd of the file it opened, when the action opens one. */
function runFileScript(user: Identity, action: 'open' | 'rotate', path: string, backups: number, backupName = ''): Promise<Result<number, string>> {
  return new Promise((resolve) => {
    let settled = false;
    let stderr = '';
    let fd: number | undefined;
    const child = spawn(SH, ['-c', FILE_SCRIPT, 'kaiser-as-user', action, path, String(backups), backupName], {
      uid: user.uid,
      gid: user.gid,
      cwd: '/',
      env: {...HELPER_ENV},
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    const finish = (result: Result<number, string>) => {
      if (settled) {
        if (result.ok) closeSync(result.value);
        return;
      }
      settled = true;
      clearTimeout(timer);
      resolve(result);
    };
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      finish(err(`cannot open ${path} as ${whom(user)}: no answer within ${HELPER_TIMEOUT_MS / 1000} s (a FIFO or a hung filesystem?)`));
    }, HELPER_TIMEOUT_MS);
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (chunk: string) => (stderr = (stderr + chunk).slice(-4096)));
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => {
      if (fd !== undefined || !chunk.includes('open')) return;
      const opened = reopenHelperFd(child.pid ?? -1, path);
      child.stdin.end();
      if (!opened.ok) return finish(opened);
      fd = opened.value;
      finish(ok(fd));
    });
    child.stdin.on('error', () => undefined);
    child.on('error', (error) => finish(err(`cannot open ${path} as ${whom(user)}: ${error.message}`)));
    // 'close', not 'exit': 'exit' can come before the last of stderr is read, and the cause would be lost.
    child.on('close', () => {
      if (fd === undefined) finish(err(`cannot ${action === 'rotate' ? 'rotate' : 'open'} ${path} as ${whom(user)}: ${causeOf(stderr, 'the helper failed')}`));
    });
  });
}

/** Opens the file the helper holds as fd 3 (the same inode, not the path again) and checks it is a regular file. */
function reopenHelperFd(pid: number, path: string): Result<number, string> {
  let fd: number;
  try {
    // O_NONBLOCK: a FIFO the user named must never block the emperor's loop.
    fd = openSync(`/proc/${pid}/fd/3`, constants.O_WRONLY | constants.O_APPEND | constants.O_NONBLOCK | constants.O_NOCTTY);
  } catch (error) {
    return err(`cannot open ${path}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`);
  }
  if (!fstatSync(fd).isFile()) {
    closeSync(fd);
    return err(`cannot open ${path}: not a regular file`);
  }
  return ok(fd);
}

/** Opens (creating it 0640) `path` for appending as `user`: the fd is the emperor's, the permission check the user's. */
export function openAppendAs(user: Identity, path: string): Promise<Result<number, string>> {
  return runFileScript(user, 'open', path, 0);
}

/** As `user`: moves `path` to `path.1` … `path.N` (removes it when `backups` is 0), then opens a new `path`. */
export function rotateAs(user: Identity, path: string, backups: number, backupName?: string): Promise<Result<number, string>> {
  return runFileScript(user, 'rotate', path, backups, backupName ?? '');
}

/** A compression may take a while (a large log), but not forever. */
const COMPRESS_TIMEOUT_MS = 10 * 60_000;

/** As `user`: gzips `file` to `file.gz` and removes `file` (`log-compress` after a rotation). */
export function compressAs(user: Identity, file: string): Promise<Result<void, string>> {
  return new Promise((resolve) => {
    let stderr = '';
    const child = spawn(SH, ['-c', FILE_SCRIPT, 'kaiser-as-user', 'compress', file, '0'], {uid: user.uid, gid: user.gid, cwd: '/', env: {...HELPER_ENV}, stdio: ['ignore', 'ignore', 'pipe']});
    const timer = setTimeout(() => child.kill('SIGKILL'), COMPRESS_TIMEOUT_MS);
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (chunk: string) => (stderr = (stderr + chunk).slice(-4096)));
    child.on('error', (error) => resolve(err(`cannot compress ${file} as ${whom(user)}: ${error.message}`)));
    child.on('close', (code) => {   // after stderr's end, so the cause is in it
      clearTimeout(timer);
      resolve(code === 0 ? ok(undefined) : err(`cannot compress ${file} as ${whom(user)}: ${causeOf(stderr, 'gzip failed')}`));
    });
  });
}

/** As `user`, in the background: removes `path` if it is a socket (the vassal that bound it is gone). */
export function removeSocketAs(user: Identity, path: string): void {
  const child = spawn(SH, ['-c', FILE_SCRIPT, 'kaiser-as-user', 'unlink-socket', path, '0'], {uid: user.uid, gid: user.gid, cwd: '/', env: {...HELPER_ENV}, stdio: 'ignore'});
  child.on('error', () => undefined);
  const timer = setTimeout(() => child.kill('SIGKILL'), HELPER_TIMEOUT_MS);
  child.on('exit', () => clearTimeout(timer));
}

/**
 * Binds a listening unix socket at `path` as `user` (`mode`: chmod-socket, octal), with `backlog`, and hands it to
 * the emperor. Resolves with its raw handle, or why not (`Permission denied`).
 */
export function bindUnixAs(python: string, user: Identity, path: string, backlog: number, mode: string | undefined): Promise<Result<ReceivedSocket, string>> {
  return new Promise((resolve) => {
    let settled = false;
    let stderr = '';
    const child = spawn(python, ['-I', '-S', '-c', BIND_SCRIPT, path, String(backlog), mode ?? '-'], {
      uid: user.uid,
      gid: user.gid,
      cwd: '/',
      env: {...HELPER_ENV},
      stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
      serialization: 'json',
    });
    const finish = (result: Result<ReceivedSocket, string>) => {
      if (settled) {
        if (result.ok) result.value.close();
        return;
      }
      settled = true;
      clearTimeout(timer);
      if (child.connected) child.disconnect();
      resolve(result);
    };
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      finish(err(`no answer within ${HELPER_TIMEOUT_MS / 1000} s binding as ${whom(user)}`));
    }, HELPER_TIMEOUT_MS);
    child.stderr?.setEncoding('utf8');
    child.stderr?.on('data', (chunk: string) => (stderr = (stderr + chunk).slice(-4096)));
    child.on('message', (message: {ok?: boolean; error?: string}, handle?: unknown) => {
      const received = handle as ReceivedSocket | undefined;
      if (message.ok === true && received && typeof received.fd === 'number') return finish(ok(received));
      finish(err(`${message.error ?? 'no socket received'} (as ${whom(user)})`));
    });
    child.on('error', (error) => finish(err(`${error.message} (as ${whom(user)})`)));
    child.on('close', () => finish(err(`${causeOf(stderr, 'the helper failed')} (as ${whom(user)})`)));   // after stderr's end
  });
}
