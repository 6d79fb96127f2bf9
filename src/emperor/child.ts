/**
 * One spawned vassal process: its pid, its exit, its output lines and (for kaiser server vassals) the emperor pipe.
 * Every vassal leads its own session and process group (detached), so the emperor can signal the whole tree and
 * account for it by session id; the reaper (reaper.ts) is told about each group for the no-orphan guarantee.
 */
import {existsSync} from 'node:fs';
import {VassalStreamDecoder, type VassalMessage} from '../protocol/emperor-pipe.js';
import type {ExitStatus, System} from '../system/system.js';
import {splitLines} from '../util/split-lines.js';

export type {ExitStatus} from '../system/system.js';

/** What to run. */
export interface ChildSpec {
  file: string;
  args: readonly string[];
  cwd: string;
  env: Record<string, string>;
  /** Open the emperor pipe as fd 3 and set UWSGI_EMPEROR_FD=3. */
  emperorPipe: boolean;
  /** Listening socket fds passed as fds 3, 4, … (socket activation; not combined with the emperor pipe). */
  listenFds: readonly number[];
  /** App-server masters forked by the runtime host: sockets it holds that the master adopts (address → key). */
  inherit?: Record<string, string>;
  /** Run as this user and group (supplementary groups are dropped). Needs a root emperor. */
  uid?: number;
  gid?: number;
  /** `cgroup.procs` files the process joins before its program starts (memory-limit, cpu-limit). */
  cgroupProcs?: readonly string[];
}

/** Where `setpriv` (util-linux) is, if anywhere: it drops privileges after the cgroup join of a wrapped spawn. */
export const SETPRIV = ['/usr/bin/setpriv', '/bin/setpriv'].find((path) => existsSync(path));

/**
 * The program and arguments that actually run: with cgroups, a /bin/sh that writes its own pid into every
 * `cgroup.procs` file (as root, so before any privilege drop; a failed write stops the start with exit code 125)
 * and then execs the program, through `setpriv` when it must also change user. The pid stays the same throughout.
 */
export function wrapForCgroup(spec: ChildSpec): {file: string; args: string[]; dropsPrivileges: boolean} {
  const procs = spec.cgroupProcs ?? [];
  if (procs.length === 0) return {file: spec.file, args: [...spec.args], dropsPrivileges: false};
  const identity = spec.uid !== undefined || spec.gid !== undefined;
  if (identity && SETPRIV === undefined) throw new Error('Internal error: a cgroup spawn with uid/gid without setpriv');
  const drop =
    identity && SETPRIV !== undefined
      ? [SETPRIV, ...(spec.uid === undefined ? [] : [`--reuid=${spec.uid}`]), ...(spec.gid === undefined ? [] : [`--regid=${spec.gid}`]), '--clear-groups', '--']
      : [];
  const script = 'while [ "$1" != "--" ]; do echo $$ > "$1" || exit 125; shift; done; shift; exec "$@"';
  return {file: '/bin/sh', args: ['-c', script, 'kaiser-cgroup', ...procs, '--', ...drop, spec.file, ...spec.args], dropsPrivileges: identity};
}

/** A running vassal process. */
export interface Child {
  readonly pid: number;
  readonly exited: Promise<ExitStatus>;
  /** Called with each line of stdout/stderr (without the newline). */
  onLine(listener: (line: string, stream: 'stdout' | 'stderr') => void): void;
  /** Called with each message on the emperor pipe. */
  onMessage(listener: (message: VassalMessage) => void): void;
  /** Writes bytes to the emperor pipe; false when there is none or it is closed. */
  send(bytes: Buffer): boolean;
  /** Signals the whole process group; a group already gone is not an error. */
  killGroup(signal: NodeJS.Signals): void;
}

/**
 * Spawns a vassal process through `sys`; throws only for programming errors (a failed exec shows up as an exit with
 * code 127/126). A command vassal (any program) needs `sys.prepareExec()` first; kaiser's own master, a known program
 * spawned directly only when the runtime host is not in use, does not.
 */
export function spawnChild(spec: ChildSpec, sys: System): Child {
  const env: Record<string, string> = {...spec.env};
  if (spec.emperorPipe) env['UWSGI_EMPEROR_FD'] = '3';
  const run = wrapForCgroup(spec);
  // Without a wrapper libuv switches user itself (setgroups([]), setgid, setuid) between fork and exec.
  const identity = run.dropsPrivileges ? {} : {...(spec.uid === undefined ? {} : {uid: spec.uid}), ...(spec.gid === undefined ? {} : {gid: spec.gid})};
  const subprocess = sys.spawn(run.file, run.args, {
    cwd: spec.cwd,
    env,
    ...identity,
    detached: true,
    anyProgram: !spec.emperorPipe,
    ...(spec.emperorPipe ? {pipe: true} : {inheritFds: spec.listenFds}),
  });
  const pid = subprocess.pid;
  const lineListeners: ((line: string, stream: 'stdout' | 'stderr') => void)[] = [];
  const messageListeners: ((message: VassalMessage) => void)[] = [];
  splitLines(subprocess.stdout, (line) => lineListeners.forEach((l) => l(line, 'stdout')));
  splitLines(subprocess.stderr, (line) => lineListeners.forEach((l) => l(line, 'stderr')));
  subprocess.onSpawnError((error) => lineListeners.forEach((l) => l(`kaiser: cannot start ${spec.file}: ${error.message}`, 'stderr')));
  const pipe = subprocess.pipe;
  if (pipe) {
    const decoder = new VassalStreamDecoder();
    pipe.on('data', (chunk: Buffer) => {
      for (const message of decoder.push(chunk)) messageListeners.forEach((l) => l(message));
    });
    pipe.on('error', () => undefined);
  }
  return {
    pid,
    exited: subprocess.exited,
    onLine: (l) => void lineListeners.push(l),
    onMessage: (l) => void messageListeners.push(l),
    send(bytes) {
      if (!pipe || pipe.destroyed || !pipe.writable) return false;
      pipe.write(bytes);
      return true;
    },
    killGroup(signal) {
      if (pid > 0) sys.kill(-pid, signal);
    },
  };
}
