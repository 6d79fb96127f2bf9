/**
 * One spawned vassal process: its pid, its exit, its output lines and (for kaiser server vassals) the emperor pipe.
 * Every vassal leads its own session and process group (detached), so the emperor can signal the whole tree and
 * account for it by session id; the reaper (reaper.ts) is told about each group for the no-orphan guarantee.
 */
import {spawn as spawnProcess, type ChildProcess} from 'node:child_process';
import {existsSync} from 'node:fs';
import type {Duplex} from 'node:stream';
import {VassalStreamDecoder, type VassalMessage} from '../protocol/emperor-pipe.js';
import {splitLines} from '../util/split-lines.js';

/** How a process ended. */
export interface ExitStatus {
  code: number | null;
  signal: NodeJS.Signals | null;
}

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

type Execa = (typeof import('execa'))['execa'];
let execa: Execa | undefined;

/**
 * Loads execa, which spawns command vassals (any program). It is loaded on first need rather than at start: it costs
 * the emperor ~16 MB of RSS, which an emperor of app-server vassals (forked by the runtime host) never needs.
 */
export async function prepareSpawner(): Promise<void> {
  execa ??= (await import('execa')).execa;
}

/**
 * Spawns a vassal; throws only for programming errors (a failed exec shows up as an exit with code 127/126).
 * Command vassals (any program) go through execa (`prepareSpawner()` first); kaiser's own master, a known program
 * spawned directly only when the runtime host is not in use, through child_process.
 */
export function spawnChild(spec: ChildSpec): Child {
  const env: Record<string, string> = {...spec.env};
  if (spec.emperorPipe) env['UWSGI_EMPEROR_FD'] = '3';
  let subprocess: ChildProcess;
  const run = wrapForCgroup(spec);
  // Without a wrapper libuv switches user itself (setgroups([]), setgid, setuid) between fork and exec.
  const identity = run.dropsPrivileges ? {} : {...(spec.uid === undefined ? {} : {uid: spec.uid}), ...(spec.gid === undefined ? {} : {gid: spec.gid})};
  if (spec.emperorPipe) {
    subprocess = spawnProcess(run.file, run.args, {cwd: spec.cwd, env, stdio: ['ignore', 'pipe', 'pipe', 'pipe'], detached: true, ...identity});
  } else {
    if (!execa) throw new Error('Internal error: spawnChild before prepareSpawner()');
    const running = execa(run.file, run.args, {
      cwd: spec.cwd,
      env,
      ...identity,
      extendEnv: false,
      // Integer fds are inherited as they are (execa passes them to child_process; its types only miss that form).
      stdio: ['ignore', 'pipe', 'pipe', ...spec.listenFds] as unknown as ['ignore', 'pipe', 'pipe'],
      buffer: false,
      reject: false,
      cleanup: false,
      detached: true,
      windowsHide: true,
    });
    running.catch(() => undefined);
    subprocess = running;
  }
  const pid = subprocess.pid;
  const lineListeners: ((line: string, stream: 'stdout' | 'stderr') => void)[] = [];
  const messageListeners: ((message: VassalMessage) => void)[] = [];
  splitLines(subprocess.stdout, (line) => lineListeners.forEach((l) => l(line, 'stdout')));
  splitLines(subprocess.stderr, (line) => lineListeners.forEach((l) => l(line, 'stderr')));
  const pipe = spec.emperorPipe ? (subprocess.stdio[3] as Duplex | undefined) : undefined;
  if (pipe) {
    const decoder = new VassalStreamDecoder();
    pipe.on('data', (chunk: Buffer) => {
      for (const message of decoder.push(chunk)) messageListeners.forEach((l) => l(message));
    });
    pipe.on('error', () => undefined);
  }
  const exited = new Promise<ExitStatus>((resolve) => {
    subprocess.once('exit', (code, signal) => resolve({code, signal}));
    // A program that cannot be executed at all (ENOENT, EACCES, EPERM) never exits: say why, and report it as
    // the shell would.
    subprocess.once('error', (error) => {
      lineListeners.forEach((l) => l(`kaiser: cannot start ${spec.file}: ${error.message}`, 'stderr'));
      resolve({code: 127, signal: null});
    });
  });
  return {
    pid: pid ?? -1,
    exited: pid === undefined ? Promise.resolve({code: 127, signal: null}) : exited,
    onLine: (l) => void lineListeners.push(l),
    onMessage: (l) => void messageListeners.push(l),
    send(bytes) {
      if (!pipe || pipe.destroyed || !pipe.writable) return false;
      pipe.write(bytes);
      return true;
    },
    killGroup(signal) {
      if (pid === undefined) return;
      try {
        process.kill(-pid, signal);
      } catch {
        // ESRCH: the group is already gone.
      }
    },
  };
}

