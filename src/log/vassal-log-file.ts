/**
 * A vassal's own log file (`logto`): every output line is appended with a synchronous write, so nothing is lost or
 * reordered when the file rotates. Rotation happens between two lines, by size (`log-maxsize` bytes) or by time
 * (`log-rotate = hourly|daily|weekly`: the first line of a new hour, day or week, local time, starts a new file);
 * `log-backups` files are kept as FILE.1 … FILE.N, newest first, gzipped to FILE.1.gz … with `log-compress`
 * (in the background: while one file is being compressed, the next rotation waits and the file grows a little).
 * External rotation (logrotate's default `create` mode: the file is renamed and a new one expected) is noticed by
 * `reopenIfMoved()` (called periodically) or forced with `reopen()` (SIGUSR2 to the emperor), like uWSGI's log reopen.
 * uWSGI's `log-backupname` (rotate by renaming to one backup path), `logfile-chmod` and `logfile-chown` (mode and
 * owner set on every open) are options of the file too.
 */
import {closeSync, createReadStream, createWriteStream, existsSync, fchmodSync, fchownSync, fstatSync, openSync, renameSync, statSync, unlinkSync, writeSync} from 'node:fs';
import {pipeline} from 'node:stream/promises';
import {createGzip} from 'node:zlib';

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

/** An append-only log file with rotation. Write errors are reported once through `onError` and then ignored. */
export class VassalLogFile {
  readonly #options: VassalLogOptions;
  readonly #onError: (error: Error) => void;
  #fd: number | undefined;
  #size = 0;
  /** The period the open file's lines belong to (time rotation). */
  #period = 0;
  #failed = false;
  /** A rotated file being gzipped; rotations wait for it. */
  #compressing: Promise<void> | undefined;

  constructor(options: VassalLogOptions, onError: (error: Error) => void) {
    this.#options = options;
    this.#onError = onError;
    this.#open();
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

  /** Settles once no rotated file is being compressed (tests, shutdown). */
  async settled(): Promise<void> {
    while (this.#compressing !== undefined) await this.#compressing;
  }

  /** Appends one line (a newline is added). */
  write(line: string): void {
    const bytes = Buffer.from(`${line}\n`, 'utf8');
    if (this.#size > 0 && this.#isDue(bytes.length)) this.#rotate();
    if (this.#fd === undefined) return;
    try {
      writeSync(this.#fd, bytes);
      this.#size += bytes.length;
    } catch (error) {
      this.#report(error as Error);
    }
  }

  /** Closes and opens the path again (after an external rotation). */
  reopen(): void {
    this.#close();
    this.#open();
  }

  /** Reopens when the path no longer names the open file (moved or deleted by logrotate). */
  reopenIfMoved(): void {
    if (this.#fd === undefined) return this.#open();
    try {
      const open = fstatSync(this.#fd);
      const onDisk = statSync(this.#options.path);
      if (open.ino !== onDisk.ino || open.dev !== onDisk.dev) this.reopen();
    } catch {
      this.reopen();
    }
  }

  close(): void {
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

  #rotate(): void {
    this.#close();
    const {path, backups, compress = false, backupName} = this.#options;
    try {
      if (backupName !== undefined) {
        renameSync(path, backupName);
      } else if (backups <= 0) {
        unlinkSync(path);
      } else {
        // Older files move up one place; a plain file left by an interrupted compression moves along with them.
        for (let i = backups - 1; i >= 1; i--) {
          for (const suffix of ['', '.gz']) if (existsSync(`${path}.${i}${suffix}`)) renameSync(`${path}.${i}${suffix}`, `${path}.${i + 1}${suffix}`);
        }
        renameSync(path, `${path}.1`);
        if (compress) this.#compress(`${path}.1`);
      }
    } catch (error) {
      this.#report(error as Error);
    }
    this.#open();
  }

  #compress(file: string): void {
    const job = pipeline(createReadStream(file), createGzip(), createWriteStream(`${file}.gz.tmp`, {mode: 0o640}))
      .then(() => {
        renameSync(`${file}.gz.tmp`, `${file}.gz`);
        unlinkSync(file);
      })
      .catch((error: unknown) => this.#report(error as Error))
      .finally(() => {
        this.#compressing = undefined;
      });
    this.#compressing = job;
  }

  #open(): void {
    try {
      this.#fd = openSync(this.#options.path, 'a', 0o640);
      const {mode, owner} = this.#options;
      if (mode !== undefined) fchmodSync(this.#fd, mode);
      if (owner !== undefined) fchownSync(this.#fd, owner.uid, owner.gid);
      const stat = fstatSync(this.#fd);
      this.#size = stat.size;
      // Lines already in the file belong to the period of its last write; a new file to the current one.
      const every = this.#options.every;
      if (every !== undefined) this.#period = periodStart(every, stat.size > 0 ? stat.mtimeMs : this.#now());
      this.#failed = false;
    } catch (error) {
      this.#fd = undefined;
      this.#report(error as Error);
    }
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

  #report(error: Error): void {
    if (this.#failed) return;
    this.#failed = true;
    this.#onError(error);
  }
}
