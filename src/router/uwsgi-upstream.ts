/**
 * A request to a pool member that speaks the uwsgi protocol (a subscribed uWSGI node, modifier1 0 by default): the
 * request head becomes one vars packet (CGI names, as nginx's `uwsgi_params` and uWSGI's own HTTP router send them),
 * followed by the body; the node answers with a plain HTTP response and closes (UWSGI-REFERENCE §13), which the
 * exchange reads exactly as an HTTP backend's (`response-head.ts`), on a connection it never reuses.
 *
 * The packet carries the body's length before the body, so a chunked request body is collected first (decoded, up
 * to MAX_COLLECTED_BODY, else 413), as nginx buffers a body for `uwsgi_pass`. Pure: no I/O.
 */
import {encodePacket, MAX_VARS_BYTES, varsSize} from '../protocol/uwsgi-packet.js';
import {ChunkedDecoder} from './chunked-decoder.js';
import type {RequestHead} from './request-head.js';
import {normalizeHost} from './hosts-and-upstreams.js';

/** The largest chunked request body collected for a uwsgi member. */
export const MAX_COLLECTED_BODY = 8 * 1024 * 1024;

/** What the packet says about the client and the listener. */
export interface UwsgiClient {
  readonly remote: string;
  readonly remotePort: number | undefined;
  readonly secure: boolean;
}

/** Headers that never become HTTP_* vars (CGI has their own names, or they describe the router's connection). */
const NOT_VARS = new Set(['content-type', 'content-length', 'connection', 'upgrade', 'keep-alive', 'transfer-encoding', 'te']);

/**
 * The vars of `head`, in the order nginx's uwsgi_params sends them, then the headers as HTTP_* (repeated headers
 * joined with `, `, cookies with `; `). `bodyLength` is the body's length as sent after the packet.
 */
export function uwsgiVars(head: RequestHead, client: UwsgiClient, bodyLength: number): [string, string | Buffer][] {
  const target = head.target;
  const question = target.indexOf('?');
  const rawPath = question === -1 ? target : target.slice(0, question);
  const host = head.host;
  const portMatch = /:(\d+)$/.exec(host.startsWith('[') ? host.slice(host.indexOf(']') + 1) : host);
  const headers = new Map<string, string>();
  for (const line of head.forwardLines.split('\r\n')) {
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    const name = line.slice(0, colon).toLowerCase();
    const value = line.slice(colon + 1).trim();
    if (name === 'content-type') headers.set(name, value);
    if (NOT_VARS.has(name)) continue;
    const previous = headers.get(name);
    headers.set(name, previous === undefined ? value : `${previous}${name === 'cookie' ? '; ' : ', '}${value}`);
  }
  const vars: [string, string | Buffer][] = [
    ['QUERY_STRING', question === -1 ? '' : target.slice(question + 1)],
    ['REQUEST_METHOD', head.method],
    ['CONTENT_TYPE', headers.get('content-type') ?? ''],
    ['CONTENT_LENGTH', bodyLength === 0 ? '' : String(bodyLength)],
    ['REQUEST_URI', target],
    ['PATH_INFO', decodePath(rawPath)],
    ['DOCUMENT_ROOT', ''],
    ['SERVER_PROTOCOL', `HTTP/1.${head.minor}`],
    ['REQUEST_SCHEME', client.secure ? 'https' : 'http'],
    ...(client.secure ? [['HTTPS', 'on'] as [string, string]] : []),
    ['REMOTE_ADDR', client.remote],
    ['REMOTE_PORT', client.remotePort === undefined ? '' : String(client.remotePort)],
    ['SERVER_PORT', portMatch?.[1] ?? (client.secure ? '443' : '80')],
    ['SERVER_NAME', normalizeHost(host)],
  ];
  if (host !== '') vars.push(['HTTP_HOST', host]);
  for (const [name, value] of headers) {
    if (name === 'content-type' || name === 'host') continue;
    vars.push([`HTTP_${name.toUpperCase().replace(/-/g, '_')}`, value]);
  }
  if (head.upgrade !== undefined) vars.push(['HTTP_CONNECTION', 'Upgrade'], ['HTTP_UPGRADE', head.upgrade]);
  return vars;
}

/** The packet for `head` (modifier1/modifier2 as the member announced), or undefined when the vars exceed 64 KiB. */
export function uwsgiPacket(head: RequestHead, client: UwsgiClient, modifiers: {modifier1: number; modifier2: number}, bodyLength: number): Buffer | undefined {
  const vars = uwsgiVars(head, client, bodyLength);
  if (varsSize(vars) > MAX_VARS_BYTES) return undefined;
  return encodePacket(modifiers.modifier1, modifiers.modifier2, vars);
}

/** The data of a complete chunked body, given as the raw chunked bytes the client sent (already checked). */
export function dechunk(raw: readonly Buffer[]): Buffer {
  const decoder = new ChunkedDecoder();
  const parts: Buffer[] = [];
  decoder.onData = (buf, from, to) => parts.push(buf.subarray(from, to));
  for (const chunk of raw) decoder.feed(chunk, 0, chunk.length);
  return Buffer.concat(parts);
}

/** PATH_INFO is the path with %XX decoded to bytes (not UTF-8 text: the app decides), as uWSGI's router does. */
function decodePath(raw: string): Buffer {
  if (!raw.includes('%')) return Buffer.from(raw, 'latin1');
  const bytes: number[] = [];
  for (let i = 0; i < raw.length; i += 1) {
    const hex = raw[i] === '%' ? raw.slice(i + 1, i + 3) : '';
    if (/^[0-9a-fA-F]{2}$/.test(hex)) {
      bytes.push(parseInt(hex, 16));
      i += 2;
    } else {
      bytes.push(raw.charCodeAt(i) & 0xff);
    }
  }
  return Buffer.from(bytes);
}
