/**
 * The emperor stats server (`--emperor-stats ADDR`), uWSGI style: a plain TCP connect receives one JSON document and
 * EOF; a client that sends an HTTP request within 50 ms gets the same document with HTTP headers.
 *
 * Bounded (issue 14): at most 64 connections at once (node's `maxConnections` closes the others), none while the
 * emperor's descriptor reserve is short (system/descriptors.ts), a silent client dropped after 10 s, an accept
 * error (EMFILE) or a render error reported and survived.
 */
import {createServer, type Server, type Socket} from 'node:net';
import {processDescriptors, type DescriptorReserve} from '../system/descriptors.js';

const HTTP_WAIT_MS = 50;
const MAX_CONNECTIONS = 64;
const IDLE_MS = 10_000;

/** Parses `host:port` / `:port` into listen arguments (loopback when the host is empty). */
export function parseTcpAddress(address: string): {host: string; port: number} | undefined {
  const at = address.lastIndexOf(':');
  if (at < 0) return undefined;
  const port = Number(address.slice(at + 1));
  if (!Number.isInteger(port) || port < 0 || port > 65535) return undefined;
  const host = address.slice(0, at).replace(/^\[|\]$/g, '') || '127.0.0.1';
  return {host, port};
}

export interface StatsServerOptions {
  /** Reports a throw of `render` (a kaiser bug): the connection is closed, the server goes on. */
  onError?: (error: unknown) => void;
  /** Connections served at once; more are closed at once (default 64). */
  maxConnections?: number;
  /** The process's descriptor reserve (default: the shared one). */
  descriptors?: DescriptorReserve;
}

/** Serves `render()` on each connection. Resolves with the bound address once listening. */
export function startStatsServer(address: string, render: () => string, options: StatsServerOptions = {}): Promise<{server: Server; address: string}> {
  const descriptors = options.descriptors ?? processDescriptors();
  const server = createServer((socket: Socket) => {
    socket.on('error', () => undefined);
    // Over the cap, or short of descriptors for the emperor itself: closed unanswered (the client retries).
    if (!descriptors.mayOpen()) {
      socket.destroy();
      return;
    }
    // A client that neither sends nor reads is answered after HTTP_WAIT_MS and dropped after IDLE_MS.
    socket.setTimeout(IDLE_MS, () => socket.destroy());
    let answered = false;
    const answer = (http: boolean) => {
      if (answered) return;
      answered = true;
      let body: string;
      try {
        body = render();
      } catch (error) {
        options.onError?.(error);
        socket.destroy();
        return;
      }
      const head = http
        ? `HTTP/1.0 200 OK\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n`
        : '';
      socket.end(head + body);
    };
    const timer = setTimeout(() => answer(false), HTTP_WAIT_MS);
    socket.once('data', (chunk: Buffer) => {
      clearTimeout(timer);
      answer(/^[A-Z]+ \S+ HTTP\//.test(chunk.toString('latin1', 0, 64)));
    });
    socket.once('end', () => {
      clearTimeout(timer);
      answer(false);
    });
  });
  server.maxConnections = options.maxConnections ?? MAX_CONNECTIONS;
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    const onListening = () => {
      server.off('error', reject);
      // accept() failing (EMFILE, ENFILE) is an 'error' event: libuv already drops the connection; go on serving.
      server.on('error', (error) => options.onError?.(error));
      const bound = server.address();
      resolve({server, address: typeof bound === 'string' || bound === null ? address : `${bound.address}:${bound.port}`});
    };
    const tcp = parseTcpAddress(address);
    if (tcp) server.listen({host: tcp.host, port: tcp.port}, onListening);
    else server.listen(address, onListening);
  });
}
