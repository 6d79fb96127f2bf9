/**
 * Reads one document from a uWSGI-style stats server (`--stats ADDR`, `--emperor-stats ADDR`, kaiser's or real
 * uWSGI's): connect, read to EOF, parse JSON. As in uWSGI, an address with a `:` is TCP (`HOST:PORT`, `:PORT` for
 * loopback), anything else a UNIX socket path; a path starting with `/` or `.` is always a path. An HTTP response
 * (`--stats-http`) is accepted too: its headers are skipped.
 */
import {connect, type Socket} from 'node:net';
import {err, ok, type Result} from '../result.js';

/** Stats documents are small; this bounds a misbehaving server. */
const MAX_DOCUMENT_BYTES = 16 * 1024 * 1024;

/** Where a stats server listens. */
export type StatsAddress = {kind: 'tcp'; host: string; port: number} | {kind: 'unix'; path: string};

/** Parses `HOST:PORT`, `:PORT`, `[::1]:PORT` or a UNIX socket path. */
export function parseStatsAddress(text: string): Result<StatsAddress, string> {
  if (text === '') return err('empty stats address');
  if (text.startsWith('/') || text.startsWith('.') || !text.includes(':')) return ok({kind: 'unix', path: text});
  const at = text.lastIndexOf(':');
  const portText = text.slice(at + 1);
  const port = Number(portText);
  if (portText === '' || !Number.isInteger(port) || port < 1 || port > 65535) return err(`bad port in stats address "${text}" (expected HOST:PORT)`);
  const host = text.slice(0, at).replace(/^\[|\]$/g, '') || '127.0.0.1';
  return ok({kind: 'tcp', host, port});
}

/** Connects to `address`, reads until the server closes, and parses the JSON. Rejects nothing: errors are values. */
export function readStatsDocument(address: StatsAddress, timeoutMs: number): Promise<Result<unknown, string>> {
  const label = address.kind === 'tcp' ? `${address.host}:${address.port}` : address.path;
  return new Promise((resolve) => {
    const socket: Socket = address.kind === 'tcp' ? connect({host: address.host, port: address.port}) : connect(address.path);
    const chunks: Buffer[] = [];
    let bytes = 0;
    let settled = false;
    const settle = (result: Result<unknown, string>) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      resolve(result);
    };
    const timer = setTimeout(() => settle(err(`no stats from ${label} within ${timeoutMs / 1000} s`)), timeoutMs);
    socket.on('error', (cause: NodeJS.ErrnoException) => settle(err(`cannot read stats from ${label}: ${cause.code ?? cause.message}`)));
    socket.on('data', (chunk: Buffer) => {
      bytes += chunk.length;
      if (bytes > MAX_DOCUMENT_BYTES) return settle(err(`stats from ${label} exceed ${MAX_DOCUMENT_BYTES} bytes`));
      chunks.push(chunk);
    });
    socket.on('end', () => settle(parseDocument(Buffer.concat(chunks).toString('utf8'), label)));
  });
}

function parseDocument(text: string, label: string): Result<unknown, string> {
  let body = text;
  if (body.startsWith('HTTP/')) {
    const split = body.indexOf('\r\n\r\n');
    body = split === -1 ? '' : body.slice(split + 4);
  }
  try {
    return ok(JSON.parse(body));
  } catch {
    return err(`${label} did not send a JSON stats document (is it a --stats address?)`);
  }
}
