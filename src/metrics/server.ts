/**
 * `--metrics HOST:PORT`: an HTTP server with one page, `GET /metrics`, in the Prometheus text format. Everything else
 * is 404 (405 for other methods on /metrics). It binds only TCP, loopback when the host is empty (`:9117`).
 */
import {createServer, type IncomingMessage, type Server, type ServerResponse} from 'node:http';
import type {Socket} from 'node:net';
import {processDescriptors} from '../system/descriptors.js';
import type {EmperorMetrics} from './metrics.js';

/** Scrapers served at once. */
const MAX_CONNECTIONS = 64;

/** A listening metrics server. */
export interface MetricsServer {
  /** `host:port` as bound (the real port when asked for 0). */
  readonly address: string;
  /** Stops listening and drops keep-alive connections. */
  close(): Promise<void>;
}

/** Parses `host:port`, `:port` or `[v6]:port`; undefined when it is not one. */
export function parseMetricsAddress(address: string): {host: string; port: number} | undefined {
  const at = address.lastIndexOf(':');
  if (at < 0) return undefined;
  const portText = address.slice(at + 1);
  const port = Number(portText);
  if (!/^\d+$/.test(portText) || port > 65535) return undefined;
  const host = address.slice(0, at).replace(/^\[(.*)\]$/, '$1') || '127.0.0.1';
  return {host, port};
}

async function answer(metrics: EmperorMetrics, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const path = (req.url ?? '/').split('?')[0];
  if (path !== '/metrics') {
    res.writeHead(404, {'Content-Type': 'text/plain; charset=utf-8'}).end('not found; try /metrics\n');
    return;
  }
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.writeHead(405, {Allow: 'GET, HEAD', 'Content-Type': 'text/plain; charset=utf-8'}).end('method not allowed\n');
    return;
  }
  try {
    const body = await metrics.render();
    res.writeHead(200, {'Content-Type': metrics.contentType, 'Content-Length': Buffer.byteLength(body)});
    res.end(req.method === 'HEAD' ? undefined : body);
  } catch (error) {
    // A failing collector is a kaiser bug; the scrape fails visibly instead of serving partial figures.
    res.writeHead(500, {'Content-Type': 'text/plain; charset=utf-8'}).end(`Internal error: ${String(error)}\n`);
  }
}

/** Serves `metrics` on `address`. Rejects on a malformed address or a bind error (EADDRINUSE, EACCES…). */
export function startMetricsServer(address: string, metrics: EmperorMetrics): Promise<MetricsServer> {
  const tcp = parseMetricsAddress(address);
  if (!tcp) return Promise.reject(new Error(`not a HOST:PORT address: ${address}`));
  const descriptors = processDescriptors();
  const server: Server = createServer((req, res) => void answer(metrics, req, res));
  // Bounded like every server of the emperor (issue 14): a cap, the descriptor reserve, accept errors survived.
  server.maxConnections = MAX_CONNECTIONS;
  server.on('connection', (socket: Socket) => {
    if (!descriptors.mayOpen()) socket.destroy();
  });
  server.on('clientError', (_error, socket) => socket.destroy());
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen({host: tcp.host, port: tcp.port}, () => {
      server.off('error', reject);
      server.on('error', () => undefined); // accept() failing (EMFILE): libuv drops that connection, the server goes on
      const bound = server.address();
      const boundAddress = typeof bound === 'object' && bound !== null ? `${bound.family === 'IPv6' ? `[${bound.address}]` : bound.address}:${bound.port}` : address;
      resolve({
        address: boundAddress,
        close: () =>
          new Promise<void>((resolveClose) => {
            server.close(() => resolveClose());
            server.closeAllConnections();
          }),
      });
    });
  });
}
