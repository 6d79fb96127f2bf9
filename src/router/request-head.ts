/**
 * The front router's strict HTTP/1.x request head parser. A request either has one unambiguous frame (no body,
 * a Content-Length, or chunked) or it is refused with 400, so the router never forwards bytes a backend could read
 * as a different request (issue 14's smuggling through the router):
 *
 * - lines end in CRLF; a bare CR or LF, a CTL byte in a value (other than HTAB), obs-fold (a line starting with SP or
 *   HTAB), a space before the colon, or a name that is not a token → 400;
 * - Content-Length is one header of 1*DIGIT; two of them (even equal), or both Content-Length and Transfer-Encoding
 *   → 400; Transfer-Encoding must be exactly `chunked` (→ 501 otherwise, 400 on HTTP/1.0);
 * - a name with `_` that would read as Content-Length or Transfer-Encoding once `_` becomes `-` (as WSGI's CGI
 *   mapping does) → 400; other names with `_` are dropped, as nginx's default `underscores_in_headers off` does,
 *   so `X_Forwarded_For` cannot pose as `X-Forwarded-For` to a WSGI app;
 * - HTTP/1.1 without exactly one Host → 400; versions other than 1.0 and 1.1 → 505.
 *
 * Bytes after the head belong to the body as framed, and then to the next request, which is parsed the same way: a
 * GET whose unframed "body" is not a valid request is refused there. Pure: no I/O.
 */

import {headerLineReason, lineEnd, splitHeaderLine} from './header-line.js';

/** Largest request head accepted (nginx: 4 × 8 KB large_client_header_buffers). */
export const MAX_HEAD_BYTES = 32 * 1024;

/** How the request body is framed. */
export type BodyFraming = {kind: 'none'} | {kind: 'length'; length: number} | {kind: 'chunked'};

/** A parsed request head. */
export interface RequestHead {
  readonly method: string;
  /** Origin-form target (`/path?query`); absolute-form targets are reduced to it. */
  readonly target: string;
  /** 0 for HTTP/1.0, 1 for HTTP/1.1. */
  readonly minor: 0 | 1;
  /** The Host to route by (from the target when it is absolute-form). */
  readonly host: string;
  readonly body: BodyFraming;
  /** Whether the client keeps the connection after this exchange. */
  readonly keepAlive: boolean;
  /** `Upgrade` value when the client asks to switch protocols (WebSocket), else undefined. */
  readonly upgrade: string | undefined;
  readonly expectContinue: boolean;
  /** Header lines to forward (`Name: value\r\n` each, as received), hop-by-hop and `_` names removed. */
  readonly forwardLines: string;
  /** The client's X-Forwarded-For, to append to. */
  readonly forwardedFor: string | undefined;
  readonly referer: string | undefined;
  readonly userAgent: string | undefined;
}

/** A refusal: the status to answer with and why (for the log). */
export interface HeadError {
  readonly status: 400 | 431 | 501 | 505;
  readonly reason: string;
}

// The target: visible ASCII and obs-text, no space or CTL (RFC 9112 §3.2).
const REQUEST_LINE = /^([!#$%&'*+.^_`|~0-9A-Za-z-]+) ([!-~\x80-\xff]+) HTTP\/(\d)\.(\d)$/;
/** Headers that describe one connection and never cross the router (RFC 9110 §7.6.1), and those it sets itself. */
const NOT_FORWARDED = new Set([
  'connection', 'keep-alive', 'proxy-connection', 'te', 'trailer', 'transfer-encoding', 'upgrade',
  'x-forwarded-for', 'x-forwarded-proto', 'x-forwarded-host', 'x-real-ip',
]);

const BLANK_LINE = Buffer.from('\r\n\r\n', 'latin1');

/** Index just past the blank line ending a head that starts at `start`, -1 if not there yet. */
export function findHeadEnd(buf: Buffer, start: number, end: number): number {
  const at = buf.indexOf(BLANK_LINE, start);
  if (at === -1 || at + 4 > end) return -1;
  return at + 4;
}

/** Parses the head in `text` (latin1, from the request line through the blank line). */
export function parseRequestHead(text: string): RequestHead | HeadError {
  // Lines are walked in place (no split): `text` ends with the blank line's CRLF CRLF.
  const last = text.length - 4;
  const firstEnd = lineEnd(text, 0, last);
  const requestLine = text.slice(0, firstEnd);
  // A bare CR or LF stays inside a line after the split, where the line checks below refuse it as a CTL.
  const match = REQUEST_LINE.exec(requestLine);
  if (match === null) return bad(`malformed request line ${JSON.stringify(requestLine.slice(0, 80))}`);
  const [, method = '', rawTarget = ''] = match;
  if (match[3] !== '1' || (match[4] !== '0' && match[4] !== '1')) return {status: 505, reason: `HTTP/${match[3]}.${match[4]} is not supported`};
  const minor = match[4] === '1' ? 1 : 0;
  if (method === 'CONNECT') return bad('CONNECT is not supported (this is not a forward proxy)');
  let target = rawTarget;
  let targetHost: string | undefined;
  if (!target.startsWith('/')) {
    const absolute = /^https?:\/\/([^/?#]+)([^#]*)$/i.exec(target);
    if (absolute !== null) {
      targetHost = absolute[1];
      target = absolute[2] === '' ? '/' : (absolute[2] as string);
      if (!target.startsWith('/')) target = `/${target}`;
    } else if (!(target === '*' && method === 'OPTIONS')) {
      return bad(`malformed request target ${JSON.stringify(target.slice(0, 80))}`);
    }
  }
  let host: string | undefined;
  let hostCount = 0;
  let contentLength: number | undefined;
  let chunked = false;
  let transferEncoding = false;
  let connection = '';
  let upgrade: string | undefined;
  let expectContinue = false;
  let forwardedFor: string | undefined;
  let referer: string | undefined;
  let userAgent: string | undefined;
  let forwardLines = '';
  for (let from = firstEnd + 2; from < last + 2; ) {
    const to = lineEnd(text, from, last);
    const lineFrom = from;
    from = to + 2;
    const first = text.charCodeAt(lineFrom);
    if (first === 0x20 || first === 0x09) return bad('obs-fold (a header line starting with a space or tab)');
    const split = splitHeaderLine(text, lineFrom, to);
    if ('error' in split) return bad(headerLineReason(text, lineFrom, to, split));
    const rawName = split.name;
    const value = split.value;
    const name = rawName.toLowerCase();
    if (name.includes('_')) {
      const dashed = name.replace(/_/g, '-');
      if (dashed === 'content-length' || dashed === 'transfer-encoding') return bad(`header ${rawName} would read as ${dashed}`);
      continue;
    }
    switch (name) {
      case 'host':
        hostCount += 1;
        host = value;
        break;
      case 'content-length':
        if (contentLength !== undefined) return bad('more than one Content-Length');
        if (!/^\d{1,15}$/.test(value)) return bad(`Content-Length ${JSON.stringify(value.slice(0, 40))} is not a number`);
        contentLength = Number(value);
        break;
      case 'transfer-encoding':
        if (transferEncoding) return bad('more than one Transfer-Encoding');
        transferEncoding = true;
        if (value.toLowerCase() !== 'chunked') return {status: 501, reason: `Transfer-Encoding ${JSON.stringify(value.slice(0, 40))} is not supported (only chunked)`};
        chunked = true;
        break;
      case 'connection':
        connection = connection === '' ? value.toLowerCase() : `${connection},${value.toLowerCase()}`;
        break;
      case 'upgrade':
        upgrade = value;
        break;
      case 'expect':
        if (value.toLowerCase() === '100-continue') expectContinue = true;
        forwardLines += text.slice(lineFrom, from); // the line with its CRLF
        break;
      case 'x-forwarded-for':
        forwardedFor = forwardedFor === undefined ? value : `${forwardedFor}, ${value}`;
        break;
      case 'referer':
        referer = value;
        forwardLines += text.slice(lineFrom, from); // the line with its CRLF
        break;
      case 'user-agent':
        userAgent = value;
        forwardLines += text.slice(lineFrom, from); // the line with its CRLF
        break;
      default:
        if (NOT_FORWARDED.has(name)) break;
        // Names listed in Connection are hop-by-hop too; they are rare, so they are removed afterwards.
        forwardLines += text.slice(lineFrom, from); // the line with its CRLF
    }
  }
  if (contentLength !== undefined && transferEncoding) return bad('both Content-Length and Transfer-Encoding');
  if (transferEncoding && minor === 0) return bad('Transfer-Encoding in an HTTP/1.0 request');
  if (hostCount > 1) return bad('more than one Host');
  if (targetHost !== undefined) host = targetHost;
  if (host === undefined || host === '') {
    if (minor === 1) return bad('no Host header (HTTP/1.1 requires one; kaiser routes by it)');
    host = '';
  }
  const tokens = connection === '' ? [] : connection.split(',').map((t) => t.trim()).filter((t) => t !== '');
  const close = tokens.includes('close');
  const keepAlive = minor === 1 ? !close : tokens.includes('keep-alive') && !close;
  const wantsUpgrade = upgrade !== undefined && tokens.includes('upgrade') ? upgrade : undefined;
  const listed = tokens.filter((t) => t !== 'close' && t !== 'keep-alive' && t !== 'upgrade');
  if (listed.length > 0) {
    forwardLines = forwardLines
      .split('\r\n')
      .filter((l) => l === '' || !listed.includes(l.slice(0, l.indexOf(':')).toLowerCase()))
      .map((l) => (l === '' ? '' : `${l}\r\n`))
      .join('');
  }
  const body: BodyFraming = chunked ? {kind: 'chunked'} : contentLength !== undefined && contentLength > 0 ? {kind: 'length', length: contentLength} : {kind: 'none'};
  return {method, target, minor, host, body, keepAlive, upgrade: wantsUpgrade, expectContinue, forwardLines, forwardedFor, referer, userAgent};
}

function bad(reason: string): HeadError {
  return {status: 400, reason};
}

/** Whether `value` is a refusal rather than a head. */
export function isHeadError(value: RequestHead | HeadError): value is HeadError {
  return 'status' in value;
}

/** Methods a retry cannot do harm with (RFC 9110 §9.2.2), as nginx's proxy_next_upstream counts them. */
export const IDEMPOTENT_METHODS: ReadonlySet<string> = new Set(['GET', 'HEAD', 'OPTIONS', 'TRACE', 'PUT', 'DELETE']);
