/**
 * Follows a chunked body (RFC 9112 §7.1) byte by byte so the router knows where it ends, and refuses anything but
 * the strict grammar: chunk-size is 1*HEXDIG (no `0x`, sign, or space; at most 12 digits), lines end in CRLF,
 * extensions and trailer lines hold no CTL. The bytes themselves are forwarded unchanged by the caller: only what
 * the decoder accepted is ever passed on, so a backend and the router cannot disagree on where a message ends.
 *
 *   size ──HEXDIG──► size   size ──;──► ext ──CR──► size-lf ──LF──► data (n > 0) | trailer (n = 0)
 *   data ──n bytes──► data-cr ──CR──► data-lf ──LF──► size
 *   trailer ──CR──► end-lf ──LF──► done          trailer ──field char──► trailer-line ──CR──► trailer-lf ──LF──► trailer
 */

type Phase = 'size' | 'ext' | 'size-lf' | 'data' | 'data-cr' | 'data-lf' | 'trailer' | 'trailer-line' | 'trailer-lf' | 'end-lf' | 'done';

/** Longest chunk-size line (digits and extensions) and trailer section accepted. */
const MAX_LINE_BYTES = 4096;
const MAX_TRAILER_BYTES = 8192;

export class ChunkedDecoder {
  #phase: Phase = 'size';
  #size = 0;
  #digits = 0;
  #remaining = 0;
  #lineBytes = 0;
  #trailerBytes = 0;
  /** Why the body was refused, once it was. */
  error: string | undefined;
  /** Data bytes seen so far (not counting the framing). */
  dataBytes = 0;
  /** When set, hears every run of data bytes (to pass a body on without its framing). */
  onData: ((buf: Buffer, from: number, to: number) => void) | undefined;

  get done(): boolean {
    return this.#phase === 'done';
  }

  /**
   * Reads `buf[start, end)`; returns how many bytes belong to the body (all of them, or fewer when it ended inside
   * the range), or -1 when the framing is invalid (`error` says why).
   */
  feed(buf: Buffer, start: number, end: number): number {
    let i = start;
    while (i < end) {
      if (this.#phase === 'data') {
        const take = Math.min(this.#remaining, end - i);
        this.onData?.(buf, i, i + take);
        i += take;
        this.#remaining -= take;
        this.dataBytes += take;
        if (this.#remaining === 0) this.#phase = 'data-cr';
        continue;
      }
      if (this.#phase === 'done') return i - start;
      const byte = buf[i] as number;
      i += 1;
      switch (this.#phase) {
        case 'size': {
          const digit = hexValue(byte);
          if (digit >= 0) {
            if (++this.#digits > 12) return this.#fail('chunk size too large');
            this.#size = this.#size * 16 + digit;
            break;
          }
          if (this.#digits === 0) return this.#fail('chunk size is not a hex number');
          if (byte === 0x3b) this.#phase = 'ext';
          else if (byte === 0x0d) this.#phase = 'size-lf';
          else return this.#fail('chunk size is not a hex number');
          break;
        }
        case 'ext':
          if (++this.#lineBytes > MAX_LINE_BYTES) return this.#fail('chunk extension too long');
          if (byte === 0x0d) this.#phase = 'size-lf';
          else if (isCtl(byte)) return this.#fail('a control character in a chunk extension');
          break;
        case 'size-lf':
          if (byte !== 0x0a) return this.#fail('chunk size line not ended by CRLF');
          if (this.#size === 0) {
            this.#phase = 'trailer';
          } else {
            this.#remaining = this.#size;
            this.#phase = 'data';
          }
          this.#size = 0;
          this.#digits = 0;
          this.#lineBytes = 0;
          break;
        case 'data-cr':
          if (byte !== 0x0d) return this.#fail('chunk data longer than its size');
          this.#phase = 'data-lf';
          break;
        case 'data-lf':
          if (byte !== 0x0a) return this.#fail('chunk data not ended by CRLF');
          this.#phase = 'size';
          break;
        case 'trailer':
          if (byte === 0x0d) this.#phase = 'end-lf';
          else if (isCtl(byte) || byte === 0x20 || byte === 0x3a) return this.#fail('malformed trailer line');
          else this.#phase = 'trailer-line';
          this.#trailerBytes += 1;
          break;
        case 'trailer-line':
          if (++this.#trailerBytes > MAX_TRAILER_BYTES) return this.#fail('trailers too long');
          if (byte === 0x0d) this.#phase = 'trailer-lf';
          else if (isCtl(byte)) return this.#fail('a control character in a trailer');
          break;
        case 'trailer-lf':
          if (byte !== 0x0a) return this.#fail('trailer line not ended by CRLF');
          this.#phase = 'trailer';
          break;
        case 'end-lf':
          if (byte !== 0x0a) return this.#fail('chunked body not ended by CRLF');
          this.#phase = 'done';
          return i - start;
        default: {
          const never: never = this.#phase;
          throw new Error(`Internal error: unknown chunked decoder phase ${String(never)}`);
        }
      }
    }
    return i - start;
  }

  #fail(reason: string): number {
    this.error = reason;
    return -1;
  }
}

function hexValue(byte: number): number {
  if (byte >= 0x30 && byte <= 0x39) return byte - 0x30;
  if (byte >= 0x61 && byte <= 0x66) return byte - 0x57;
  if (byte >= 0x41 && byte <= 0x46) return byte - 0x37;
  return -1;
}

/** CTL other than HTAB. */
function isCtl(byte: number): boolean {
  return (byte < 0x20 && byte !== 0x09) || byte === 0x7f;
}
