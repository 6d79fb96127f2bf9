/**
 * One spawned vassal process: its pid, its exit, its output lines and (for kaiser server vassals) the emperor pipe.
 * Every vassal leads its own session and process group (detached), so the emperor can signal the whole tree and
 * account for it by session id; the reaper (reaper.ts) is told about each group for the no-orphan guarantee.
 */
import {execa} from 'execa';
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

/** Spawns a vassal; throws only for programming errors (a failed exec shows up as an exit with code 127/126). */
export function spawnChild(spec: ChildSpec): Child {
  const env: Record<string, string> = {...spec.env};
  if (spec.emperorPipe) env['UWSGI_EMPEROR_FD'] = '3';
  const subprocess = execa(spec.file, [...spec.args], {
    cwd: spec.cwd,
    env,
    extendEnv: false,
    // Integer fds are inherited as they are (execa passes them to child_process; its types only miss that form).
    stdio: (spec.emperorPipe ? ['ignore', 'pipe', 'pipe', 'pipe'] : ['ignore', 'pipe', 'pipe', ...spec.listenFds]) as ['ignore', 'pipe', 'pipe', 'pipe'],
    buffer: false,
    reject: false,
    cleanup: false,
    detached: true,
    windowsHide: true,
  });
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
  const exited: Promise<ExitStatus> = subprocess.then(
    (result) => ({
      code: result.exitCode ?? null,
      signal: (result.signal as NodeJS.Signals | undefined) ?? null,
    }),
    () => ({code: 127, signal: null}),
  );
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
