/**
 * The router's access log, in the combined format nginx and Apache write by default, so every log tool reads it:
 *
 *   127.0.0.1 - - [07/Dec/2026:06:21:14 +0000] "GET /path HTTP/1.1" 200 11 "-" "curl/8.0" shop.example.test 0.003
 *
 * (combined, then the Host routed by and the request time in seconds, as nginx's `$host $request_time` would add).
 * Lines are gathered in memory and written at most every 100 ms or 64 KB with one append, so logging costs the
 * request path a string concatenation; every router process appends to the same file (O_APPEND writes of whole
 * lines do not interleave). `reopen()` (SIGUSR2 to the emperor) follows a log rotation.
 */
import {closeSync, openSync, write} from 'node:fs';
import type {Logger} from '../log/logger.js';

const FLUSH_MS = 100;
const FLUSH_BYTES = 64 * 1024;
/** Lines held while the disk does not keep up; past this, lines are dropped and counted. */
const MAX_PENDING_BYTES = 4 * 1024 * 1024;
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** One finished request, as the log needs it. */
export interface AccessRecord {
  remote: string;
  method: string;
  target: string;
  minor: number;
  status: number;
  bodyBytes: number;
  referer: string | undefined;
  userAgent: string | undefined;
  host: string;
  startedAt: number;
}

export class AccessLog {
  readonly #path: string;
  readonly #log: Logger;
  #fd: number;
  #pending = '';
  #writing = false;
  #timer: NodeJS.Timeout | undefined;
  #dropped = 0;
  #stampSecond = -1;
  #stamp = '';

  constructor(path: string, log: Logger) {
    this.#path = path;
    this.#log = log;
    this.#fd = openSync(path, 'a', 0o640);
  }

  /** Adds one line for `r`. */
  add(r: AccessRecord, now: number): void {
    const line =
      `${r.remote} - - [${this.#timeLocal(now)}] "${escape(`${r.method} ${r.target} HTTP/1.${r.minor}`)}" ${r.status} ${r.bodyBytes} ` +
      `"${r.referer === undefined ? '-' : escape(r.referer)}" "${r.userAgent === undefined ? '-' : escape(r.userAgent)}" ` +
      `${escape(r.host || '-')} ${((now - r.startedAt) / 1000).toFixed(3)}\n`;
    if (this.#pending.length > MAX_PENDING_BYTES) {
      this.#dropped += 1;
      return;
    }
    this.#pending += line;
    if (this.#pending.length >= FLUSH_BYTES) this.flush();
    else this.#timer ??= setTimeout(() => this.flush(), FLUSH_MS).unref();
  }

  /** Writes what is gathered (one write at a time). */
  flush(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    if (this.#writing || this.#pending === '') return;
    const text = this.#dropped > 0 ? `${this.#pending}# kaiser: ${this.#dropped} access log lines dropped (disk too slow)\n` : this.#pending;
    this.#pending = '';
    this.#dropped = 0;
    this.#writing = true;
    write(this.#fd, text, null, 'utf8', (error) => {
      this.#writing = false;
      if (error) this.#log.warn('cannot write the access log', {uwsgi: `[router] cannot write the access log ${this.#path}: ${error.message}`});
      if (this.#pending !== '') this.#timer ??= setTimeout(() => this.flush(), FLUSH_MS).unref();
    });
  }

  /** Opens the file again (after logrotate moved it). */
  reopen(): void {
    try {
      const fd = openSync(this.#path, 'a', 0o640);
      const old = this.#fd;
      this.#fd = fd;
      // A write in flight still holds the old fd: close it a moment later.
      setTimeout(() => closeSync(old), 1_000).unref();
    } catch (error) {
      this.#log.warn('cannot reopen the access log', {uwsgi: `[router] cannot reopen the access log ${this.#path}: ${(error as Error).message}`});
    }
  }

  close(): void {
    this.flush();
  }

  #timeLocal(now: number): string {
    const second = Math.floor(now / 1000);
    if (second !== this.#stampSecond) {
      this.#stampSecond = second;
      const d = new Date(second * 1000);
      const offset = -d.getTimezoneOffset();
      const sign = offset >= 0 ? '+' : '-';
      const abs = Math.abs(offset);
      this.#stamp =
        `${pad(d.getDate())}/${MONTHS[d.getMonth()]}/${d.getFullYear()}:${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())} ` +
        `${sign}${pad(Math.floor(abs / 60))}${pad(abs % 60)}`;
    }
    return this.#stamp;
  }
}

function pad(n: number): string {
  return n < 10 ? `0${n}` : String(n);
}

/** nginx's escaping: `"`, `\` and bytes outside printable ASCII become \xHH. */
function escape(text: string): string {
  let out = '';
  let from = 0;
  for (let i = 0; i < text.length; i += 1) {
    const code = text.charCodeAt(i);
    if (code >= 0x20 && code < 0x7f && code !== 0x22 && code !== 0x5c) continue;
    out += `${text.slice(from, i)}\\x${code.toString(16).toUpperCase().padStart(2, '0')}`;
    from = i + 1;
  }
  return from === 0 ? text : out + text.slice(from);
}
