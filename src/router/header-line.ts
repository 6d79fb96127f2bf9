/**
 * One header line of an HTTP/1.x head, split and checked the same way for requests (`request-head.ts`) and
 * responses (`response-head.ts`): `Name: value` where the name is an RFC 9110 token and the value (spaces and tabs
 * around it removed) holds no CTL other than HTAB. Character loops over a table instead of a regular expression per
 * line and a `replace` to trim: the heads are parsed on every request, and this was a tenth of the router's own
 * JavaScript (bench/README.md).
 */

/** RFC 9110 tchar, by char code (0x00–0x7f). */
const TCHAR = new Uint8Array(128);
for (const c of "!#$%&'*+-.^_`|~") TCHAR[c.charCodeAt(0)] = 1;
for (let c = 0x30; c <= 0x39; c++) TCHAR[c] = 1;
for (let c = 0x41; c <= 0x5a; c++) TCHAR[c] = 1;
for (let c = 0x61; c <= 0x7a; c++) TCHAR[c] = 1;

/** Whether `text[from, to)` is a non-empty token. */
export function isToken(text: string, from: number, to: number): boolean {
  if (from >= to) return false;
  for (let i = from; i < to; i++) {
    const c = text.charCodeAt(i);
    if (c >= 128 || TCHAR[c] === 0) return false;
  }
  return true;
}

/** A header line taken apart: the name as sent and the trimmed value, or why the line is refused. */
export type HeaderLine = {readonly name: string; readonly value: string} | RefusedHeaderLine;
export interface RefusedHeaderLine {
  readonly error: 'malformed-line' | 'malformed-name' | 'control';
  readonly name?: string;
}

/**
 * Splits `text[from, to)` (one line, without its CRLF) at its first colon. The value is trimmed of SP and HTAB and
 * must be VCHAR, SP, HTAB or obs-text (latin1 0x80–0xff); any other byte (a CR or LF left inside the line, NUL, DEL)
 * is a control character.
 */
export function splitHeaderLine(text: string, from: number, to: number): HeaderLine {
  const colon = text.indexOf(':', from);
  if (colon === -1 || colon >= to || colon === from) return {error: 'malformed-line'};
  if (!isToken(text, from, colon)) return {error: 'malformed-name', name: text.slice(from, colon)};
  let start = colon + 1;
  let end = to;
  while (start < end && isBlank(text.charCodeAt(start))) start++;
  while (end > start && isBlank(text.charCodeAt(end - 1))) end--;
  for (let i = start; i < end; i++) {
    const c = text.charCodeAt(i);
    if ((c < 0x20 && c !== 0x09) || c === 0x7f || c > 0xff) return {error: 'control', name: text.slice(from, colon)};
  }
  return {name: text.slice(from, colon), value: text.slice(start, end)};
}

/** What the router says of a refused header line (`text[from, to)`, `line` its splitHeaderLine result). */
export function headerLineReason(text: string, from: number, to: number, line: RefusedHeaderLine): string {
  if (line.error === 'malformed-line') return `malformed header line ${JSON.stringify(text.slice(from, Math.min(to, from + 80)))}`;
  if (line.error === 'malformed-name') return `malformed header name ${JSON.stringify((line.name ?? '').slice(0, 80))}`;
  return `a control character in header ${line.name ?? ''}`;
}

/** Where the line starting at `from` ends (its CR), at most `last` (the CR of the head's blank line). */
export function lineEnd(text: string, from: number, last: number): number {
  const at = text.indexOf('\r\n', from);
  return at === -1 || at > last ? last : at;
}

function isBlank(c: number): boolean {
  return c === 0x20 || c === 0x09;
}
