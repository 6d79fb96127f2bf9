/**
 * A backend's response head, read as strictly as a request: a vassal is a tenant's program, and a response framed
 * two ways could make the router hand the tail of one response to the same client as the start of its next one. So
 * duplicate or malformed Content-Length, Content-Length with Transfer-Encoding, a Transfer-Encoding other than
 * chunked, and CTL bytes are refused (the router answers 502 and drops the connection). Pure: no I/O.
 *
 * It also decides whether the head can go to the client byte for byte (the common case: one write of the buffer
 * the backend sent) or must be rewritten: hop-by-hop headers to remove, a `Connection` header the client needs.
 */
import {headerLineReason, lineEnd, splitHeaderLine} from './header-line.js';

/** How the response body is framed. */
export type ResponseFraming = {kind: 'none'} | {kind: 'length'; length: number} | {kind: 'chunked'} | {kind: 'close'};

export interface ResponseHead {
  readonly status: number;
  /** 0 for HTTP/1.0, 1 for HTTP/1.1. */
  readonly minor: 0 | 1;
  readonly framing: ResponseFraming;
  /** The backend keeps the connection after this response. */
  readonly reusable: boolean;
  /** Whether the head holds hop-by-hop headers (Connection, Keep-Alive…) that must not reach the client. */
  readonly hasHopByHop: boolean;
  /** The status line (as HTTP/1.1) and header lines, hop-by-hop ones removed, each ending in CRLF (no blank line). */
  readonly lines: string;
}

const STATUS_LINE = /^HTTP\/1\.([01]) (\d{3})(?: [\t\x20-\x7e\x80-\xff]*)?$/;
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'te', 'trailer', 'upgrade']);

/**
 * Parses `text` (latin1, status line through the blank line). `noBody`: the request was HEAD, so no body follows
 * whatever the headers say. Returns a reason string when the head is refused.
 */
export function parseResponseHead(text: string, noBody: boolean): ResponseHead | string {
  // Lines are walked in place (no split): `text` ends with the blank line's CRLF CRLF.
  const last = text.length - 4;
  const firstEnd = lineEnd(text, 0, last);
  const statusLine = text.slice(0, firstEnd);
  const match = STATUS_LINE.exec(statusLine);
  if (match === null) return `malformed status line ${JSON.stringify(statusLine.slice(0, 80))}`;
  const minor = match[1] === '1' ? 1 : 0;
  const status = Number(match[2]);
  let contentLength: number | undefined;
  let chunked = false;
  let connection = '';
  let hasHopByHop = false;
  // The client talks to the router, whose version is HTTP/1.1 whatever the backend's (nginx does the same).
  const version = minor === 1 ? statusLine : `HTTP/1.1${statusLine.slice(8)}`;
  /** The kept lines, built only once a line is dropped (else they are the received head as it is). */
  let kept: string | undefined;
  for (let from = firstEnd + 2; from < last + 2; ) {
    const to = lineEnd(text, from, last);
    const lineFrom = from;
    from = to + 2;
    const split = splitHeaderLine(text, lineFrom, to);
    if ('error' in split) return headerLineReason(text, lineFrom, to, split);
    const value = split.value;
    const name = split.name.toLowerCase();
    if (name === 'content-length') {
      if (!/^\d{1,15}$/.test(value)) return `Content-Length ${JSON.stringify(value.slice(0, 40))} is not a number`;
      if (contentLength !== undefined && contentLength !== Number(value)) return 'two different Content-Length headers';
      contentLength = Number(value);
    } else if (name === 'transfer-encoding') {
      if (chunked || value.toLowerCase() !== 'chunked') return `Transfer-Encoding ${JSON.stringify(value.slice(0, 40))} is not supported (only chunked)`;
      chunked = true;
    } else if (HOP_BY_HOP.has(name)) {
      if (name === 'connection') connection = connection === '' ? value.toLowerCase() : `${connection},${value.toLowerCase()}`;
      hasHopByHop = true;
      kept ??= version + text.slice(firstEnd, lineFrom);
      continue;
    }
    if (kept !== undefined) kept += text.slice(lineFrom, from);
  }
  kept ??= version + text.slice(firstEnd, text.length - 2);
  if (chunked && contentLength !== undefined) return 'both Content-Length and Transfer-Encoding';
  const tokens = connection === '' ? [] : connection.split(',').map((t) => t.trim());
  if (tokens.some((t) => t !== 'close' && t !== 'keep-alive' && t !== '' && t !== 'upgrade')) {
    // Headers named by Connection are hop-by-hop too.
    const listed = new Set(tokens);
    kept = kept
      .split('\r\n')
      .filter((l, i) => i === 0 || l === '' || !listed.has(l.slice(0, l.indexOf(':')).toLowerCase()))
      .map((l) => (l === '' ? '' : `${l}\r\n`))
      .join('');
  }
  let framing: ResponseFraming;
  if (noBody || (status >= 100 && status < 200) || status === 204 || status === 304) framing = {kind: 'none'};
  else if (chunked) framing = {kind: 'chunked'};
  else if (contentLength !== undefined) framing = contentLength === 0 ? {kind: 'none'} : {kind: 'length', length: contentLength};
  else framing = {kind: 'close'};
  const keepAlive = minor === 1 ? !tokens.includes('close') : tokens.includes('keep-alive');
  return {status, minor, framing, reusable: keepAlive && framing.kind !== 'close', hasHopByHop, lines: kept};
}
