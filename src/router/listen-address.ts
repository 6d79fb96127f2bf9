/**
 * A front-door address as something to bind (`127.0.0.1:8080`, `:80`, `[::1]:443`, `/run/kaiser-http.sock`): the
 * subscription server's UDP socket binds with it (the router processes' TCP sockets are bound by
 * `listen-sockets.ts`, which reads addresses the same way).
 */
import {upstreamOfAddress} from './hosts-and-upstreams.js';

/** A parsed listen address. */
export type ListenAddress = {socketPath: string} | {host: string | undefined; port: number};

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
