/**
 * One spawned vassal process: its pid, its exit, its output lines and (for kaiser server vassals) the emperor pipe.
 * Every vassal leads its own session and process group (detached), so the emperor can signal the whole tree and
 * account for it by session id; the reaper (reaper.ts) is told about each group for the no-orphan guarantee.
 */
import {existsSync} from 'node:fs';
import type {Readable} from 'node:stream';
import {VassalStreamDecoder, type VassalMessage} from '../protocol/emperor-pipe.js';
import type {ExitStatus, System} from '../system/system.js';
import {formatError} from '../errors.js';
import {LINES_PER_SECOND, OutputBudget, REAL_CLOCK, type BudgetClock, type TokenBucket} from '../util/output-budget.js';
import {splitLines, type LineBudget} from '../util/split-lines.js';

export type {ExitStatus} from '../system/system.js';
export type {TokenBucket} from '../util/output-budget.js';

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

/**
 * The output budget of one instance on `clock`, until it has `exited`: what it drops is said through `say` (as a
 * line of its stderr). Shared with the runtime host's forked masters.
 */
export function outputBudgetFor(clock: BudgetClock, sharedLines: TokenBucket | undefined, say: (line: string) => void, exited: Promise<unknown>): LineBudget {
  const output = new OutputBudget({
    clock,
    ...(sharedLines ? {shared: sharedLines} : {}),
    onDropped: (lines, seconds) => say(`kaiser: KAISER_VASSAL_OUTPUT_DROPPED ${formatError('KAISER_VASSAL_OUTPUT_DROPPED', {lines, seconds, budget: LINES_PER_SECOND})}`),
  });
  void exited.then(() => output.close());
  return {output, setTimer: (ms, fn) => clock.setTimer(ms, fn)};
}

/** Calls `onLine` with each line of a forked master's output stream (stdout and stderr in one), on its own budget. */
export function followMasterOutput(stream: Readable, onLine: (line: string) => void, sharedLines: TokenBucket | undefined, exited: Promise<unknown>): void {
  splitLines(stream, onLine, outputBudgetFor(REAL_CLOCK, sharedLines, onLine, exited));
}

/** Where `setpriv` (util-linux) is, if anywhere: it drops privileges after the cgroup join of a wrapped spawn. */
export const SETPRIV = ['/usr/bin/setpriv', '/bin/setpriv'].find((path) => existsSync(path));

/** The system's python3, which enters the working directory and sets the environment of a vassal run as a user. */
const SYSTEM_PYTHON = ['/usr/bin/python3', '/bin/python3'].find((path) => existsSync(path));

/** The vassal's variables cross the wrappers under this prefix: no root process ever runs with them (LD_PRELOAD). */
export const VASSAL_ENV_PREFIX = 'KAISER_VASSAL_ENV_';

/** What every root wrapper runs with (and nothing else). */
const WRAPPER_ENV: Readonly<Record<string, string>> = {PATH: '/usr/sbin:/usr/bin:/sbin:/bin', LC_ALL: 'C'};

/**
 * Runs as the vassal's user: enters the working directory (so a directory the user may not enter is refused by the
 * kernel, not entered as root), takes the vassal's variables back from under the prefix, and execs the program
 * (the pid stays the same). Exit codes as a shell's: 125 no such directory, 126 not executable, 127 not found.
 */
const AS_USER_PY = `import os, sys
p = ${JSON.stringify(VASSAL_ENV_PREFIX)}
env = {k[len(p):]: v for k, v in os.environ.items() if k.startswith(p)}
try:
    os.chdir(sys.argv[1])
except OSError as e:
    sys.stderr.write('kaiser: cannot enter cwd %s: %s\\n' % (sys.argv[1], e.strerror))
    sys.exit(125)
try:
    os.execvpe(sys.argv[2], sys.argv[2:], env)
except OSError as e:
    sys.stderr.write('kaiser: cannot start %s: %s\\n' % (sys.argv[2], e.strerror))
    sys.exit(126 if isinstance(e, PermissionError) else 127)
`;

/** How a spawn actually runs (see `wrapForLaunch`). */
export interface WrappedLaunch {
  file: string;
  args: string[];
  env: Record<string, string>;
  cwd: string;
  /** libuv switches to the spec's uid/gid between fork and exec (otherwise a wrapper does, or nobody). */
  libuvDropsPrivileges: boolean;
}

/**
 * The program, arguments, environment and directory that actually run. A vassal running as the emperor's user runs
 * as is. One running as another user (uid, gid, tyrant mode) never has root do anything its file names (issue 14):
 *
 * - without cgroups, libuv switches user between fork and exec and a python3 running as the user enters `cwd`
 *   (libuv would enter it as root, before the switch) and execs the program with its environment;
 * - with cgroups (memory-limit, cpu-limit), a /bin/sh writes its own pid into every `cgroup.procs` file as root (a
 *   failed write stops the start with exit code 125), then `setpriv` switches user and execs the same python3. The
 *   root sh and setpriv run with a fixed clean environment: the vassal's variables (LD_PRELOAD…) cross them only
 *   under a prefix that no loader or shell reads.
 *
 * A root vassal with cgroups gets the sh wrapper alone, with its own environment.
 */
export function wrapForLaunch(spec: ChildSpec, env: Record<string, string>): WrappedLaunch {
  const procs = spec.cgroupProcs ?? [];
  const identity = spec.uid !== undefined || spec.gid !== undefined;
  const join = 'while [ "$1" != "--" ]; do echo $$ > "$1" || exit 125; shift; done; shift; exec "$@"';
  if (!identity || SYSTEM_PYTHON === undefined) {
    if (procs.length === 0) return {file: spec.file, args: [...spec.args], env, cwd: spec.cwd, libuvDropsPrivileges: identity};
    if (identity) throw new Error('Internal error: a cgroup spawn with uid/gid without python3');
    return {file: '/bin/sh', args: ['-c', join, 'kaiser-cgroup', ...procs, '--', spec.file, ...spec.args], env, cwd: spec.cwd, libuvDropsPrivileges: false};
  }
  const prefixed: Record<string, string> = {};
  for (const [name, value] of Object.entries(env)) prefixed[VASSAL_ENV_PREFIX + name] = value;
  const asUser = ['-I', '-S', '-c', AS_USER_PY, spec.cwd, spec.file, ...spec.args];
  if (procs.length === 0) return {file: SYSTEM_PYTHON, args: asUser, env: prefixed, cwd: '/', libuvDropsPrivileges: true};
  if (SETPRIV === undefined) throw new Error('Internal error: a cgroup spawn with uid/gid without setpriv');
  const drop = [SETPRIV, ...(spec.uid === undefined ? [] : [`--reuid=${spec.uid}`]), ...(spec.gid === undefined ? [] : [`--regid=${spec.gid}`]), '--clear-groups', '--'];
  return {file: '/bin/sh', args: ['-c', join, 'kaiser-cgroup', ...procs, '--', ...drop, SYSTEM_PYTHON, ...asUser], env: {...WRAPPER_ENV, ...prefixed}, cwd: '/', libuvDropsPrivileges: false};
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
export function spawnChild(spec: ChildSpec, sys: System, output: {sharedLines?: TokenBucket} = {}): Child {
  const env: Record<string, string> = {...spec.env};
  if (spec.emperorPipe) env['UWSGI_EMPEROR_FD'] = '3';
  const run = wrapForLaunch(spec, env);
  // libuv switches user itself (setgroups([]), setgid, setuid) between fork and exec, unless setpriv does it later.
  const identity = run.libuvDropsPrivileges ? {...(spec.uid === undefined ? {} : {uid: spec.uid}), ...(spec.gid === undefined ? {} : {gid: spec.gid})} : {};
  const subprocess = sys.spawn(run.file, run.args, {
    cwd: run.cwd,
    env: run.env,
    ...identity,
    detached: true,
    anyProgram: !spec.emperorPipe,
    ...(spec.emperorPipe ? {pipe: true} : {inheritFds: spec.listenFds}),
  });
  const pid = subprocess.pid;
  const lineListeners: ((line: string, stream: 'stdout' | 'stderr') => void)[] = [];
  const messageListeners: ((message: VassalMessage) => void)[] = [];
  // stdout and stderr share one budget (util/output-budget.ts): lines over it are dropped and counted.
  const budget = outputBudgetFor(sys, output.sharedLines, (line) => lineListeners.forEach((l) => l(line, 'stderr')), subprocess.exited);
  splitLines(subprocess.stdout, (line) => lineListeners.forEach((l) => l(line, 'stdout')), budget);
  splitLines(subprocess.stderr, (line) => lineListeners.forEach((l) => l(line, 'stderr')), budget);
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
