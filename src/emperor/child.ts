/**
 * One spawned vassal process: its pid, its exit, its output lines and (for kaiser server vassals) the emperor pipe.
 * Every vassal leads its own session and process group (detached), so the emperor can signal the whole tree and
 * account for it by session id; the reaper (reaper.ts) is told about each group for the no-orphan guarantee.
 */
import {spawn as spawnProcess, type ChildProcess} from 'node:child_process';
import type {Readable, Duplex} from 'node:stream';
import {VassalStreamDecoder, type VassalMessage} from '../protocol/emperor-pipe.js';

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
  if (spec.emperorPipe) {
    subprocess = spawnProcess(spec.file, [...spec.args], {cwd: spec.cwd, env, stdio: ['ignore', 'pipe', 'pipe', 'pipe'], detached: true});
  } else {
    if (!execa) throw new Error('Internal error: spawnChild before prepareSpawner()');
    const running = execa(spec.file, [...spec.args], {
      cwd: spec.cwd,
      env,
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
    // A program that cannot be executed at all (ENOENT, EACCES) never exits: report it as the shell would.
    subprocess.once('error', () => resolve({code: 127, signal: null}));
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

/** Splits a byte stream into lines; a final unterminated line is delivered at end of stream. */
function splitLines(stream: Readable | null | undefined, onLine: (line: string) => void): void {
  if (!stream) return;
  let rest = '';
  stream.setEncoding('utf8');
  stream.on('data', (chunk: string) => {
    const parts = (rest + chunk).split('\n');
    rest = parts.pop() ?? '';
    // A single line longer than 64 KiB is cut rather than buffered without bound.
    if (rest.length > 65536) {
      parts.push(rest);
      rest = '';
    }
    for (const part of parts) onLine(part.endsWith('\r') ? part.slice(0, -1) : part);
  });
  stream.on('end', () => {
    if (rest) onLine(rest);
    rest = '';
  });
  stream.on('error', () => undefined);
}
