/**
 * Where the dashboard listens: `--dashboard ADDR` is a UNIX socket path (anything with a `/`, or `unix:PATH`) or
 * `HOST:PORT`. A UNIX socket is bound under umask 077 and chmodded 0600, so its file permissions are the
 * authentication; a stale socket file (nobody answers) is removed first, a live one is refused. Port 0 binds a free
 * port and the real address is returned.
 */
import {chmodSync, lstatSync, unlinkSync} from 'node:fs';
import type {Server} from 'node:http';
import {connect} from 'node:net';
import {err, ok, type Result} from '../result.js';

/** A parsed `--dashboard` address. */
export type DashboardAddress = {kind: 'unix'; path: string} | {kind: 'tcp'; host: string; port: number};

/** Parses `--dashboard ADDR`. */
export function parseDashboardAddress(text: string): Result<DashboardAddress, string> {
  if (text.startsWith('unix:')) return ok({kind: 'unix', path: text.slice('unix:'.length)});
  if (text.includes('/')) return ok({kind: 'unix', path: text});
  const match = /^(\[[0-9a-fA-F:.]+\]|[^:]+):(\d{1,5})$/.exec(text);
  const port = Number(match?.[2]);
  if (!match || port > 65535) return err(`--dashboard ${text}: expected a UNIX socket path or HOST:PORT such as 127.0.0.1:9191`);
  return ok({kind: 'tcp', host: match[1]!.replace(/^\[|\]$/g, ''), port});
}

/** Starts `server` listening on `address`; resolves with the printable address it listens on. */
export async function listenOn(server: Server, address: DashboardAddress): Promise<Result<string, string>> {
  if (address.kind === 'tcp') {
    const listening = await listen(server, () => server.listen(address.port, address.host));
    if (!listening.ok) return err(`cannot listen on ${address.host}:${address.port}: ${listening.error}`);
    const bound = server.address();
    const port = typeof bound === 'object' && bound !== null ? bound.port : address.port;
    return ok(`${address.host.includes(':') ? `[${address.host}]` : address.host}:${port}`);
  }
  const path = address.path;
  if (await isLiveSocket(path)) return err(`cannot listen on ${path}: another process answers there`);
  try {
    if (lstatSync(path).isSocket()) unlinkSync(path);
  } catch {
    // Nothing there.
  }
  let previous: number | undefined;
  try {
    previous = process.umask(0o077);
  } catch {
    // Worker threads may not change the umask; the chmod below still closes the socket to others.
  }
  let listening: Result<void, string>;
  try {
    listening = await listen(server, () => server.listen(path));
  } finally {
    if (previous !== undefined) process.umask(previous);
  }
  if (!listening.ok) return err(`cannot listen on ${path}: ${listening.error}`);
  try {
    chmodSync(path, 0o600);
  } catch (cause) {
    server.close();
    return err(`cannot chmod ${path}: ${(cause as NodeJS.ErrnoException).code ?? String(cause)}`);
  }
  return ok(path);
}

function listen(server: Server, start: () => void): Promise<Result<void, string>> {
  return new Promise((resolve) => {
    const onError = (cause: NodeJS.ErrnoException) => resolve(err(cause.code ?? cause.message));
    server.once('error', onError);
    server.once('listening', () => {
      server.off('error', onError);
      resolve(ok(undefined));
    });
    start();
  });
}

function isLiveSocket(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(path);
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}
