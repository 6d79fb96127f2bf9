/**
 * The emperor stats server (`--emperor-stats ADDR`), uWSGI style: a plain TCP connect receives one JSON document and
 * EOF; a client that sends an HTTP request within 50 ms gets the same document with HTTP headers.
 */
import {createServer, type Server, type Socket} from 'node:net';

const HTTP_WAIT_MS = 50;

/** Parses `host:port` / `:port` into listen arguments (loopback when the host is empty). */
export function parseTcpAddress(address: string): {host: string; port: number} | undefined {
  const at = address.lastIndexOf(':');
  if (at < 0) return undefined;
  const port = Number(address.slice(at + 1));
  if (!Number.isInteger(port) || port < 0 || port > 65535) return undefined;
  const host = address.slice(0, at).replace(/^\[|\]$/g, '') || '127.0.0.1';
  return {host, port};
}

/** Serves `render()` on each connection. Resolves with the bound address once listening. */
export function startStatsServer(address: string, render: () => string): Promise<{server: Server; address: string}> {
  const server = createServer((socket: Socket) => {
    socket.on('error', () => undefined);
    let answered = false;
    const answer = (http: boolean) => {
      if (answered) return;
      answered = true;
      const body = render();
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
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    const onListening = () => {
      server.off('error', reject);
      const bound = server.address();
      resolve({server, address: typeof bound === 'string' || bound === null ? address : `${bound.address}:${bound.port}`});
    };
    const tcp = parseTcpAddress(address);
    if (tcp) server.listen({host: tcp.host, port: tcp.port}, onListening);
    else server.listen(address, onListening);
  });
}
