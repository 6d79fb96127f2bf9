/**
 * The rules under the front door's pools: how a `Host` or a `domain` value is normalised and checked (as nginx's
 * `server_name`: lower-cased, port and trailing dot stripped, `*.example.test` wildcards), and where a vassal's
 * backend listens (`upstreamOf`). Pure: no I/O, no clock. `pools.ts` builds the pools with these, `pool-table.ts`
 * looks Hosts up with them.
 */
import {isAbsolute, resolve} from 'node:path';
import type {VassalSpec} from '../config/vassal-spec.js';
import {err, ok, type Result} from '../result.js';

/** Where a vassal listens for HTTP. */
export type Upstream = {host: string; port: number} | {socketPath: string};

/** A Host header value as a table key: lower case, without port, brackets kept off IPv6, no trailing dot. */
export function normalizeHost(hostHeader: string): string {
  let host = hostHeader.trim().toLowerCase();
  if (host.startsWith('[')) {
    const close = host.indexOf(']');
    host = close === -1 ? host.slice(1) : host.slice(1, close);
  } else {
    const colon = host.lastIndexOf(':');
    if (colon !== -1) host = host.slice(0, colon);
  }
  return host.endsWith('.') ? host.slice(0, -1) : host;
}

/** A `domain` value, lower-cased: a host name, or `*.` followed by one. */
export function checkDomain(text: string): Result<string, string> {
  const domain = normalizeHost(text);
  const name = domain.startsWith('*.') ? domain.slice(2) : domain;
  if (name === '' || !/^[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?(\.[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?)*$/.test(name)) {
    return err(`expected a host name like app1.example.test or *.example.test, got ${JSON.stringify(text)}`);
  }
  return ok(domain);
}

/** A stable key for an upstream: `127.0.0.1:8001`, `[::1]:8001`, `unix:/run/app.sock`. */
export function upstreamKey(upstream: Upstream): string {
  if ('socketPath' in upstream) return `unix:${upstream.socketPath}`;
  return upstream.host.includes(':') ? `[${upstream.host}]:${upstream.port}` : `${upstream.host}:${upstream.port}`;
}

/**
 * A uWSGI address (`127.0.0.1:8001`, `:8001`, `[::1]:8001`, `/run/app.sock`, `@abstract`) as somewhere to connect
 * to. A wildcard bind address (`:8001`, `0.0.0.0`, `::`) is reached on loopback; a relative socket path resolves
 * against `baseDir` (the vassal's working directory). Port 0 cannot be reached: the port is only known once bound.
 */
export function upstreamOfAddress(address: string, baseDir: string): Result<Upstream, string> {
  const text = address.trim();
  if (text.startsWith('@')) return ok({socketPath: `\0${text.slice(1)}`});
  if (text.startsWith('unix:')) return socketPathOf(text.slice('unix:'.length), baseDir);
  if (text.startsWith('/') || text.startsWith('.') || !text.includes(':')) return socketPathOf(text, baseDir);
  const bare = text.replace(/^tcp:\/\//, '').replace(/^https?:\/\//, '').replace(/\/.*$/, '');
  const match = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]]*)):(\d+)$/.exec(bare);
  if (match === null) return err(`not an address: ${JSON.stringify(address)}`);
  const port = Number(match[3]);
  if (port < 1 || port > 65535) return err(`port ${port} of ${JSON.stringify(address)} cannot be routed to (the router needs a fixed port)`);
  const host = match[1] ?? match[2] ?? '';
  return ok({host: loopbackFor(host), port});
}

function socketPathOf(path: string, baseDir: string): Result<Upstream, string> {
  if (path === '') return err('empty socket path');
  return ok({socketPath: isAbsolute(path) ? path : resolve(baseDir, path)});
}

function loopbackFor(host: string): string {
  if (host === '' || host === '0.0.0.0' || host === '*') return '127.0.0.1';
  if (host === '::' || host === '[::]') return '::1';
  return host;
}

/**
 * The HTTP upstream of a vassal. App server: its first `http-socket`, else its first `http` (a vassal with only a
 * uwsgi `socket` is reached over the uwsgi protocol: `pools.ts`). Command vassal: its first socket-activation socket, else the
 * address of its tcp or http `ready` probe. Otherwise the error says why the vassal cannot be routed.
 */
export function upstreamOf(spec: VassalSpec): Result<Upstream, string> {
  switch (spec.kind) {
    case 'app-server': {
      const config = spec.serverConfig;
      for (const key of ['http-socket', 'http'] as const) {
        const first = addressesOf(config[key])[0];
        if (first !== undefined) return upstreamOfAddress(first, spec.dir);
      }
      return err('it has no http-socket, http or socket address');
    }
    case 'command': {
      const first = spec.sockets[0];
      if (first !== undefined) return upstreamOfAddress(first, spec.cwd);
      const ready = spec.ready;
      switch (ready.kind) {
        case 'tcp':
          return ok({host: loopbackFor(ready.host), port: ready.port});
        case 'http': {
          const url = new URL(ready.url);
          const port = url.port === '' ? (url.protocol === 'https:' ? 443 : 80) : Number(url.port);
          if (url.protocol !== 'http:') return err(`its ready probe ${ready.url} is not plain HTTP`);
          return ok({host: loopbackFor(url.hostname.replace(/^\[|\]$/g, '')), port});
        }
        case 'notify':
        case 'running':
          return err('it declares no socket and no tcp:// or http:// ready probe, so its port is unknown');
        default: {
          const never: never = ready;
          throw new Error(`Internal error: unknown ready probe ${JSON.stringify(never)}`);
        }
      }
    }
    default: {
      const never: never = spec;
      throw new Error(`Internal error: unknown vassal kind ${JSON.stringify(never)}`);
    }
  }
}

function addressesOf(value: unknown): string[] {
  if (typeof value === 'string') return value === '' ? [] : [value];
  if (Array.isArray(value)) return value.filter((item): item is string => typeof item === 'string' && item !== '');
  return [];
}
