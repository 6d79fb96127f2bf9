/**
 * The worker's stderr: uWSGI-style request log lines (buffered, flushed once per event-loop turn or when
 * large) and immediate info/error lines. The master forwards the worker's stderr to the vassal log.
 *
 * A request line:
 *   [pid: 4242|app: 0|req: 3/3] 127.0.0.1 () {5 vars in 120 bytes} [Thu Nov 27 09:48:00 2025] GET / =>
 *   generated 11 bytes in 0 msecs (HTTP/1.1 200) 5 headers in 140 bytes (1 switches on core 0)
 * "vars" are the request's header fields (a Node worker has no CGI vars) and the response head is counted
 * as sent on the wire, status line and Node's automatic headers included. `req: X/Y` shows this worker's count
 * for both X and Y (the global count is only known to the master).
 */
import {writeFullySync} from './write-fully.js';

/** The facts of one request line. */
export interface RequestLogEntry {
  readonly pid: number;
  readonly requestNumber: number;
  readonly remoteAddress: string;
  readonly varCount: number;
  readonly varBytes: number;
  readonly start: Date;
  readonly method: string;
  readonly uri: string;
  readonly bodyBytes: number;
  readonly msecs: number;
  readonly httpVersion: string;
  readonly status: number;
  readonly headerCount: number;
  readonly headerBytes: number;
  readonly core: number;
}

const DAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const FLUSH_AT = 64 * 1024;

/** ctime(3)-style local time, as uWSGI prints it: `Thu Nov 27 09:48:00 2025`. */
export function ctime(d: Date): string {
  const p2 = (n: number): string => String(n).padStart(2, '0');
  return `${DAYS[d.getDay()]} ${MONTHS[d.getMonth()]} ${String(d.getDate()).padStart(2, ' ')} ${p2(d.getHours())}:${p2(d.getMinutes())}:${p2(d.getSeconds())} ${d.getFullYear()}`;
}

/** Renders one uWSGI request log line (without the newline). */
export function formatRequestLine(e: RequestLogEntry): string {
  return (
    `[pid: ${e.pid}|app: 0|req: ${e.requestNumber}/${e.requestNumber}] ${e.remoteAddress} () ` +
    `{${e.varCount} vars in ${e.varBytes} bytes} [${ctime(e.start)}] ${e.method} ${e.uri} => ` +
    `generated ${e.bodyBytes} bytes in ${e.msecs} msecs (HTTP/${e.httpVersion} ${e.status}) ` +
    `${e.headerCount} headers in ${e.headerBytes} bytes (1 switches on core ${e.core})`
  );
}

/** The worker's log: buffered request lines, unbuffered everything else (kept in order). */
export class WorkerLog {
  private pending: string[] = [];
  private pendingBytes = 0;
  private scheduled = false;

  /** @param requestsEnabled false under `disable-logging` */
  constructor(private readonly requestsEnabled: boolean) {}

  /** Queues a request line; written at the end of this event-loop turn. */
  request(entry: RequestLogEntry): void {
    if (!this.requestsEnabled) return;
    const line = `${formatRequestLine(entry)}\n`;
    this.pending.push(line);
    this.pendingBytes += line.length;
    if (this.pendingBytes >= FLUSH_AT) this.flush();
    else if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(() => this.flush());
    }
  }

  /** An informational line, written now. */
  info(message: string): void {
    this.write(`${message}\n`);
  }

  /** An error line with the error's stack, written now. */
  error(message: string, err?: unknown): void {
    this.write(`${message}${err === undefined ? '' : `\n${describeError(err)}`}\n`);
  }

  /** Writes the buffered request lines now (also before exiting). */
  flush(): void {
    this.scheduled = false;
    if (this.pending.length === 0) return;
    const text = this.pending.join('');
    this.pending = [];
    this.pendingBytes = 0;
    writeStderr(text);
  }

  private write(text: string): void {
    this.flush();
    writeStderr(text);
  }
}

/** The stack (or message) of anything thrown. */
export function describeError(err: unknown): string {
  if (err instanceof Error) return err.stack ?? `${err.name}: ${err.message}`;
  try {
    return `non-Error thrown: ${typeof err === 'string' ? err : JSON.stringify(err)}`;
  } catch {
    return `non-Error thrown: ${String(err)}`;
  }
}

function writeStderr(text: string): void {
  try {
    writeFullySync(2, Buffer.from(text));
  } catch {
    // stderr gone (EPIPE) or full and non-blocking: logging must never take the worker down.
  }
}
