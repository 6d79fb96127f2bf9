/**
 * Line splitting for the output streams of child processes (vassals, the runtime host): bytes are split on `\n`
 * and each line is decoded (UTF-8) only once whole and only if it is kept, so a character cut between two chunks is
 * never garbled and a dropped line costs neither a copy nor a decode. Control characters are escaped (`\x1b`): a
 * vassal's output must not colour, move or forge lines of the emperor's log or an operator's terminal.
 *
 * With an output budget (output-budget.ts) the work per turn of the event loop is bounded too: at most
 * `LINES_PER_TURN` kept lines are handled per turn; the rest of a chunk waits for the next turn (`setImmediate`),
 * with the stream paused, so a chunk of thousands of short lines cannot hold the loop.
 */
import type {Readable} from 'node:stream';
import {escapeControls, hasControls} from './escape-controls.js';
import type {OutputBudget} from './output-budget.js';

/** A longer line is cut into pieces of this size rather than buffered without bound. */
const MAX_LINE_BYTES = 65_536;
/** Kept lines handled per turn of the event loop (with a budget). */
export const LINES_PER_TURN = 256;

/** What bounds the work on one stream (shared by a child's stdout and stderr). */
export interface LineBudget {
  output: OutputBudget;
  setTimer: (ms: number, fn: () => void) => () => void;
}

/**
 * Calls `onLine` with each line of `stream` (without its newline or a trailing `\r`); a final unterminated line is
 * delivered at end of stream. With a `budget`, lines over it are dropped (and counted there), and reading pauses
 * while the byte budget is spent.
 */
export function splitLines(stream: Readable | null | undefined, onLine: (line: string) => void, budget?: LineBudget): void {
  if (!stream) return;
  /** The start of a line whose end has not arrived yet. */
  let rest: Buffer | undefined;
  /** Chunks not yet wholly handled (the stream is paused until they are), and where to go on in the first. */
  const pending: {bytes: Buffer; at: number}[] = [];
  let waitingForBytes = false;
  /** The stream ended while chunks were still pending. */
  let ended = false;

  const deliver = (bytes: Buffer) => {
    const end = bytes.length > 0 && bytes[bytes.length - 1] === 13 ? bytes.length - 1 : bytes.length;
    const text = bytes.toString('utf8', 0, end);
    onLine(hasControls(text) ? escapeControls(text) : text);
  };

  /** Handles `bytes` from `start`; returns where it stopped (`bytes.length`: all of it). */
  const handle = (bytes: Buffer, start: number): number => {
    let kept = 0;
    let at = start;
    for (let nl = bytes.indexOf(10, at); nl >= 0; nl = bytes.indexOf(10, at)) {
      if (budget !== undefined && !budget.output.takeLine()) {
        // Over the budget: the rest of this chunk's whole lines are dropped too, counted by one native split
        // instead of a bucket check per line (a `yes` vassal sends tens of thousands of lines per chunk; the
        // emperor runs without V8's optimizing compiler, where a JS loop over them costs ~100 ns a line).
        const last = bytes.lastIndexOf(10);
        if (last > nl) budget.output.dropLines(bytes.toString('latin1', nl + 1, last + 1).split('\n').length - 1);
        rest = undefined;
        at = last + 1;
        continue;
      }
      const piece = bytes.subarray(at, nl);
      deliver(rest === undefined ? piece : Buffer.concat([rest, piece]));
      rest = undefined;
      at = nl + 1;
      if (budget !== undefined && ++kept >= LINES_PER_TURN) return at;
    }
    if (at < bytes.length) {
      // Copied: a kept slice would pin the whole chunk.
      const tail = bytes.subarray(at);
      rest = rest === undefined ? Buffer.from(tail) : Buffer.concat([rest, tail]);
      while (rest !== undefined && rest.length >= MAX_LINE_BYTES) {
        const piece = rest.subarray(0, MAX_LINE_BYTES);
        rest = rest.length > MAX_LINE_BYTES ? Buffer.from(rest.subarray(MAX_LINE_BYTES)) : undefined;
        if (budget === undefined || budget.output.takeLine()) deliver(piece);
      }
    }
    return bytes.length;
  };

  const resumeIfDone = () => {
    if (pending.length === 0 && !waitingForBytes) stream.resume();
  };

  const goOn = () => {
    const work = pending[0];
    if (work === undefined) return;
    work.at = handle(work.bytes, work.at);
    if (work.at >= work.bytes.length) pending.shift();
    if (pending.length > 0) setImmediate(goOn);
    else if (ended) finish();
    else resumeIfDone();
  };

  stream.on('data', (chunk: Buffer | string) => {
    const bytes = typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : chunk;
    if (pending.length > 0) {
      pending.push({bytes, at: 0}); // arrived before the pause took: after the others
    } else {
      const at = handle(bytes, 0);
      if (at < bytes.length) {
        pending.push({bytes, at});
        stream.pause();
        setImmediate(goOn);
      }
    }
    if (budget === undefined) return;
    const waitMs = budget.output.takeBytes(bytes.length);
    if (waitMs > 0 && !waitingForBytes) {
      waitingForBytes = true;
      stream.pause();
      budget.setTimer(waitMs, () => {
        waitingForBytes = false;
        resumeIfDone();
      });
    }
  });
  const finish = () => {
    if (rest !== undefined && rest.length > 0 && (budget === undefined || budget.output.takeLine())) deliver(rest);
    rest = undefined;
  };
  stream.on('end', () => {
    if (pending.length === 0) finish();
    else ended = true;
  });
  stream.on('error', () => undefined);
}
