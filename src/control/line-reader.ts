/**
 * Newline framing for the control protocol: bytes in, complete lines out, with a hard limit on line length so a peer
 * that never sends `\n` cannot make us buffer without end. Works on bytes (a UTF-8 character split across chunks
 * stays whole) and tolerates `\r\n`.
 */

/** What `push` found: lines to handle, and whether the limit was crossed (then nothing more is read). */
export interface LineBatch {
  lines: string[];
  tooLong: boolean;
}

/** Splits a byte stream into lines of at most `maxBytes` bytes (without the newline). */
export class LineReader {
  readonly #maxBytes: number;
  #pending: Buffer[] = [];
  #pendingBytes = 0;
  #overflowed = false;

  constructor(maxBytes: number) {
    this.#maxBytes = maxBytes;
  }

  /** Feeds one chunk. After an overflow every later call returns no lines. */
  push(chunk: Buffer): LineBatch {
    if (this.#overflowed) return {lines: [], tooLong: true};
    const lines: string[] = [];
    let start = 0;
    for (let nl = chunk.indexOf(0x0a, start); nl !== -1; nl = chunk.indexOf(0x0a, start)) {
      if (this.#pendingBytes + (nl - start) > this.#maxBytes) return this.#overflow(lines);
      this.#pending.push(chunk.subarray(start, nl));
      lines.push(this.#takeLine());
      start = nl + 1;
    }
    const rest = chunk.subarray(start);
    if (this.#pendingBytes + rest.length > this.#maxBytes) return this.#overflow(lines);
    if (rest.length > 0) {
      // Copy: the caller may reuse the chunk's memory.
      this.#pending.push(Buffer.from(rest));
      this.#pendingBytes += rest.length;
    }
    return {lines, tooLong: false};
  }

  /** The unterminated tail, if any (at end of stream). */
  rest(): string | undefined {
    if (this.#overflowed || this.#pendingBytes === 0) return undefined;
    return this.#takeLine();
  }

  #takeLine(): string {
    const text = Buffer.concat(this.#pending).toString('utf8');
    this.#pending = [];
    this.#pendingBytes = 0;
    return text.endsWith('\r') ? text.slice(0, -1) : text;
  }

  #overflow(lines: string[]): LineBatch {
    this.#overflowed = true;
    this.#pending = [];
    this.#pendingBytes = 0;
    return {lines, tooLong: true};
  }
}
