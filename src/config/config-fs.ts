/**
 * What reading a config needs from the filesystem beyond the file it was handed: other files (`ini =`,
 * `include =`, `inherit =`, `@(file)`, `for-readline`), existence checks (`if-exists`, `if-file`, `if-dir`) and a
 * directory listing (`for-glob`). An interface, so the config modules stay pure and tests use a map of files. The
 * real one reads with a bound: the file is opened non-blocking (a FIFO cannot hang the emperor), must be a
 * regular file after `fstat` on the open descriptor, and may not exceed the caller's limit.
 */
import {closeSync, constants, fstatSync, openSync, readdirSync, readSync, statSync} from 'node:fs';
import {err, ok, type Result} from '../result.js';
import {BoundedRead} from '../system/bounded-read.js';

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

/**
 * The rest of a bounded read, once `fd` is known to be a regular file of `size` bytes (fstat): its bytes up to
 * `limitBytes` (system/bounded-read.ts), or why not. /proc files report size 0 and are read until EOF (uWSGI's
 * `@(/proc/sys/net/core/somaxconn)`), from a first buffer of 4 KiB. A failing read throws (the caller words it).
 */
export function readOpenFile(fd: number, size: number, limitBytes: number): Result<Buffer, string> {
  if (size > limitBytes) return err(`larger than ${limitBytes} bytes`);
  const into = new BoundedRead(limitBytes, size > 0 ? size + 1 : 4096);
  for (let room = into.room(); room !== undefined; room = into.room()) {
    if (!into.took(readSync(fd, room))) break;
  }
  return into.tooLarge ? err(`larger than ${limitBytes} bytes`) : ok(into.bytes);
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
    return readOpenFile(fd, stat.size, limitBytes);
  } catch (error) {
    return err((error as Error).message);
  } finally {
    closeSync(fd);
  }
}
