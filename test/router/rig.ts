/**
 * A rig for the HTTP front in this process: real upstream servers on loopback, a front on an ephemeral port, clients
 * speaking raw bytes or node:http. Everything started is closed by `closeRig()` (afterEach).
 */
import {Agent, createServer, request, type IncomingMessage, type Server, type ServerResponse} from 'node:http';
import {connect, type AddressInfo} from 'node:net';
import {captureLogger} from '../helpers/capture-logger.js';
import type {AccessLog} from '../../src/router/access-log.js';
import {HttpFront} from '../../src/router/http-front.js';
import {Routing} from '../../src/router/pool-table.js';
import type {PoolSpec} from '../../src/router/pools.js';
import type {Upstream as UpstreamAddress} from '../../src/router/hosts-and-upstreams.js';
import type {RouterSettings} from '../../src/router/router-messages.js';

export interface Upstream {
  server: Server;
  port: number;
  /** TCP connections the upstream has accepted. */
  connections: number;
  /** Host headers and X-Forwarded-* seen, per request. */
  seen: IncomingMessage['headers'][];
}

export const cleanups: (() => Promise<void> | void)[] = [];

/** Closes everything the rig started (call in afterEach). */
export async function closeRig(): Promise<void> {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
}

export async function startUpstream(handler: (req: IncomingMessage, res: ServerResponse) => void, listenOn: string | number = 0): Promise<Upstream> {
  const upstream: Upstream = {server: createServer(), port: 0, connections: 0, seen: []};
  upstream.server.keepAliveTimeout = 30_000;
  upstream.server.on('connection', () => (upstream.connections += 1));
  upstream.server.on('request', (req, res) => {
    upstream.seen.push(req.headers);
    handler(req, res);
  });
  await new Promise<void>((resolve) => (typeof listenOn === 'string' ? upstream.server.listen(listenOn, resolve) : upstream.server.listen(listenOn, '127.0.0.1', resolve)));
  const address = upstream.server.address();
  upstream.port = typeof address === 'object' && address !== null ? address.port : 0;
  cleanups.push(() => new Promise<void>((resolve) => {
    upstream.server.closeAllConnections();
    upstream.server.close(() => resolve());
  }));
  return upstream;
}

export function hello(name: string) {
  return (_req: IncomingMessage, res: ServerResponse) => {
    res.writeHead(200, {'content-type': 'text/plain', 'x-vassal': name});
    res.end(`hello from ${name}`);
  };
}

export {captureLogger};

/** One vassal's claim, as tests write it. */
export interface RouteEntry {
  vassal: string;
  domains: string[];
  upstream: UpstreamAddress;
  state?: string;
  weight?: number;
}

/** Pools from entries: vassals declaring the same domain share its pool. */
export function poolsOf(entries: RouteEntry[]): PoolSpec[] {
  const pools = new Map<string, PoolSpec & {members: PoolSpec['members'][number][]}>();
  for (const e of entries) {
    for (const domain of e.domains) {
      const pool = pools.get(domain) ?? {domain, members: [], uwsgiMembers: []};
      pool.members.push({id: `vassal:${e.vassal}`, vassal: e.vassal, upstream: e.upstream, protocol: 'http', weight: e.weight ?? 1, state: e.state ?? 'ready'});
      pools.set(domain, pool);
    }
  }
  return [...pools.values()];
}

export const TEST_SETTINGS: RouterSettings = {
  balance: 'round-robin',
  maxConnections: 0,
  headersTimeoutMs: 60_000,
  keepaliveTimeoutMs: 75_000,
  bodyTimeoutMs: 60_000,
  upstreamTimeoutMs: 60_000,
  connectTimeoutMs: 10_000,
  failTimeoutMs: 10_000,
  healthCheckPath: undefined,
  healthIntervalMs: 5_000,
  accessLog: undefined,
  logFormat: 'json',
  acmeChallengeDir: undefined,
};

export async function startRouter(entries: RouteEntry[], settings: Partial<RouterSettings> = {}, accessLog?: AccessLog): Promise<{front: HttpFront; port: number; setRoutes: (e: RouteEntry[]) => void; lines: Record<string, unknown>[]}> {
  const {log, lines} = captureLogger();
  let front: HttpFront | undefined;
  const merged = {...TEST_SETTINGS, ...settings};
  const routing = new Routing(merged.balance, (member) => front?.retire(member));
  routing.update(poolsOf(entries));
  front = new HttpFront(routing, merged, log, accessLog);
  const server = await front.listen({port: 0, host: '127.0.0.1'});
  const started = front;
  cleanups.push(() => started.close(100));
  const port = (server.address() as AddressInfo).port;
  return {front, port, setRoutes: (e) => routing.update(poolsOf(e)), lines};
}

export interface Reply {
  status: number;
  headers: IncomingMessage['headers'];
  body: string;
}

export function fetchVia(port: number, host: string, options: {agent?: Agent | false; method?: string; path?: string; headers?: Record<string, string>} = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request(
      {host: '127.0.0.1', port, path: options.path ?? '/', method: options.method ?? 'GET', agent: options.agent ?? false, headers: {host, ...options.headers}},
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (body += chunk));
        res.on('end', () => resolve({status: res.statusCode ?? 0, headers: res.headers, body}));
      },
    );
    req.on('error', reject);
    req.end();
  });
}

export function keepAliveAgent(): Agent {
  const agent = new Agent({keepAlive: true, maxSockets: 1});
  cleanups.push(() => agent.destroy());
  return agent;
}

/** A port nothing listens on: bound, read, closed. */
export async function deadPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const {port} = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}


/** Sends raw bytes on a new connection; resolves with everything received until the router closes (or `waitMs`). */
export function rawExchange(port: number, bytes: string | Buffer, waitMs = 3_000): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect({host: '127.0.0.1', port});
    let text = '';
    const timer = setTimeout(() => socket.destroy(), waitMs);
    socket.setEncoding('latin1');
    socket.on('connect', () => socket.write(bytes));
    socket.on('data', (chunk: string) => (text += chunk));
    socket.on('close', () => {
      clearTimeout(timer);
      resolve(text);
    });
    socket.on('error', () => undefined);
  });
}

/** The status codes of every response in `text`, in order. */
export function statuses(text: string): number[] {
  return [...text.matchAll(/HTTP\/1\.1 (\d{3}) /g)].map((m) => Number(m[1]));
}


