/** Line splitting for the output streams of child processes (vassals, the runtime host). */
import type {Readable} from 'node:stream';

/**
 * Calls `onLine` with each line of `stream` (without its newline or a trailing `\r`); a final unterminated line is
 * delivered at end of stream. A single line longer than 64 KiB is cut rather than buffered without bound.
 */
export function splitLines(stream: Readable | null | undefined, onLine: (line: string) => void): void {
  if (!stream) return;
  let rest = '';
  stream.setEncoding('utf8');
  stream.on('data', (chunk: string) => {
    const parts = (rest + chunk).split('\n');
    rest = parts.pop() ?? '';
    if (rest.length > 65536) {
      parts.push(rest);
      rest = '';
    }
    for (const part of parts) onLine(part.endsWith('\r') ? part.slice(0, -1) : part);
  });
  stream.on('end', () => {
    if (rest) onLine(rest);
    rest = '';
  });
  stream.on('error', () => undefined);
}
