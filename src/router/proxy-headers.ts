/**
 * Which headers cross the front router. Hop-by-hop headers (RFC 9110 §7.6.1: Connection and every header it names,
 * Keep-Alive, TE, Trailer, Transfer-Encoding, Upgrade, Proxy-*) describe one connection and stop here; `Host` passes
 * through untouched so the vassal sees the name it was reached by; `X-Forwarded-For/-Proto/-Host` tell the vassal
 * who asked, as nginx's `proxy_add_x_forwarded_for` does.
 */
import type {IncomingHttpHeaders, IncomingMessage, OutgoingHttpHeaders} from 'node:http';

const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'proxy-authenticate',
  'proxy-authorization',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
]);

/** Headers for the request to the vassal. `upgrade` keeps `Connection`/`Upgrade` (a WebSocket handshake needs them). */
export function upstreamRequestHeaders(req: IncomingMessage, {upgrade = false} = {}): OutgoingHttpHeaders {
  const headers: OutgoingHttpHeaders = {};
  const dropped = connectionTokens(req.headers);
  for (const [name, value] of Object.entries(req.headers)) {
    // HTTP/2 pseudo-headers (:method, :path, :authority, :scheme) are the request line, not headers.
    if (value === undefined || name.startsWith(':')) continue;
    if (HOP_BY_HOP.has(name) || dropped.has(name)) {
      if (!(upgrade && (name === 'connection' || name === 'upgrade'))) continue;
    }
    headers[name] = value;
  }
  const client = clientAddress(req.socket.remoteAddress);
  const before = req.headers['x-forwarded-for'];
  headers['x-forwarded-for'] = before === undefined || before === '' ? client : `${before}, ${client}`;
  headers['x-forwarded-proto'] = 'encrypted' in req.socket && req.socket.encrypted ? 'https' : 'http';
  if (req.headers.host !== undefined) headers['x-forwarded-host'] = req.headers.host;
  return headers;
}

/** The vassal's response headers as a flat `[name, value, …]` list (duplicates and case kept), hop-by-hop removed. */
export function downstreamResponseHeaders(rawHeaders: readonly string[], headers: IncomingHttpHeaders): string[] {
  const dropped = connectionTokens(headers);
  const out: string[] = [];
  for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
    const name = rawHeaders[i] as string;
    const lower = name.toLowerCase();
    if (HOP_BY_HOP.has(lower) || dropped.has(lower)) continue;
    out.push(name, rawHeaders[i + 1] as string);
  }
  return out;
}

/** Whether a request carries a body (so it cannot be replayed once sent). */
export function hasRequestBody(req: IncomingMessage): boolean {
  const length = req.headers['content-length'];
  return req.headers['transfer-encoding'] !== undefined || (length !== undefined && length !== '0');
}

/** Header names listed in `Connection` (other than close/keep-alive), which are hop-by-hop too. */
function connectionTokens(headers: IncomingHttpHeaders): ReadonlySet<string> {
  const value = headers.connection;
  if (value === undefined) return EMPTY;
  const tokens = new Set<string>();
  for (const token of value.split(',')) {
    const name = token.trim().toLowerCase();
    if (name !== '' && name !== 'close' && name !== 'keep-alive') tokens.add(name);
  }
  return tokens;
}
const EMPTY: ReadonlySet<string> = new Set();

function clientAddress(remote: string | undefined): string {
  if (remote === undefined) return 'unknown';
  return remote.startsWith('::ffff:') ? remote.slice('::ffff:'.length) : remote;
}
