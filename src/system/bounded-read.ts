/**
 * The one way kaiser reads a file someone else controls (a vassal file, a defaults file, a config include) from a
 * descriptor it already opened and `fstat`ed: until EOF into a buffer that starts at the size fstat gave and
 * doubles, but never past `limit + 1` bytes. So a file that grew after fstat is read whole or caught as too large
 * (`tooLarge`), a /proc file (size 0: uWSGI's `@(/proc/sys/net/core/somaxconn)`) is read to its end, and no file
 * can make kaiser hold more than `limit + 1` bytes. The reads themselves stay with the caller, sync
 * (config/config-fs.ts, emperor/owner-config-fs.ts) or async (system/read-once.ts):
 *
 *   const into = new BoundedRead(limit, stat.size + 1);
 *   for (let room = into.room(); room !== undefined; room = into.room()) {
 *     if (!into.took(readSync(fd, room))) break;
 *   }
 *   return into.tooLarge ? err(`larger than ${limit} bytes`) : ok(into.bytes);
 */

export class BoundedRead {
  readonly #limit: number;
  #buffer: Buffer;
  #length = 0;

  /** `firstBytes`: the first buffer's size (the size fstat gave, plus one to see growth); capped at `limit + 1`. */
  constructor(limit: number, firstBytes: number) {
    this.#limit = limit;
    this.#buffer = Buffer.alloc(Math.min(limit + 1, Math.max(firstBytes, 1)));
  }

  /** Bytes read so far: also the file position the next read starts at. */
  get length(): number {
    return this.#length;
  }

  /** More than `limit` bytes were read: the file is larger than allowed. */
  get tooLarge(): boolean {
    return this.#length > this.#limit;
  }

  /** What was read. */
  get bytes(): Buffer {
    return this.#buffer.subarray(0, this.#length);
  }

  /** Where the next read goes (grown when full), or undefined once `limit + 1` bytes are in. */
  room(): Buffer | undefined {
    if (this.#length === this.#buffer.length) {
      if (this.#length > this.#limit) return undefined;
      const grown = Buffer.alloc(Math.min(this.#limit + 1, this.#buffer.length * 2));
      this.#buffer.copy(grown, 0, 0, this.#length);
      this.#buffer = grown;
    }
    return this.#buffer.subarray(this.#length);
  }

  /** Counts a read of `n` bytes into `room()`; false at EOF (`n` = 0). */
  took(n: number): boolean {
    this.#length += n;
    return n > 0;
  }
}
