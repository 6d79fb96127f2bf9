/**
 * Who opens, rotates and compresses a vassal's `logto` file (vassal-log-file.ts does the writing): the emperor
 * itself for a vassal that runs as the emperor's user (`EMPEROR_ACCESS`, synchronous), or the vassal's user through
 * short-lived helpers (emperor/user-actions.ts, asynchronous) for one that runs as someone else, so that a tenant
 * cannot make a root emperor create, rename, delete or overwrite a file it could not touch itself (issue 14).
 */
import {createReadStream, createWriteStream, existsSync, openSync, renameSync, unlinkSync} from 'node:fs';
import {err, ok, type Result} from '../result.js';

/** An fd opened for appending, or why not; synchronous or not. */
export type Opened = Result<number, string> | Promise<Result<number, string>>;

/** How a log file is opened, rotated and compressed. */
export interface LogFileAccess {
  /** `emperor`: cheap and synchronous (retried at every `reopenIfMoved`); `user`: a helper process per call. */
  readonly kind: 'emperor' | 'user';
  /** Opens `path` for appending, creating it 0640. */
  open(path: string): Opened;
  /**
   * Moves `path` to `path.1` … `path.N` (compressed ones `path.N.gz` along with them; removes `path` when `backups`
   * is 0; renames it to `backupName` when given), then opens a new `path`.
   */
  rotate(path: string, backups: number, backupName?: string): Opened;
  /** Gzips `file` to `file.gz` and removes `file`. */
  compress(file: string): Promise<Result<void, string>>;
}

const codeOf = (error: unknown): string => (error as NodeJS.ErrnoException).code ?? String(error);

/** The emperor opens, rotates and compresses the file itself (a vassal that runs as the emperor's own user). */
export const EMPEROR_ACCESS: LogFileAccess = {
  kind: 'emperor',
  open(path) {
    try {
      return ok(openSync(path, 'a', 0o640));
    } catch (error) {
      return err(`cannot open ${path}: ${codeOf(error)}`);
    }
  },
  rotate(path, backups, backupName) {
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
      }
    } catch (error) {
      return err(`cannot rotate ${path}: ${codeOf(error)}`);
    }
    return EMPEROR_ACCESS.open(path);
  },
  async compress(file) {
    try {
      // zlib is loaded by the first compression only (the emperor's RSS).
      const [{pipeline}, {createGzip}] = await Promise.all([import('node:stream/promises'), import('node:zlib')]);
      await pipeline(createReadStream(file), createGzip(), createWriteStream(`${file}.gz.tmp`, {mode: 0o640}));
      renameSync(`${file}.gz.tmp`, `${file}.gz`);
      unlinkSync(file);
      return ok(undefined);
    } catch (error) {
      return err(`cannot compress ${file}: ${codeOf(error)}`);
    }
  },
};
