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
import {unknownState} from '../util/unreachable.js';

type Phase = 'size' | 'ext' | 'size-lf' | 'data' | 'data-cr' | 'data-lf' | 'trailer' | 'trailer-line' | 'trailer-lf' | 'end-lf' | 'done';

/** Longest chunk-size line (digits and extensions) and trailer section accepted. */
const MAX_LINE_BYTES = 4096;
const MAX_TRAILER_BYTES = 8192;

/**
 * The phases inside a line, a chunk extension or a trailer field: CR ends the line and leads to `next`, a CTL is
 * refused, and the size line (or the whole trailer section) may hold at most `maxBytes`.
 */
const IN_LINE: Readonly<Record<'ext' | 'trailer-line', {maxBytes: number; next: Phase; tooLong: string; control: string}>> = {
  ext: {maxBytes: MAX_LINE_BYTES, next: 'size-lf', tooLong: 'chunk extension too long', control: 'a control character in a chunk extension'},
  'trailer-line': {maxBytes: MAX_TRAILER_BYTES, next: 'trailer-lf', tooLong: 'trailers too long', control: 'a control character in a trailer'},
};

/** The phases that take exactly one byte: that byte, the phase it leads to, and why any other byte is refused. */
const ONE_BYTE: Readonly<Record<'data-cr' | 'data-lf' | 'trailer-lf' | 'end-lf', {byte: number; next: Phase; refusal: string}>> = {
  'data-cr': {byte: 0x0d, next: 'data-lf', refusal: 'chunk data longer than its size'},
  'data-lf': {byte: 0x0a, next: 'size', refusal: 'chunk data not ended by CRLF'},
  'trailer-lf': {byte: 0x0a, next: 'trailer', refusal: 'trailer line not ended by CRLF'},
  'end-lf': {byte: 0x0a, next: 'done', refusal: 'chunked body not ended by CRLF'},
};

export class ChunkedDecoder {
  #phase: Phase = 'size';
  #size = 0;
  #digits = 0;
  #remaining = 0;
  /** Bytes of the current chunk-size line's extensions, or of the whole trailer section (reset when a size line ends). */
  #lineBytes = 0;
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
          // The size ends at an extension (;) or the CR of its line, and has at least one digit.
          if (this.#digits === 0 || (byte !== 0x3b && byte !== 0x0d)) return this.#fail('chunk size is not a hex number');
          this.#phase = byte === 0x3b ? 'ext' : 'size-lf';
          break;
        }
        case 'ext':
        case 'trailer-line': {
          const line = IN_LINE[this.#phase];
          if (++this.#lineBytes > line.maxBytes) return this.#fail(line.tooLong);
          if (byte === 0x0d) this.#phase = line.next;
          else if (isCtl(byte)) return this.#fail(line.control);
          break;
        }
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
        case 'trailer':
          if (byte === 0x0d) this.#phase = 'end-lf';
          else if (isCtl(byte) || byte === 0x20 || byte === 0x3a) return this.#fail('malformed trailer line');
          else this.#phase = 'trailer-line';
          this.#lineBytes += 1;
          break;
        case 'data-cr':
        case 'data-lf':
        case 'trailer-lf':
        case 'end-lf': {
          const step = ONE_BYTE[this.#phase];
          if (byte !== step.byte) return this.#fail(step.refusal);
          this.#phase = step.next;
          break;
        }
        default:
          throw unknownState(this.#phase, 'chunked decoder phase');
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
