/**
 * The front router's table: which vassal answers which `Host`, and where its HTTP upstream listens. Pure: no I/O,
 * no clock. The emperor (the lead's wiring) rebuilds a table whenever vassal files change and hands the router the
 * newest one; the router only ever calls `lookup`.
 *
 * Names are matched as nginx's `server_name` does: lower-cased, port and trailing dot stripped; an exact name wins
 * over a wildcard; `*.example.test` matches any name ending in `.example.test` (not `example.test` itself), and the
 * longest wildcard wins. A name claimed by two vassals goes to the first in name order, and the table says so.
 */
import {isAbsolute, resolve} from 'node:path';
import type {VassalSpec} from '../config/vassal-spec.js';
import {err, ok, type Result} from '../result.js';

/** Where a vassal listens for HTTP. */
export type Upstream = {host: string; port: number} | {socketPath: string};

/** What a Host resolves to. */
export interface Route {
  readonly vassal: string;
  readonly upstream: Upstream;
  /** How to talk to the upstream: HTTP (vassals), or the uwsgi protocol (subscribed uWSGI nodes). Default http. */
  readonly protocol?: 'http' | 'uwsgi';
  /** modifier1/modifier2 of uwsgi-protocol requests (the node's subscription says). */
  readonly modifier1?: number;
  readonly modifier2?: number;
  /** Plain-HTTP requests get a 308 to HTTPS (`https-redirect`). */
  readonly httpsRedirect?: boolean;
}

/** One vassal's claim: its `domain` values and its upstream. */
export interface RouteEntry {
  readonly vassal: string;
  readonly domains: readonly string[];
  readonly upstream: Upstream;
  readonly httpsRedirect?: boolean;
}

/** A domain two vassals declared; `kept` serves it, `ignored` does not. */
export interface DomainConflict {
  readonly domain: string;
  readonly kept: string;
  readonly ignored: string;
}

/** A domain value that is not a host name. */
export interface BadDomain {
  readonly vassal: string;
  readonly domain: string;
  readonly reason: string;
}

/** Host → route, exact names first, then wildcards longest first. Immutable once built. */
export class RouteTable {
  readonly #exact: ReadonlyMap<string, Route>;
  /** `.example.test` → route, for `*.example.test`. */
  readonly #wildcards: ReadonlyMap<string, Route>;
  /** Domains that went to another vassal, for the builder's log line. */
  readonly conflicts: readonly DomainConflict[];
  readonly badDomains: readonly BadDomain[];

  constructor(entries: readonly RouteEntry[] = []) {
    const exact = new Map<string, Route>();
    const wildcards = new Map<string, Route>();
    const conflicts: DomainConflict[] = [];
    const badDomains: BadDomain[] = [];
    // Name order, so which vassal keeps a contested domain does not depend on the order files were scanned.
    const sorted = [...entries].sort((a, b) => (a.vassal < b.vassal ? -1 : a.vassal > b.vassal ? 1 : 0));
    for (const entry of sorted) {
      const route: Route = {vassal: entry.vassal, upstream: entry.upstream, ...(entry.httpsRedirect === true ? {httpsRedirect: true} : {})};
      for (const raw of entry.domains) {
        const checked = checkDomain(raw);
        if (!checked.ok) {
          badDomains.push({vassal: entry.vassal, domain: raw, reason: checked.error});
          continue;
        }
        const domain = checked.value;
        const wildcard = domain.startsWith('*.');
        const map = wildcard ? wildcards : exact;
        const key = wildcard ? domain.slice(1) : domain;
        const holder = map.get(key);
        if (holder === undefined) map.set(key, route);
        else if (holder.vassal !== entry.vassal) conflicts.push({domain, kept: holder.vassal, ignored: entry.vassal});
      }
    }
    this.#exact = exact;
    this.#wildcards = wildcards;
    this.conflicts = conflicts;
    this.badDomains = badDomains;
  }

  /** The route for a `Host` header value (`App1.Example.test:8080` works), or undefined. */
  lookup(hostHeader: string): Route | undefined {
    const host = normalizeHost(hostHeader);
    const exact = this.#exact.get(host);
    if (exact !== undefined || this.#wildcards.size === 0) return exact;
    // Longest suffix first: for a.b.example.test try .b.example.test, then .example.test, then .test.
    for (let dot = host.indexOf('.'); dot !== -1; dot = host.indexOf('.', dot + 1)) {
      const route = this.#wildcards.get(host.slice(dot));
      if (route !== undefined) return route;
    }
    return undefined;
  }

  /** Every domain served, with its vassal and whether it redirects to HTTPS (for ACME, `kaiser ls`, logs and tests). */
  domains(): {domain: string; vassal: string}[] {
    return [
      ...[...this.#exact].map(([domain, route]) => ({domain, vassal: route.vassal})),
      ...[...this.#wildcards].map(([suffix, route]) => ({domain: `*${suffix}`, vassal: route.vassal})),
    ];
  }

  /** Every distinct upstream in the table, as `upstreamKey`s. */
  upstreamKeys(): Set<string> {
    const keys = new Set<string>();
    for (const route of this.#exact.values()) keys.add(upstreamKey(route.upstream));
    for (const route of this.#wildcards.values()) keys.add(upstreamKey(route.upstream));
    return keys;
  }
}

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
 * The HTTP upstream of a vassal. App server: its first `http-socket`, else its first `http` (a `socket` speaks the
 * uwsgi binary protocol, which this router does not). Command vassal: its first socket-activation socket, else the
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
      if (addressesOf(config['socket']).length > 0) {
        return err('it has only a uwsgi-protocol socket; the router speaks HTTP: add an http-socket');
      }
      return err('it has no http-socket or http address');
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

/** What the emperor knows of one vassal when it builds the table. */
export interface RoutableVassal {
  readonly spec: VassalSpec;
  /** The vassal's `domain` values. */
  readonly domains: readonly string[];
}

/** Why a vassal that declares domains is left out of the table. */
export interface UnroutableVassal {
  readonly vassal: string;
  readonly reason: string;
}

/** Builds a table from vassal specs; vassals without domains are skipped silently, unroutable ones reported. */
export function buildRouteTable(vassals: readonly RoutableVassal[]): {table: RouteTable; unroutable: UnroutableVassal[]} {
  const entries: RouteEntry[] = [];
  const unroutable: UnroutableVassal[] = [];
  for (const {spec, domains} of vassals) {
    if (domains.length === 0) continue;
    const upstream = upstreamOf(spec);
    if (upstream.ok) entries.push({vassal: spec.name, domains, upstream: upstream.value, httpsRedirect: spec.httpsRedirect});
    else unroutable.push({vassal: spec.name, reason: upstream.error});
  }
  return {table: new RouteTable(entries), unroutable};
}
