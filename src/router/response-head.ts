/**
 * A backend's response head, read as strictly as a request: a vassal is a tenant's program, and a response framed
 * two ways could make the router hand the tail of one response to the same client as the start of its next one. So
 * duplicate or malformed Content-Length, Content-Length with Transfer-Encoding, a Transfer-Encoding other than
 * chunked, and CTL bytes are refused (the router answers 502 and drops the connection). Pure: no I/O.
 *
 * It also decides whether the head can go to the client byte for byte (the common case: one write of the buffer
 * the backend sent) or must be rewritten: hop-by-hop headers to remove, a `Connection` header the client needs.
 */

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
const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
const FIELD_VALUE = /^[\t\x20-\x7e\x80-\xff]*$/;
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'te', 'trailer', 'upgrade']);

/**
 * Parses `text` (latin1, status line through the blank line). `noBody`: the request was HEAD, so no body follows
 * whatever the headers say. Returns a reason string when the head is refused.
 */
export function parseResponseHead(text: string, noBody: boolean): ResponseHead | string {
  const lines = text.slice(0, -4).split('\r\n');
  const statusLine = lines[0] ?? '';
  const match = STATUS_LINE.exec(statusLine);
  if (match === null) return `malformed status line ${JSON.stringify(statusLine.slice(0, 80))}`;
  const minor = match[1] === '1' ? 1 : 0;
  const status = Number(match[2]);
  let contentLength: number | undefined;
  let chunked = false;
  let connection = '';
  let hasHopByHop = false;
  // The client talks to the router, whose version is HTTP/1.1 whatever the backend's (nginx does the same).
  let kept = minor === 1 ? `${statusLine}\r\n` : `HTTP/1.1${statusLine.slice(8)}\r\n`;
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i] as string;
    const colon = line.indexOf(':');
    if (colon <= 0) return `malformed header line ${JSON.stringify(line.slice(0, 80))}`;
    const rawName = line.slice(0, colon);
    if (!TOKEN.test(rawName)) return `malformed header name ${JSON.stringify(rawName.slice(0, 80))}`;
    const value = line.slice(colon + 1).replace(/^[ \t]+|[ \t]+$/g, '');
    if (!FIELD_VALUE.test(value)) return `a control character in header ${rawName}`;
    const name = rawName.toLowerCase();
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
      continue;
    }
    kept += `${line}\r\n`;
  }
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
