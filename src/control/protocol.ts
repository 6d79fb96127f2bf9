/**
 * The control protocol between `kaiser ls|status|reload|restart|stop|start|logs|top` and a running emperor:
 * newline-delimited JSON over a UNIX stream socket. Owns the request and response shapes, the row of `kaiser ls`,
 * the status summary, the `KAISER_CONTROL_*` error codes, and `parseControlRequest`, which turns one untrusted line
 * into a request or a coded error (it never throws).
 *
 *   client ── {"cmd":"ls"}\n ──────────────────────────────► server
 *   client ◄─ {"ok":true,"vassals":[…]}\n ────────────────── server
 *   client ── {"cmd":"reload","name":"shop.ini"}\n ────────► server         (one vassal, answered at once)
 *   client ◄─ {"ok":false,"code":"KAISER_CONTROL_UNKNOWN_VASSAL","error":"…"}\n
 *   client ── {"cmd":"reload","names":["a.ini","b.ini"],"wait":true}\n     (or "all":true; "wait": SECONDS)
 *   client ◄─ {"ok":true,"cmd":"reload","results":[{"name":"a.ini","ok":true,"state":"ready"},
 *                {"name":"b.ini","ok":false,"code":"KAISER_VASSAL_RELOAD_FAILED","error":"…"}]}\n
 *              (with "wait": once every vassal serves again, failed, or the wait ran out)
 *   client ── {"cmd":"logs","name":N,"lines":20,"follow":true}\n               (no "name": every vassal)
 *   client ◄─ {"ok":true,"lines":[…]}\n {"line":"…"}\n {"line":"…"}\n … (until the client disconnects)
 *
 * A connection may carry several requests in turn, answered in order; a `logs` request with `follow` is its last.
 */
import {err, ok, type Result} from '../result.js';

/** The longest request line the server reads; a longer one closes the connection with an error. */
export const MAX_REQUEST_BYTES = 64 * 1024;
/** The most log lines one `logs` request may ask for. */
export const MAX_TAIL_LINES = 10_000;
/** Vassal names are file names: no longer than this. */
const MAX_NAME_LENGTH = 255;

/** The longest `wait` a request may ask for, in seconds. */
export const MAX_WAIT_SECONDS = 3_600;
/** The most vassal names one request may carry. */
const MAX_NAMES = 100_000;

/** What an operator may do to vassals. */
export const VASSAL_ACTIONS = ['reload', 'restart', 'stop', 'start'] as const;
export type VassalAction = (typeof VASSAL_ACTIONS)[number];

/** How long an action request waits for its outcome: SECONDS, or each vassal's own default (`"wait": true`). */
export type WaitFor = {seconds: number} | 'vassal-default';

/** An action on one vassal answered at once (`"name"`), or on several or all with per-vassal results. */
export type ActionRequest =
  | {cmd: VassalAction; name: string}
  | {cmd: VassalAction; names: readonly string[] | 'all'; wait: WaitFor | undefined};

/** What a client may ask. */
export type ControlRequest =
  | {cmd: 'ls'}
  | {cmd: 'status'}
  | ActionRequest
  /** `name` undefined: every vassal, each line prefixed with the vassal's name. */
  | {cmd: 'logs'; name: string | undefined; lines: number; follow: boolean};

/** The request verbs. */
export type ControlCommandName = ControlRequest['cmd'];

const COMMANDS: readonly ControlCommandName[] = ['ls', 'status', ...VASSAL_ACTIONS, 'logs'];

/** What became of one vassal of an action request. `code` is a `KAISER_CONTROL_*` or `src/errors.ts` code. */
export type ActionResult =
  | {name: string; ok: true; state?: string; skipped?: string}
  | {name: string; ok: false; code: string; error: string; state?: string};

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
  KAISER_CONTROL_WAIT_TIMEOUT: 'the vassal had no outcome within the wait',
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

/** A request as one line on the wire (the inverse of `parseControlRequest`). */
export function encodeRequest(request: ControlRequest): string {
  if (!('names' in request)) return encodeLine(request);
  const {names, wait, ...rest} = request;
  return encodeLine({
    ...rest,
    ...(names === 'all' ? {all: true} : {names}),
    ...(wait === undefined ? {} : {wait: wait === 'vassal-default' ? true : wait.seconds}),
  });
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
    case 'restart':
    case 'stop':
    case 'start':
      return actionRequest(command, fields);
    case 'logs': {
      const name = fields['name'] === undefined ? ok(undefined) : nameOf(fields);
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

function actionRequest(cmd: VassalAction, fields: Record<string, unknown>): Result<ActionRequest, ControlError> {
  const bad = (reason: string) => err(controlError('KAISER_CONTROL_BAD_REQUEST', reason));
  const wait = fields['wait'];
  let waitFor: WaitFor | undefined;
  if (wait === true) waitFor = 'vassal-default';
  else if (typeof wait === 'number' && Number.isFinite(wait) && wait > 0 && wait <= MAX_WAIT_SECONDS) waitFor = {seconds: wait};
  else if (wait !== undefined && wait !== false) return bad(`"wait" must be true or a number of seconds from 0 to ${MAX_WAIT_SECONDS}`);
  if (fields['all'] === true) return ok({cmd, names: 'all', wait: waitFor});
  const names = fields['names'];
  if (names !== undefined) {
    if (!Array.isArray(names) || names.length === 0 || names.length > MAX_NAMES) return bad(`"names" must be a list of 1 to ${MAX_NAMES} vassal names`);
    const checked: string[] = [];
    for (const name of names as unknown[]) {
      if (typeof name !== 'string' || name === '' || name.length > MAX_NAME_LENGTH) return bad('every entry of "names" must be a vassal name (a file name such as "shop.ini")');
      checked.push(name);
    }
    return ok({cmd, names: checked, wait: waitFor});
  }
  const name = nameOf(fields);
  if (!name.ok) return name;
  return waitFor === undefined ? ok({cmd, name: name.value}) : ok({cmd, names: [name.value], wait: waitFor});
}

function nameOf(fields: Record<string, unknown>): Result<string, ControlError> {
  const name = fields['name'];
  if (typeof name !== 'string' || name === '' || name.length > MAX_NAME_LENGTH) {
    return err(controlError('KAISER_CONTROL_BAD_REQUEST', `"${String(fields['cmd'])}" needs a vassal "name" (a file name such as "shop.ini")`));
  }
  return ok(name);
}
