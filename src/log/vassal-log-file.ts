/**
 * A vassal's own log file (`logto`): every output line is appended with a synchronous write, so nothing is lost or
 * reordered when the file rotates. Rotation happens between two lines, by size (`log-maxsize` bytes) or by time
 * (`log-rotate = hourly|daily|weekly`: the first line of a new hour, day or week, local time, starts a new file);
 * `log-backups` files are kept as FILE.1 … FILE.N, newest first, gzipped to FILE.1.gz … with `log-compress`
 * (in the background: while one file is being compressed, the next rotation waits and the file grows a little).
 * External rotation (logrotate's default `create` mode: the file is renamed and a new one expected) is noticed by
 * `reopenIfMoved()` (called periodically) or forced with `reopen()` (SIGUSR2 to the emperor), like uWSGI's log reopen.
 * uWSGI's `log-backupname` (rotate by renaming to one backup path), `logfile-chmod` and `logfile-chown` (mode and
 * owner set on every open) are options of the file too; the last two only where the emperor opens the file itself
 * (a file a user's helper opened is that user's, and root must not chmod or chown what the descriptor names).
 *
 * Who opens, rotates and compresses the file is the `LogFileAccess` given (log-file-access.ts): the emperor itself
 * (synchronously), or the vassal's user through helpers (asynchronously). While an asynchronous open is in flight,
 * lines go on to the file already open (a rotation), or wait in a bounded queue (the first open); a rotation that
 * fails is reported once and not tried again until the file is reopened, so a file the user may not rename is not
 * retried at every line.
 */
import {closeSync, fchmodSync, fchownSync, fstatSync, statSync, writeSync} from 'node:fs';
import type {Result} from '../result.js';
import {EMPEROR_ACCESS, type LogFileAccess, type Opened} from './log-file-access.js';

export {EMPEROR_ACCESS, type LogFileAccess} from './log-file-access.js';

/** How often `log-rotate` starts a new file (the values config/vassal-spec.ts accepts). */
export type LogRotateEvery = 'hourly' | 'daily' | 'weekly';

export interface VassalLogOptions {
  path: string;
  /** Rotate once the file would grow past this many bytes; 0 = never. */
  maxBytes: number;
  /** Rotated files to keep. */
  backups: number;
  /** Also rotate at the first line of each new hour, day or week (local time). */
  every?: LogRotateEvery | undefined;
  /** Gzip rotated files (FILE.1.gz …). */
  compress?: boolean;
  /** Unix milliseconds; default `Date.now` (tests move time). */
  now?: () => number;
  /** uWSGI's `log-backupname`: rotate by renaming the file to this path (replacing it). */
  backupName?: string | undefined;
  /** uWSGI's `logfile-chmod`: the file's mode, set on every open. */
  mode?: number | undefined;
  /** uWSGI's `logfile-chown`: the file's owner, set on every open. */
  owner?: {uid: number; gid: number} | undefined;
}

/** The start (local time, Unix ms) of the hour, day or week (from Monday) that `ms` falls in. */
export function periodStart(every: LogRotateEvery, ms: number): number {
  const at = new Date(ms);
  at.setMinutes(0, 0, 0);
  if (every === 'hourly') return at.getTime();
  at.setHours(0);
  if (every === 'daily') return at.getTime();
  at.setDate(at.getDate() - ((at.getDay() + 6) % 7));
  return at.getTime();
}

/** Lines kept while the first open is in flight; more are dropped (and counted in the error report). */
const QUEUE_MAX_BYTES = 256 * 1024;

const codeOf = (error: unknown): string => (error as NodeJS.ErrnoException).code ?? String(error);

/** An append-only log file with rotation. Write errors are reported once through `onError` and then ignored. */
export class VassalLogFile {
  readonly #options: VassalLogOptions;
  readonly #onError: (error: Error) => void;
  readonly #access: LogFileAccess;
  #fd: number | undefined;
  #size = 0;
  /** The period the open file's lines belong to (time rotation). */
  #period = 0;
  #failed = false;
  #closed = false;
  /** A rotation failed: not tried again until the file is reopened. */
  #rotationFailed = false;
  /** An asynchronous open or rotation in flight. */
  #opening: Promise<void> | undefined;
  /** A rotated file being gzipped; rotations wait for it. */
  #compressing: Promise<void> | undefined;
  /** Lines waiting for the first open. */
  #queue: Buffer[] = [];
  #queuedBytes = 0;
  #dropped = 0;

  constructor(options: VassalLogOptions, onError: (error: Error) => void, access: LogFileAccess = EMPEROR_ACCESS) {
    this.#options = options;
    this.#onError = onError;
    this.#access = access;
    this.#begin(access.open(options.path), 'open');
  }

  get path(): string {
    return this.#options.path;
  }

  /** Whether this file rotates as `other` asks (a changed rotation setting needs a new VassalLogFile). */
  rotatesLike(other: Omit<VassalLogOptions, 'path'>): boolean {
    const o = this.#options;
    return o.maxBytes === other.maxBytes && o.backups === other.backups && o.every === other.every && (o.compress ?? false) === (other.compress ?? false) &&
      o.backupName === other.backupName && o.mode === other.mode && o.owner?.uid === other.owner?.uid && o.owner?.gid === other.owner?.gid;
  }

  /** Settles once no open, rotation or compression is in flight (tests, shutdown). */
  async settled(): Promise<void> {
    while (this.#opening !== undefined || this.#compressing !== undefined) await (this.#opening ?? this.#compressing);
  }

  /** Appends one line (a newline is added). */
  write(line: string): void {
    if (this.#closed) return;
    const bytes = Buffer.from(`${line}\n`, 'utf8');
    if (this.#size > 0 && !this.#rotationFailed && this.#opening === undefined && this.#isDue(bytes.length)) {
      this.#begin(this.#access.rotate(this.#options.path, this.#options.backups, this.#options.backupName), 'rotate');
    }
    if (this.#fd === undefined) {
      if (this.#opening === undefined) return;
      if (this.#queuedBytes + bytes.length > QUEUE_MAX_BYTES) this.#dropped += 1;
      else {
        this.#queue.push(bytes);
        this.#queuedBytes += bytes.length;
      }
      return;
    }
    this.#append(bytes);
  }

  /** Closes and opens the path again (after an external rotation); the old file takes lines until the new one is open. */
  reopen(): void {
    if (this.#closed) return;
    this.#rotationFailed = false;
    if (this.#opening !== undefined) return;
    this.#begin(this.#access.open(this.#options.path), 'open');
  }

  /** Reopens when the path no longer names the open file (moved or deleted by logrotate). */
  reopenIfMoved(): void {
    if (this.#closed || this.#opening !== undefined) return;
    // A user's file that could not be opened is tried again on SIGUSR2 or a change of the vassal, not at every tick.
    if (this.#fd === undefined) return this.#access.kind === 'emperor' ? this.reopen() : undefined;
    try {
      const open = fstatSync(this.#fd);
      const onDisk = statSync(this.#options.path);
      if (open.ino !== onDisk.ino || open.dev !== onDisk.dev) this.reopen();
    } catch {
      this.reopen();
    }
  }

  close(): void {
    this.#closed = true;
    this.#queue = [];
    this.#close();
  }

  #now(): number {
    return (this.#options.now ?? Date.now)();
  }

  #isDue(incomingBytes: number): boolean {
    const {maxBytes, every} = this.#options;
    if (this.#compressing !== undefined) return false;
    if (maxBytes > 0 && this.#size + incomingBytes > maxBytes) return true;
    return every !== undefined && periodStart(every, this.#now()) > this.#period;
  }

  #append(bytes: Buffer): void {
    if (this.#fd === undefined) return;
    try {
      writeSync(this.#fd, bytes);
      this.#size += bytes.length;
    } catch (error) {
      this.#report(`cannot write ${this.#options.path}: ${codeOf(error)}`);
    }
  }

  /** Takes the fd of an open or a rotation, now or once it arrives. */
  #begin(opened: Opened, what: 'open' | 'rotate'): void {
    if (!(opened instanceof Promise)) return this.#take(opened, what);
    const pending = opened.then((result) => {
      if (this.#opening === pending) this.#opening = undefined;
      if (this.#closed) {
        if (result.ok) closeSync(result.value);
        return;
      }
      this.#take(result, what);
    });
    this.#opening = pending;
  }

  #take(opened: Result<number, string>, what: 'open' | 'rotate'): void {
    if (!opened.ok) {
      if (what === 'rotate') this.#rotationFailed = true;
      else this.#close();
      const dropped = this.#dropped > 0 ? ` (${this.#dropped} lines dropped while opening it)` : '';
      this.#queue = [];
      this.#queuedBytes = 0;
      this.#dropped = 0;
      return this.#report(`${opened.error}${dropped}`);
    }
    this.#close();
    this.#fd = opened.value;
    try {
      const {mode, owner} = this.#options;
      if (this.#access.kind === 'emperor' && mode !== undefined) fchmodSync(opened.value, mode);
      if (this.#access.kind === 'emperor' && owner !== undefined) fchownSync(opened.value, owner.uid, owner.gid);
    } catch (error) {
      this.#report(`cannot set the mode or owner of ${this.#options.path}: ${codeOf(error)}`);
    }
    try {
      const stat = fstatSync(opened.value);
      this.#size = stat.size;
      // Lines already in the file belong to the period of its last write; a new file to the current one.
      const every = this.#options.every;
      if (every !== undefined) this.#period = periodStart(every, stat.size > 0 ? stat.mtimeMs : this.#now());
    } catch {
      this.#size = 0;
    }
    this.#failed = false;
    if (what === 'rotate' && this.#options.compress === true && this.#options.backups > 0 && this.#options.backupName === undefined) this.#compress(`${this.#options.path}.1`);
    const queued = this.#queue;
    this.#queue = [];
    this.#queuedBytes = 0;
    for (const bytes of queued) this.#append(bytes);
    if (this.#dropped > 0) {
      this.#report(`${this.#dropped} lines dropped while ${this.#options.path} was being opened`);
      this.#dropped = 0;
    }
    // Lines that waited for the open may have filled the file: it rotates now, not only at the next line.
    if (queued.length > 0 && this.#size > 0 && !this.#rotationFailed && this.#isDue(0)) this.#begin(this.#access.rotate(this.#options.path, this.#options.backups, this.#options.backupName), 'rotate');
  }

  #compress(file: string): void {
    const job = this.#access.compress(file).then((result) => {
      this.#compressing = undefined;
      if (!result.ok) this.#report(result.error);
    });
    this.#compressing = job;
  }

  #close(): void {
    if (this.#fd === undefined) return;
    try {
      closeSync(this.#fd);
    } catch {
      // already closed
    }
    this.#fd = undefined;
  }

  #report(message: string): void {
    if (this.#failed) return;
    this.#failed = true;
    this.#onError(new Error(message));
  }
}
