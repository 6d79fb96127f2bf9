/**
 * Where a front-door listener binds (`127.0.0.1:8080`, `:80`, `[::1]:443`, `/run/kaiser-http.sock`) and the one way
 * every listener (plain HTTP, HTTPS, UDP subscriptions aside) starts listening and reports the address it got.
 */
import type {Server} from 'node:net';
import {upstreamOfAddress} from './route-table.js';

/** A parsed listen address. */
export type ListenAddress = {socketPath: string} | {host: string | undefined; port: number};

/** Listens on `address`; resolves with the bound address (`127.0.0.1:41234`, `[::1]:443`) or the socket path. */
export function listenOn(server: Server, address: string): Promise<string> {
  const parsed = parseListenAddress(address);
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    const onListening = () => {
      server.off('error', reject);
      const bound = server.address();
      if (bound === null || typeof bound === 'string') return resolve(bound ?? address);
      resolve(bound.family === 'IPv6' ? `[${bound.address}]:${bound.port}` : `${bound.address}:${bound.port}`);
    };
    if ('socketPath' in parsed) server.listen(parsed.socketPath, onListening);
    else server.listen(parsed.port, parsed.host, onListening);
  });
}

/** `:80` and `*:80` listen on every interface; a path (or a name without a port) is a UNIX socket; port 0 picks one. */
export function parseListenAddress(address: string): ListenAddress {
  const text = address.trim();
  const tcp = /^(?:\[([0-9a-fA-F:.]+)\]|([^:/[\]]*)):(\d+)$/.exec(text);
  if (tcp === null) {
    const unix = upstreamOfAddress(text, process.cwd());
    if (unix.ok && 'socketPath' in unix.value) return unix.value;
    throw new Error(`cannot listen on ${JSON.stringify(address)}: expected HOST:PORT, :PORT or a socket path`);
  }
  const host = tcp[1] ?? tcp[2] ?? '';
  const port = Number(tcp[3]);
  if (port > 65535) throw new Error(`cannot listen on ${JSON.stringify(address)}: bad port`);
  return {host: host === '' || host === '*' ? undefined : host, port};
}
