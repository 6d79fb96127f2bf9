/**
 * A fake world for unit tests of the emperor (src/system/system.ts is what it fakes): files live in a map and tell
 * the directory watchers about every change, spawned processes are recorded and do only what the test tells them
 * (print a line, exit), kills are recorded, and time moves only when told (`advance`). `settle()` lets the promises
 * and streams in flight run, so a test reads as a sequence of world events and checks.
 */
import {Duplex, PassThrough} from 'node:stream';
import {dirname, basename} from 'node:path';
import type {DirWatch, ExitStatus, FileStat, FileType, ReadOnce, SpawnedProcess, SpawnOptions, System} from '../../src/system/system.js';

interface FakeFile {
  text: Buffer;
  ino: number;
  mtimeMs: number;
  uid: number;
  gid: number;
  /** Default 'file'. */
  type?: FileType;
  /** Set when the path is a symlink (to a file with the fields above): the link's own owner. */
  link?: {uid: number; gid: number};
}

interface Timer {
  at: number;
  seq: number;
  fn: () => void;
  live: boolean;
}

/** A process the fake started: it runs until the test (or a SIGKILL) makes it exit. */
export class FakeProcess implements SpawnedProcess {
  readonly pid: number;
  readonly file: string;
  readonly args: readonly string[];
  readonly options: SpawnOptions;
  readonly stdout = new PassThrough();
  readonly stderr = new PassThrough();
  readonly stdin: PassThrough | null;
  /** The emperor pipe: what the emperor wrote is in `received`; `sendUp` talks back. */
  readonly pipe: Duplex | null;
  readonly received: number[] = [];
  /** Signals sent to it (or its group), in order. */
  readonly signals: NodeJS.Signals[] = [];
  readonly exited: Promise<ExitStatus>;
  #resolveExit!: (status: ExitStatus) => void;
  #exit: ExitStatus | undefined;
  readonly #ignored = new Set<NodeJS.Signals>();

  constructor(pid: number, file: string, args: readonly string[], options: SpawnOptions) {
    this.pid = pid;
    this.file = file;
    this.args = args;
    this.options = options;
    this.stdin = options.stdin ? new PassThrough() : null;
    const received = this.received;
    this.pipe = options.pipe
      ? new Duplex({
          read: () => undefined,
          write(chunk: Buffer, _encoding, done) {
            received.push(...chunk);
            done();
          },
        })
      : null;
    // A helper reading its stdin (the reaper) exits at EOF.
    this.stdin?.on('finish', () => this.exit({code: 0, signal: null}));
    this.stdin?.resume();
    this.exited = new Promise((resolve) => (this.#resolveExit = resolve));
  }

  /** The program's command line, for assertions. */
  get commandLine(): string {
    return [this.file, ...this.args].join(' ');
  }

  get hasExited(): boolean {
    return this.#exit !== undefined;
  }

  onSpawnError(): void {
    // A fake program always starts.
  }

  /** Prints one line on stdout. */
  print(line: string): void {
    this.stdout.write(`${line}\n`);
  }

  /** Sends bytes up the emperor pipe (as the vassal). */
  sendUp(bytes: readonly number[]): void {
    this.pipe?.push(Buffer.from(bytes));
  }

  /** The program handles `signal` itself and keeps running (SIGKILL cannot be ignored). */
  ignore(signal: NodeJS.Signals): void {
    this.#ignored.add(signal);
  }

  /** Ends the process. */
  exit(status: ExitStatus): void {
    if (this.#exit) return;
    this.#exit = status;
    this.stdout.end();
    this.stderr.end();
    this.#resolveExit(status);
  }

  /** A signal arrives: SIGKILL always ends it, other signals unless ignored. */
  deliver(signal: NodeJS.Signals): void {
    if (this.#exit) return;
    this.signals.push(signal);
    if (signal === 'SIGKILL' || !this.#ignored.has(signal)) this.exit({code: null, signal});
  }
}

/** The fake world. */
export class FakeSystem implements System {
  /** Unix ms; starts at a fixed date so logs and snapshots are stable. */
  time = 1_704_067_200_000;
  readonly processes: FakeProcess[] = [];
  /** Every path read, in order. */
  readonly reads: string[] = [];
  readonly #files = new Map<string, FakeFile>();
  readonly #timers: Timer[] = [];
  readonly #watchers = new Map<string, Set<(name: string | undefined) => void>>();
  #nextPid = 1000;
  #nextIno = 1;
  #seq = 0;

  // ── System ──

  cpuMs(): number {
    return 0;
  }

  now(): number {
    return this.time;
  }

  setTimer(ms: number, fn: () => void): () => void {
    const timer: Timer = {at: this.time + Math.max(0, ms), seq: this.#seq++, fn, live: true};
    this.#timers.push(timer);
    return () => void (timer.live = false);
  }

  /** Throws from `readOnce` of these paths (a fault in the System layer). */
  readonly failingReads = new Set<string>();

  async stat(path: string): Promise<FileStat> {
    const file = this.#files.get(path);
    if (!file) throw enoent(path);
    return statOf(file);
  }

  async readOnce(path: string, maxBytes: number): Promise<ReadOnce> {
    this.reads.push(path);
    if (this.failingReads.has(path)) throw new Error(`injected read failure of ${path}`);
    const file = this.#files.get(path);
    if (!file) return {kind: 'missing'};
    const stat = statOf(file);
    const link = file.link ? {link: file.link} : {};
    if (stat.type !== 'file' || stat.size > maxBytes) return {kind: 'opened', stat, ...link};
    return {kind: 'opened', stat, ...link, text: file.text};
  }

  async readFile(path: string): Promise<Buffer> {
    this.reads.push(path);
    const file = this.#files.get(path);
    if (!file) throw enoent(path);
    return file.text;
  }

  async readDir(dir: string): Promise<string[]> {
    return [...this.#files.keys()].filter((path) => dirname(path) === dir).map((path) => basename(path));
  }

  exists(path: string): boolean {
    return this.#files.has(path);
  }

  async watchDir(dir: string, onName: (name: string | undefined) => void): Promise<DirWatch> {
    const listeners = this.#watchers.get(dir) ?? new Set();
    listeners.add(onName);
    this.#watchers.set(dir, listeners);
    return {close: async () => void listeners.delete(onName)};
  }

  /** `spawn` of a program whose command line contains one of these throws (a fault in the System layer). */
  readonly failingSpawns = new Set<string>();

  spawn(file: string, args: readonly string[], options: SpawnOptions): SpawnedProcess {
    const commandLine = [file, ...args].join(' ');
    for (const text of this.failingSpawns) if (commandLine.includes(text)) throw new Error(`injected spawn failure of ${commandLine}`);
    const child = new FakeProcess(this.#nextPid++, file, args, options);
    this.processes.push(child);
    return child;
  }

  async prepareExec(): Promise<void> {}

  kill(pid: number, signal: NodeJS.Signals): void {
    // A vassal leads its group, so the group is its leader here.
    this.processes.find((p) => p.pid === Math.abs(pid))?.deliver(signal);
  }

  // ── what the test does ──

  /** Writes a file (created or replaced), with mtime now; the watcher of its directory hears of it. */
  write(path: string, text: string, owner: {uid: number; gid: number} = {uid: 1000, gid: 1000}): void {
    const ino = this.#files.get(path)?.ino ?? this.#nextIno++;
    this.#files.set(path, {text: Buffer.from(text), ino, mtimeMs: this.time, ...owner});
    this.#notify(path);
  }

  /** Makes `path` something other than a regular file (a FIFO, a device, a directory), as `mkfifo` or `ln -s`. */
  special(path: string, type: FileType, owner: {uid: number; gid: number} = {uid: 1000, gid: 1000}): void {
    this.#files.set(path, {text: Buffer.alloc(0), ino: this.#nextIno++, mtimeMs: this.time, ...owner, type});
    this.#notify(path);
  }

  /** Writes `path` as a symlink owned by `linkOwner` to a file with `text` owned by `owner`. */
  symlink(path: string, text: string, owner: {uid: number; gid: number}, linkOwner: {uid: number; gid: number}): void {
    this.#files.set(path, {text: Buffer.from(text), ino: this.#nextIno++, mtimeMs: this.time, ...owner, link: linkOwner});
    this.#notify(path);
  }

  /** Moves a file (`mv`, same inode and mtime). */
  rename(from: string, to: string): void {
    const file = this.#files.get(from);
    if (!file) throw enoent(from);
    this.#files.delete(from);
    this.#files.set(to, file);
    this.#notify(from);
    this.#notify(to);
  }

  /** The watcher reports `path` without any change to it (as after an inotify overflow, or a rescan). */
  poke(path: string): void {
    this.#notify(path);
  }

  remove(path: string): void {
    this.#files.delete(path);
    this.#notify(path);
  }

  /** Moves time forward, running every timer that falls due (in order), letting promises settle in between. */
  async advance(ms: number): Promise<void> {
    const until = this.time + ms;
    for (;;) {
      await this.settle();
      const due = this.#timers.filter((t) => t.live && t.at <= until).sort((a, b) => a.at - b.at || a.seq - b.seq)[0];
      if (!due) break;
      this.time = due.at;
      due.live = false;
      due.fn();
    }
    this.time = until;
    await this.settle();
  }

  /** Lets promise callbacks and stream events in flight run. */
  async settle(): Promise<void> {
    for (let i = 0; i < 20; i++) await new Promise<void>((resolve) => setImmediate(resolve));
  }

  /** The processes whose command line contains `text`, oldest first. */
  running(text: string): FakeProcess[] {
    return this.processes.filter((p) => !p.hasExited && p.commandLine.includes(text));
  }

  /** Every process ever started whose command line contains `text`. */
  started(text: string): FakeProcess[] {
    return this.processes.filter((p) => p.commandLine.includes(text));
  }

  #notify(path: string): void {
    for (const listener of this.#watchers.get(dirname(path)) ?? []) listener(basename(path));
  }
}

function statOf(file: FakeFile): FileStat {
  const type = file.type ?? 'file';
  return {ino: file.ino, size: file.text.length, mtimeMs: file.mtimeMs, uid: file.uid, gid: file.gid, isFile: type === 'file', type};
}

function enoent(path: string): NodeJS.ErrnoException {
  return Object.assign(new Error(`ENOENT: no such file or directory, '${path}'`), {code: 'ENOENT'});
}
