/**
 * The winston logger factory: one logger per program, built by cli.ts and passed down; components take child
 * loggers with their fields (`log.child({vassal: 'shop.ini'})`).
 *
 * Messages are short constants and variables go in fields. The human format renders the uWSGI lines operators
 * grep for (`[emperor] vassal shop.ini has been spawned`) from the `uwsgi` field when a message carries one, and
 * vassal output as `[shop.ini] the line`. Under systemd (JOURNAL_STREAM set) the timestamp is left to journald.
 */
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

/** Builds the program's logger, writing to stderr. */
export function createLogger(options: LoggerOptions): Logger {
  const noTimestamp = options.noTimestamp ?? process.env['JOURNAL_STREAM'] !== undefined;
  const stamp = noTimestamp ? [] : [winston.format.timestamp({format: 'ddd MMM D HH:mm:ss YYYY'})];
  const format =
    options.format === 'json'
      ? winston.format.combine(winston.format.timestamp(), winston.format.json())
      : winston.format.combine(...stamp, humanLine);
  return winston.createLogger({
    level: options.level ?? (process.env['KAISER_LOG_LEVEL'] || 'info'),
    format,
    transports: [new winston.transports.Console({stderrLevels: ['error', 'warn', 'info', 'debug', 'verbose', 'silly']})],
  });
}
