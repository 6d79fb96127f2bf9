/**
 * What reading a config needs from the filesystem beyond the file it was handed: other files (`ini =`,
 * `include =`, `inherit =`, `@(file)`, `for-readline`), existence checks (`if-exists`, `if-file`, `if-dir`) and a
 * directory listing (`for-glob`). An interface, so the config modules stay pure and tests use a map of files. The
 * real one reads with a bound: the file is opened non-blocking (a FIFO cannot hang the emperor), must be a
 * regular file after `fstat` on the open descriptor, and may not exceed the caller's limit.
 */
import {closeSync, constants, fstatSync, openSync, readdirSync, readSync, statSync} from 'node:fs';
import {err, ok, type Result} from '../result.js';

/** What a path is, for the `if-*` logic options; undefined = does not exist (or cannot be seen). */
export type PathKind = 'file' | 'dir' | 'other';

/** The filesystem as config reading sees it. Paths are absolute. */
export interface ConfigFs {
  /** The file's bytes, or why not (`ENOENT: no such file or directory`, `larger than 65536 bytes`). */
  readFile(path: string, limitBytes: number): Result<Buffer, string>;
  kindOf(path: string): PathKind | undefined;
  /** Entry names of a directory, or undefined. */
  listDir(path: string): string[] | undefined;
}

/** The machine's filesystem, read with bounds. */
export const REAL_CONFIG_FS: ConfigFs = {
  readFile: readBounded,
  kindOf(path) {
    try {
      const stat = statSync(path);
      return stat.isFile() ? 'file' : stat.isDirectory() ? 'dir' : 'other';
    } catch {
      return undefined;
    }
  },
  listDir(path) {
    try {
      return readdirSync(path);
    } catch {
      return undefined;
    }
  },
};

/** A `ConfigFs` over a map of path → text, for tests and for callers that already hold the files. */
export function memoryConfigFs(files: Readonly<Record<string, string>>, dirs: readonly string[] = []): ConfigFs {
  return {
    readFile(path, limitBytes) {
      const text = files[path];
      if (text === undefined) return err('ENOENT: no such file or directory');
      const bytes = Buffer.from(text, 'utf8');
      return bytes.length > limitBytes ? err(`larger than ${limitBytes} bytes`) : ok(bytes);
    },
    kindOf: (path) => (files[path] !== undefined ? 'file' : dirs.includes(path) ? 'dir' : undefined),
    listDir(path) {
      const prefix = path.endsWith('/') ? path : `${path}/`;
      const names = Object.keys(files).filter((f) => f.startsWith(prefix) && !f.slice(prefix.length).includes('/'));
      return names.length === 0 && !dirs.includes(path) ? undefined : names.map((f) => f.slice(prefix.length));
    },
  };
}

function readBounded(path: string, limitBytes: number): Result<Buffer, string> {
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (error) {
    return err((error as Error).message);
  }
  try {
    const stat = fstatSync(fd);
    if (!stat.isFile()) return err('not a regular file');
    if (stat.size > limitBytes) return err(`larger than ${limitBytes} bytes`);
    // Read up to one byte past the limit, so a file that grew after fstat is still caught; /proc files report size
    // 0 and are read until EOF (uWSGI's `@(/proc/sys/net/core/somaxconn)`).
    let buffer = Buffer.alloc(Math.min(limitBytes + 1, stat.size > 0 ? stat.size + 1 : 4096));
    let length = 0;
    for (;;) {
      if (length === buffer.length) {
        if (buffer.length > limitBytes) break;
        const grown = Buffer.alloc(Math.min(limitBytes + 1, buffer.length * 2));
        buffer.copy(grown, 0, 0, length);
        buffer = grown;
      }
      const n = readSync(fd, buffer, length, buffer.length - length, null);
      if (n === 0) break;
      length += n;
    }
    if (length > limitBytes) return err(`larger than ${limitBytes} bytes`);
    return ok(buffer.subarray(0, length));
  } catch (error) {
    return err((error as Error).message);
  } finally {
    closeSync(fd);
  }
}
