/**
 * Everything the emperor does to the world, as one injectable object (Supervisor's `options`): the clock and timers,
 * the files of the vassal directory, and processes. `realSystem()` (real-system.ts) wraps node's timers, fs,
 * chokidar, child_process and execa; `test/helpers/fake-system.ts` keeps files in a map, records spawns and kills,
 * and moves time only when told, so the emperor's decisions are tested without processes or waiting.
 *
 * What does not go through it, and why (docs/architecture.md): the runtime host's IPC channel, the socket store's
 * raw libuv handles and the cgroup files are each one module's own protocol with the kernel or a helper, tested by
 * their integration tests; an emperor under test runs without them (zygote off, no sockets, no limits).
 */
import type {Duplex, Readable, Writable} from 'node:stream';

/** How a process ended. */
export interface ExitStatus {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** What to start and how. */
export interface SpawnOptions {
  cwd?: string;
  /** The complete environment (nothing is inherited). */
  env?: Record<string, string>;
  /** Open fd 3 as a socketpair (the emperor pipe) and return it as `pipe`. */
  pipe?: boolean;
  /** Listening socket fds inherited as fds 3, 4, … (socket activation; not combined with `pipe`). */
  inheritFds?: readonly number[];
  /** Keep stdin open as a pipe (`stdin` of the result) instead of /dev/null. */
  stdin?: boolean;
  /** Send stdout and stderr to /dev/null instead of returning them. */
  quiet?: boolean;
  /** Lead a new session and process group (every vassal does). */
  detached?: boolean;
  uid?: number;
  gid?: number;
  /**
   * Any program (a command vassal): spawned through execa, which `prepareExec()` loads. Otherwise a program kaiser
   * knows (its own master, /bin/sh helpers), spawned with child_process.
   */
  anyProgram?: boolean;
}

/** A started process, as raw as node gives it. */
export interface SpawnedProcess {
  /** -1 when the spawn failed before a fork (then `exited` reports 127, as a shell would). */
  readonly pid: number;
  readonly exited: Promise<ExitStatus>;
  readonly stdout: Readable | null;
  readonly stderr: Readable | null;
  readonly stdin: Writable | null;
  /** The emperor pipe (fd 3), with `pipe: true`. */
  readonly pipe: Duplex | null;
  /** Why the program could not be started at all (ENOENT, EACCES), once known; `exited` then reports 127. */
  onSpawnError(listener: (error: Error) => void): void;
}

/** What kind of thing a path names. */
export type FileType = 'file' | 'directory' | 'fifo' | 'character-device' | 'block-device' | 'socket' | 'symlink' | 'other';

/** What `stat` reports of a file (it follows symlinks). */
export interface FileStat {
  ino: number;
  size: number;
  mtimeMs: number;
  uid: number;
  gid: number;
  isFile: boolean;
  type: FileType;
}

/**
 * What `readOnce` found at a path: nothing (no such name, or a symlink to nothing), an error opening or reading it
 * (`code`: ELOOP, EACCES, EIO…), or the file it names with the fstat of the descriptor that was read. `text` is
 * there only for a regular file no larger than the limit; `link` is the owner of the symlink the path was, if it was
 * one (`stat` is then the target's).
 */
export type ReadOnce =
  | {kind: 'missing'}
  | {kind: 'failed'; code: string}
  | {kind: 'opened'; stat: FileStat; link?: {uid: number; gid: number}; text?: Buffer};

/** A directory being watched. */
export interface DirWatch {
  close(): Promise<void>;
}

/** The world as the emperor sees it. */
export interface System {
  // ── clock ──
  /** Unix milliseconds (the fake's moves only when told). */
  now(): number;
  /** CPU time this process has used so far (user + system, every thread), in ms (the fake's does not move). */
  cpuMs(): number;
  /** Calls `fn` once after `ms`; returns the cancel function. `background` timers do not keep the process alive. */
  setTimer(ms: number, fn: () => void, options?: {background?: boolean}): () => void;

  // ── files ──
  /** Rejects with the errno error (`code` ENOENT, EACCES…). */
  stat(path: string): Promise<FileStat>;
  /** Reads a file kaiser trusts (/proc); files a tenant may control go through `readOnce`. */
  readFile(path: string): Promise<Buffer>;
  /**
   * Opens `path` once (O_NOFOLLOW|O_NONBLOCK, a symlink followed by hand to its final target) and takes type, size,
   * owner and content from that one descriptor; reads only a regular file of at most `maxBytes`. Never rejects.
   */
  readOnce(path: string, maxBytes: number): Promise<ReadOnce>;
  /** The names in `dir`. */
  readDir(dir: string): Promise<string[]>;
  exists(path: string): boolean;
  /**
   * Reports changes in `dir` (not below it) by file name: creation, write, touch, removal and renames alike; an
   * event without a name (inotify overflow) comes as undefined. Resolves once watching.
   */
  watchDir(dir: string, onName: (name: string | undefined) => void, onError: (error: unknown) => void): Promise<DirWatch>;

  // ── processes ──
  /** Starts a process; throws only for programming errors (a failed exec is an exit with code 127). */
  spawn(file: string, args: readonly string[], options: SpawnOptions): SpawnedProcess;
  /** Loads what `anyProgram` spawns need (execa, ~16 MB that an emperor of app-server vassals never pays). */
  prepareExec(): Promise<void>;
  /** Sends a signal; a negative pid is the process group. A process already gone is not an error. */
  kill(pid: number, signal: NodeJS.Signals): void;
}
