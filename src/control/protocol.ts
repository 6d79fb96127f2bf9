/**
 * The control protocol between `kaiser ls|status|reload|stop|start|logs|top` and a running emperor: newline-delimited
 * JSON over a UNIX stream socket. Owns the request and response shapes, the row of `kaiser ls`, the status summary,
 * the `KAISER_CONTROL_*` error codes, and `parseControlRequest`, which turns one untrusted line into a request or a
 * coded error (it never throws).
 *
 *   client ── {"cmd":"ls"}\n ──────────────────────────────► server
 *   client ◄─ {"ok":true,"vassals":[…]}\n ────────────────── server
 *   client ── {"cmd":"reload","name":"shop.ini"}\n ────────► server
 *   client ◄─ {"ok":false,"code":"KAISER_CONTROL_UNKNOWN_VASSAL","error":"…"}\n
 *   client ── {"cmd":"logs","name":N,"lines":20,"follow":true}\n
 *   client ◄─ {"ok":true,"lines":[…]}\n {"line":"…"}\n {"line":"…"}\n … (until the client disconnects)
 *
 * A connection may carry several requests in turn; a `logs` request with `follow` is its last.
 */
import {err, ok, type Result} from '../result.js';

/** The longest request line the server reads; a longer one closes the connection with an error. */
export const MAX_REQUEST_BYTES = 64 * 1024;
/** The most log lines one `logs` request may ask for. */
export const MAX_TAIL_LINES = 10_000;
/** Vassal names are file names: no longer than this. */
const MAX_NAME_LENGTH = 255;

/** What a client may ask. */
export type ControlRequest =
  | {cmd: 'ls'}
  | {cmd: 'status'}
  | {cmd: 'reload' | 'stop' | 'start'; name: string}
  | {cmd: 'logs'; name: string; lines: number; follow: boolean};

/** The request verbs. */
export type ControlCommandName = ControlRequest['cmd'];

const COMMANDS: readonly ControlCommandName[] = ['ls', 'status', 'reload', 'stop', 'start', 'logs'];

/** One vassal as `kaiser ls` shows it. */
export interface VassalRow {
  name: string;
  kind: string;
  state: string;
  /** -1 when no process runs. */
  pid: number;
  /** CPU use of the vassal's process tree, in percent of one core. */
  cpu: number;
  /** Resident memory of the vassal's process tree. */
  rss: number;
  /** Seconds since the running instance was spawned; 0 when none runs. */
  uptime: number;
  restarts: number;
  /** Addresses the vassal serves on, as configured. */
  sockets: string[];
  lastError: string | null;
  /** Config warnings of the running definition (unknown keys, options not applied yet); absent when none. */
  warnings?: string[];
  /** Where the definition comes from: the vassal directory, or the fleet store (etcd://…). */
  source: string;
}

/** `kaiser status`: the emperor in one object. */
export interface EmperorStatus {
  pid: number;
  /** Seconds since the emperor started. */
  uptime: number;
  /** Resident memory of the emperor process itself. */
  rss: number;
  version: string;
  /** The watched directory. */
  dir: string;
  vassals: number;
  ready: number;
  /** Vassals backing off, with an invalid file, or whose last reload failed. */
  failing: number;
  /** Vassals stopped by an operator (`kaiser stop`). */
  held: number;
}

/**
 * Control error codes. Like `src/errors.ts`: add freely, never rename or reuse one. They travel as data in
 * `{"ok":false,"code":…}` and name client-side failures too.
 */
export const CONTROL_ERRORS = {
  KAISER_CONTROL_BAD_JSON: 'the request is not a JSON object on one line',
  KAISER_CONTROL_BAD_REQUEST: 'the request is malformed',
  KAISER_CONTROL_UNKNOWN_COMMAND: 'unknown command',
  KAISER_CONTROL_UNKNOWN_VASSAL: 'no such vassal',
  KAISER_CONTROL_LINE_TOO_LONG: 'the request line is longer than the limit',
  KAISER_CONTROL_BUSY: 'too many control connections',
  KAISER_CONTROL_REFUSED: 'the emperor refused the action',
  KAISER_CONTROL_INTERNAL: 'internal error in the emperor',
  KAISER_CONTROL_NOT_LISTENING: 'no emperor is listening on the control socket',
  KAISER_CONTROL_DENIED: 'permission denied on the control socket',
  KAISER_CONTROL_TIMEOUT: 'no answer in time',
  KAISER_CONTROL_BAD_RESPONSE: 'the emperor sent something that is not a control response',
  KAISER_CONTROL_DISCONNECTED: 'the emperor closed the connection',
} as const;

/** A control error code, e.g. `KAISER_CONTROL_UNKNOWN_VASSAL`. */
export type ControlErrorCode = keyof typeof CONTROL_ERRORS;

/** A failure as it travels: code plus a message for humans. */
export interface ControlError {
  code: ControlErrorCode;
  error: string;
}

/** The wire form of a failure. */
export type ControlFailure = {ok: false} & ControlError;

/** Whether `code` is one of ours (codes arrive as data). */
export function isControlErrorCode(code: unknown): code is ControlErrorCode {
  return typeof code === 'string' && Object.hasOwn(CONTROL_ERRORS, code);
}

/** Builds a coded error. */
export function controlError(code: ControlErrorCode, error: string): ControlError {
  return {code, error};
}

/** One message as one line: JSON and `\n`. */
export function encodeLine(message: object): string {
  return `${JSON.stringify(message)}\n`;
}

/** Validates one request line. Untrusted input: never throws. */
export function parseControlRequest(line: string): Result<ControlRequest, ControlError> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(line);
  } catch {
    return err(controlError('KAISER_CONTROL_BAD_JSON', 'the request is not valid JSON: send one JSON object per line, e.g. {"cmd":"ls"}'));
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    return err(controlError('KAISER_CONTROL_BAD_JSON', 'the request must be a JSON object, e.g. {"cmd":"ls"}'));
  }
  const fields = parsed as Record<string, unknown>;
  const cmd = fields['cmd'];
  if (typeof cmd !== 'string') return err(controlError('KAISER_CONTROL_BAD_REQUEST', 'the request needs a string "cmd"'));
  if (!(COMMANDS as readonly string[]).includes(cmd)) {
    return err(controlError('KAISER_CONTROL_UNKNOWN_COMMAND', `unknown command ${JSON.stringify(cmd.slice(0, 64))} (known: ${COMMANDS.join(', ')})`));
  }
  const command = cmd as ControlCommandName;
  switch (command) {
    case 'ls':
    case 'status':
      return ok({cmd: command});
    case 'reload':
    case 'stop':
    case 'start': {
      const name = nameOf(fields);
      return name.ok ? ok({cmd: command, name: name.value}) : name;
    }
    case 'logs': {
      const name = nameOf(fields);
      if (!name.ok) return name;
      const lines = fields['lines'] ?? 10;
      if (typeof lines !== 'number' || !Number.isInteger(lines) || lines < 0 || lines > MAX_TAIL_LINES) {
        return err(controlError('KAISER_CONTROL_BAD_REQUEST', `"lines" must be an integer from 0 to ${MAX_TAIL_LINES}`));
      }
      const follow = fields['follow'] ?? false;
      if (typeof follow !== 'boolean') return err(controlError('KAISER_CONTROL_BAD_REQUEST', '"follow" must be true or false'));
      return ok({cmd: 'logs', name: name.value, lines, follow});
    }
    default: {
      const never: never = command;
      throw new Error(`Internal error: unknown control command ${String(never)}`);
    }
  }
}

function nameOf(fields: Record<string, unknown>): Result<string, ControlError> {
  const name = fields['name'];
  if (typeof name !== 'string' || name === '' || name.length > MAX_NAME_LENGTH) {
    return err(controlError('KAISER_CONTROL_BAD_REQUEST', `"${String(fields['cmd'])}" needs a vassal "name" (a file name such as "shop.ini")`));
  }
  return ok(name);
}
