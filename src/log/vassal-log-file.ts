/**
 * A vassal's own log file (`logto`): every output line is appended with a synchronous write, so nothing is lost or
 * reordered when the file rotates. Rotation by size (`log-maxsize` bytes, `log-backups` files kept as FILE.1 …
 * FILE.N, newest first) happens between two lines. External rotation (logrotate's default `create` mode: the file is
 * renamed and a new one expected) is noticed by `reopenIfMoved()` (called periodically) or forced with `reopen()`
 * (SIGUSR2 to the emperor), like uWSGI's log reopen.
 */
import {closeSync, fstatSync, openSync, renameSync, statSync, writeSync, existsSync, unlinkSync} from 'node:fs';

export interface VassalLogOptions {
  path: string;
  /** Rotate once the file would grow past this many bytes; 0 = never. */
  maxBytes: number;
  /** Rotated files to keep. */
  backups: number;
}

/** An append-only log file with rotation. Write errors are reported once through `onError` and then ignored. */
export class VassalLogFile {
  readonly #options: VassalLogOptions;
  readonly #onError: (error: Error) => void;
  #fd: number | undefined;
  #size = 0;
  #failed = false;

  constructor(options: VassalLogOptions, onError: (error: Error) => void) {
    this.#options = options;
    this.#onError = onError;
    this.#open();
  }

  get path(): string {
    return this.#options.path;
  }

  /** Appends one line (a newline is added). */
  write(line: string): void {
    const bytes = Buffer.from(`${line}\n`, 'utf8');
    if (this.#options.maxBytes > 0 && this.#size > 0 && this.#size + bytes.length > this.#options.maxBytes) this.#rotate();
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

  #rotate(): void {
    this.#close();
    const {path, backups} = this.#options;
    try {
      if (backups <= 0) {
        unlinkSync(path);
      } else {
        for (let i = backups - 1; i >= 1; i--) if (existsSync(`${path}.${i}`)) renameSync(`${path}.${i}`, `${path}.${i + 1}`);
        renameSync(path, `${path}.1`);
      }
    } catch (error) {
      this.#report(error as Error);
    }
    this.#open();
  }

  #open(): void {
    try {
      this.#fd = openSync(this.#options.path, 'a', 0o640);
      this.#size = fstatSync(this.#fd).size;
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
