/**
 * The winston logger factory: one logger per program, built by cli.ts and passed down; components take child
 * loggers with their fields (`log.child({vassal: 'shop.ini'})`).
 *
 * Messages are short constants and variables go in fields. The human format renders the uWSGI lines operators
 * grep for (`[emperor] vassal shop.ini has been spawned`) from the `uwsgi` field when a message carries one, and
 * vassal output as `[shop.ini] the line`. Under systemd (JOURNAL_STREAM set) the timestamp is left to journald.
 *
 * Vassal output is most of what the emperor logs (a busy vassal's request log is thousands of lines a second), so
 * the human format has a fast path for it (`logVassalLine`): the line is formatted by hand with a timestamp made
 * once a second, and every line of the logger, fast or not, goes out through one buffer written once per turn of
 * the event loop (or per 64 KiB) instead of one write(2) per line: bench/emperor-output.sh measured ~35 µs of
 * emperor CPU per vassal line through winston, ~12 µs this way. Order is kept (one buffer), and what is buffered
 * is written synchronously when the process exits.
 */
import {writeSync} from 'node:fs';
import {Writable} from 'node:stream';
import winston from 'winston';

export type LogFormat = 'human' | 'json';

export interface LoggerOptions {
  format: LogFormat;
  level?: string;
  /** Omit our timestamp (journald adds its own). Default: when JOURNAL_STREAM is set. */
  noTimestamp?: boolean;
}

export type Logger = winston.Logger;

const humanLine = winston.format.printf((entry) => {
  const {level, message, timestamp, uwsgi, vassal, line, ...rest} = entry as Record<string, unknown>;
  const time = typeof timestamp === 'string' ? `${timestamp} - ` : '';
  if (typeof line === 'string') return `${time}[${String(vassal)}] ${line}`;
  if (typeof uwsgi === 'string') return `${time}${uwsgi}`;
  delete rest['component'];
  const fields = Object.entries(rest)
    .filter(([k]) => typeof k === 'string' && k !== 'splat')
    .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
    .join(' ');
  const who = vassal === undefined ? '' : `[${String(vassal)}] `;
  return `${time}${level === 'info' ? '' : `${level}: `}${who}${String(message)}${fields ? ` ${fields}` : ''}`;
});

/** Where a logger made by createLogger keeps its fast vassal-line sink (child loggers inherit it: Object.create). */
const LINE_SINK = Symbol('kaiser.vassalLineSink');
/** A buffer past this many characters is written at once, not at the end of the turn. */
const FLUSH_CHARS = 65_536;

/** Text for stderr, written once per turn of the event loop; what is left is written synchronously at exit. */
class BatchedStderr {
  #parts: string[] = [];
  #size = 0;
  #scheduled = false;

  constructor() {
    process.on('exit', () => this.#flush(true));
  }

  write(text: string): void {
    this.#parts.push(text);
    this.#size += text.length;
    if (this.#size >= FLUSH_CHARS) this.#flush(false);
    else if (!this.#scheduled) {
      this.#scheduled = true;
      setImmediate(() => this.#flush(false));
    }
  }

  #flush(sync: boolean): void {
    this.#scheduled = false;
    if (this.#parts.length === 0) return;
    const text = this.#parts.length === 1 ? this.#parts[0]! : this.#parts.join('');
    this.#parts = [];
    this.#size = 0;
    if (!sync) {
      process.stderr.write(text);
      return;
    }
    try {
      writeSync(2, text);
    } catch {
      // stderr is gone at exit: nothing left to tell
    }
  }
}

/** A Writable over `out` for winston's Stream transport (its _write is synchronous, so order is kept). */
function writableOver(out: BatchedStderr): Writable {
  return new Writable({
    decodeStrings: false,
    write(chunk: string | Buffer, _encoding, done) {
      out.write(typeof chunk === 'string' ? chunk : chunk.toString('utf8'));
      done();
    },
  });
}

const DAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const two = (n: number) => (n < 10 ? `0${n}` : String(n));

/** `ddd MMM D HH:mm:ss YYYY` in local time: the stamp of every human-format entry, fast path or winston's. */
export function humanStamp(date: Date): string {
  return `${DAYS[date.getDay()]} ${MONTHS[date.getMonth()]} ${date.getDate()} ${two(date.getHours())}:${two(date.getMinutes())}:${two(date.getSeconds())} ${date.getFullYear()}`;
}

/** Writes `[vassal] line` entries: the fast path of the human format (see the header). */
type VassalLineSink = (vassal: string, line: string) => void;

function makeLineSink(logger: winston.Logger, out: BatchedStderr, noTimestamp: boolean): VassalLineSink {
  let second = -1;
  let prefix = '';
  return (vassal, line) => {
    if (!logger.isInfoEnabled()) return;
    if (noTimestamp) {
      out.write(`[${vassal}] ${line}\n`);
      return;
    }
    const now = Date.now();
    const s = Math.floor(now / 1000);
    if (s !== second) {
      second = s;
      prefix = `${humanStamp(new Date(now))} - `;
    }
    out.write(`${prefix}[${vassal}] ${line}\n`);
  };
}

/** Builds the program's logger, writing to stderr. */
export function createLogger(options: LoggerOptions): Logger {
  const noTimestamp = options.noTimestamp ?? process.env['JOURNAL_STREAM'] !== undefined;
  const stamp = noTimestamp ? [] : [winston.format.timestamp({format: () => humanStamp(new Date())})];
  const format =
    options.format === 'json'
      ? winston.format.combine(winston.format.timestamp(), winston.format.json())
      : winston.format.combine(...stamp, humanLine);
  const out = new BatchedStderr();
  const logger = winston.createLogger({
    level: options.level ?? (process.env['KAISER_LOG_LEVEL'] || 'info'),
    format,
    transports: [new winston.transports.Stream({stream: writableOver(out), eol: '\n'})],
  });
  if (options.format !== 'json') Object.defineProperty(logger, LINE_SINK, {value: makeLineSink(logger, out, noTimestamp)});
  return logger;
}

/**
 * Logs one line of vassal output (`[vassal] line` in the human format): through the fast sink when `log` (or the
 * logger it is a child of) has one, else as a winston entry with the `vassal` and `line` fields.
 */
export function logVassalLine(log: Logger, vassal: string, line: string): void {
  const sink = (log as unknown as Record<symbol, VassalLineSink | undefined>)[LINE_SINK];
  if (sink !== undefined) sink(vassal, line);
  else log.info(line, {vassal, line});
}
