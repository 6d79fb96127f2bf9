/**
 * The command-line end of the control socket: connect, send one request, read its answer (and, for `logs --follow`,
 * the streamed lines that follow it). Every failure is a coded value with a message an operator can act on: a missing
 * socket says how to start an emperor, a silent one fails at the deadline.
 */
import {connect, type Socket} from 'node:net';
import {err, ok, type Result} from '../result.js';
import {CONTROL_ENV} from './control-path.js';
import {LineReader} from './line-reader.js';
import {controlError, encodeRequest, isControlErrorCode, type ControlError, type ControlRequest} from './protocol.js';

/** How long connect + answer may take by default. */
export const DEFAULT_CONTROL_TIMEOUT_MS = 5_000;
/** Answers can be large (`ls` of many vassals); this bounds what a client buffers for one line. */
const MAX_RESPONSE_BYTES = 64 * 1024 * 1024;

/** A successful answer: `{"ok":true,…}` with the command's fields. */
export type ControlAnswer = {ok: true} & Record<string, unknown>;

/** Options of one request. */
export interface ControlRequestOptions {
  /** Deadline for connecting and for the first answer. */
  readonly timeoutMs?: number;
  /** Keep the connection open after the answer (`logs --follow`); read the lines with `ControlReply.onLine`. */
  readonly stream?: boolean;
}

/** An answer, plus for a stream a promise that settles when the emperor ends it, and a way to end it ourselves. */
export interface ControlReply {
  readonly answer: ControlAnswer;
  /** Resolves when the connection closes (at once for a plain request). */
  readonly ended: Promise<void>;
  /** Closes the connection (ends a stream). */
  close(): void;
  /** Receives every streamed line; lines that arrived before it was set are delivered first, in order. */
  onLine(listener: (line: string) => void): void;
}

/** Sends `request` to the emperor at `path` and reads its answer. A `{"ok":false}` answer is an error value. */
export function requestControl(path: string, request: ControlRequest, options: ControlRequestOptions = {}): Promise<Result<ControlReply, ControlError>> {
  const timeoutMs = options.timeoutMs ?? DEFAULT_CONTROL_TIMEOUT_MS;
  return new Promise((resolve) => {
    const socket: Socket = connect(path);
    const reader = new LineReader(MAX_RESPONSE_BYTES);
    let answered = false;
    const stream = new StreamedLines();
    let endStream: () => void = () => undefined;
    const ended = new Promise<void>((resolveEnded) => (endStream = resolveEnded));
    const settle = (result: Result<ControlReply, ControlError>) => {
      if (answered) return;
      answered = true;
      clearTimeout(timer);
      resolve(result);
      if (!result.ok) socket.destroy();
    };
    const timer = setTimeout(
      () => settle(err(controlError('KAISER_CONTROL_TIMEOUT', `no answer from the emperor on ${path} within ${timeoutMs / 1000} s`))),
      timeoutMs,
    );

    socket.on('connect', () => socket.write(encodeRequest(request)));
    socket.on('error', (cause: NodeJS.ErrnoException) => settle(err(connectError(path, cause))));
    socket.on('close', () => {
      endStream();
      settle(err(controlError('KAISER_CONTROL_DISCONNECTED', `the emperor on ${path} closed the connection without answering`)));
    });
    socket.on('data', (chunk: Buffer) => {
      const batch = reader.push(chunk);
      for (const line of batch.lines) {
        if (line.trim() === '') continue;
        if (answered) {
          stream.push(line);
          continue;
        }
        const answer = parseAnswer(line, path);
        if (!answer.ok) return settle(answer);
        if (options.stream !== true) socket.end();
        settle(ok({answer: answer.value, ended, close: () => socket.destroy(), onLine: (listener) => stream.listen(listener)}));
      }
      if (batch.tooLong) settle(err(controlError('KAISER_CONTROL_BAD_RESPONSE', `the answer from ${path} is larger than ${MAX_RESPONSE_BYTES} bytes`)));
    });
  });
}

/** `{"line":…}` messages after the answer, held until someone listens: the answer's own lines print first. */
class StreamedLines {
  readonly #held: string[] = [];
  #listener: ((line: string) => void) | undefined;

  push(raw: string): void {
    let parsed: unknown;
    try {
      parsed = JSON.parse(raw);
    } catch {
      return; // A line we cannot read is skipped; the stream goes on.
    }
    if (typeof parsed !== 'object' || parsed === null || typeof (parsed as {line?: unknown}).line !== 'string') return;
    const line = (parsed as {line: string}).line;
    if (this.#listener) this.#listener(line);
    else this.#held.push(line);
  }

  listen(listener: (line: string) => void): void {
    this.#listener = listener;
    for (const line of this.#held.splice(0)) listener(line);
  }
}

function parseAnswer(line: string, path: string): Result<ControlAnswer, ControlError> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(line);
  } catch {
    return err(controlError('KAISER_CONTROL_BAD_RESPONSE', `${path} answered something that is not JSON: is it a kaiser control socket?`));
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    return err(controlError('KAISER_CONTROL_BAD_RESPONSE', `${path} answered something that is not a control response`));
  }
  const fields = parsed as Record<string, unknown>;
  if (fields['ok'] === true) return ok(fields as ControlAnswer);
  const code = fields['code'];
  const message = typeof fields['error'] === 'string' ? fields['error'] : 'the emperor refused without saying why';
  return err(controlError(isControlErrorCode(code) ? code : 'KAISER_CONTROL_BAD_RESPONSE', message));
}

/** The operator's view of a failed connect. */
function connectError(path: string, cause: NodeJS.ErrnoException): ControlError {
  switch (cause.code) {
    case 'ENOENT':
    case 'ECONNREFUSED':
    case 'ENOTDIR':
      return controlError('KAISER_CONTROL_NOT_LISTENING', `no emperor is listening on ${path}: start one with --control ${path} or set ${CONTROL_ENV}`);
    case 'EACCES':
    case 'EPERM':
      return controlError('KAISER_CONTROL_DENIED', `permission denied on ${path}: the control socket is open only to the user running the emperor`);
    case undefined: // not a system call error: its message says what happened
    default:
      return controlError('KAISER_CONTROL_DISCONNECTED', `cannot talk to the emperor on ${path}: ${cause.code ?? cause.message}`);
  }
}
