/**
 * uWSGI's subscription server (`--subscription-server ADDR`): a UDP socket, in the emperor, receiving uwsgi packets
 * with modifier1 224, each announcing "the node at `address` serves `key`" (modifier2 0) or withdrawing it
 * (modifier2 1), as real uWSGI sends them for `--subscribe-to SERVER:KEY` and `--subscribe2 server=…,key=…` (every
 * `subscribe-freq`, 10 s). The nodes land in `SubscriptionPools`; a node silent for `--subscription-tolerance`
 * (17 s) is dropped.
 *
 *   datagram ──decode──► modifier1 224? ──vars──► key, address, modifier1, modifier2, weight, cores, load, proto
 *                │ no                     │ missing / bad                     │
 *                ▼                        ▼                                   ▼
 *           refused (logged, 1/s)    refused (logged, 1/s)     pools.announce / pools.unsubscribe ──► onChange
 *
 * It runs in the emperor, not in a router process, because every router process must know every node, and a UDP
 * socket hands each datagram to one process only: on a change the emperor sends the pools to all of them with the
 * vassals' (`front-door.ts`). How the router talks to a node follows its subscription: the uwsgi protocol by
 * default (a uWSGI `socket`, what uWSGI's own routers assume), HTTP when the packet says `proto = http` (kaiser
 * vassals with an `http-socket`). An address with a wildcard host (`:3031`, `0.0.0.0:3031`) is reached at the
 * sender's IP; a UNIX socket address is accepted only from a loopback sender.
 */
import {createSocket, type Socket as UdpSocket} from 'node:dgram';
import {isIP} from 'node:net';
import {isAbsolute} from 'node:path';
import {formatError} from '../../errors.js';
import type {Logger} from '../../log/logger.js';
import {decodePacket, MODIFIER1, type UwsgiPacket} from '../../protocol/uwsgi-packet.js';
import {err, ok, type Result} from '../../result.js';
import {parseListenAddress} from '../listen-address.js';
import {SubscriptionPools, type Announce, type NodeAddress, type PoolEvent} from './subscription-pools.js';

/** modifier2 of a subscription packet. */
const COMMAND = {SUBSCRIBE: 0, UNSUBSCRIBE: 1} as const;

/** A host name, optionally with a port (uWSGI keys its HTTP pools by the Host header as sent). */
const KEY = /^[a-z0-9_](?:[a-z0-9_-]*[a-z0-9_])?(?:\.[a-z0-9_](?:[a-z0-9_-]*[a-z0-9_])?)*\.?(?::\d{1,5})?$/;

export interface SubscriptionServerOptions {
  readonly address: string;
  readonly toleranceMs: number;
  readonly log: Logger;
  /** Monotonic clock in ms (tests). */
  readonly now?: () => number;
  /** How often silent nodes are swept (and logged); default 1 s. */
  readonly sweepMs?: number;
  /** Called when a pool gained or lost a node (router processes get the new pools: pool-specs.ts). */
  readonly onChange?: () => void;
}

export interface SubscriptionServer {
  /** The bound UDP address with its real port. */
  readonly address: string;
  readonly pools: SubscriptionPools;
  close(): Promise<void>;
}

/** A decoded subscription packet. */
export type Subscription = {command: 'subscribe'; announce: Announce} | {command: 'unsubscribe'; key: string; name: string};

/** Starts the UDP server; resolves once bound. */
export async function startSubscriptionServer(options: SubscriptionServerOptions): Promise<SubscriptionServer> {
  const log = options.log.child({component: 'subscription'});
  const now = options.now ?? (() => performance.now());
  const pools = new SubscriptionPools({toleranceMs: options.toleranceMs});
  const parsed = parseListenAddress(options.address);
  if ('socketPath' in parsed) throw new Error(`cannot listen on ${JSON.stringify(options.address)}: the subscription server needs HOST:PORT (UDP)`);
  const host = parsed.host ?? '0.0.0.0';
  const socket: UdpSocket = createSocket({type: isIP(host) === 6 ? 'udp6' : 'udp4'});
  const refusals = {at: Number.NEGATIVE_INFINITY, suppressed: 0};
  const refuse = (peer: string, reason: string): void => {
    const at = now();
    if (at - refusals.at < 1_000) {
      refusals.suppressed += 1;
      return;
    }
    log.warn('subscription refused', {
      uwsgi: `[uwsgi-subscription] ${formatError('KAISER_SUBSCRIPTION_REFUSED', {peer, reason})}${refusals.suppressed ? ` (+${refusals.suppressed} more)` : ''}`,
      code: 'KAISER_SUBSCRIPTION_REFUSED',
      peer,
      reason,
    });
    refusals.at = at;
    refusals.suppressed = 0;
  };
  const report = (events: PoolEvent[]): void => {
    for (const event of events) logPoolEvent(log, event, options.toleranceMs);
    if (events.length > 0) options.onChange?.();
  };
  socket.on('message', (bytes, remote) => {
    const peer = `${remote.address}:${remote.port}`;
    const decoded = decodePacket(bytes);
    if (!decoded.ok) return refuse(peer, decoded.error.reason);
    const subscription = subscriptionOf(decoded.value, remote.address);
    if (!subscription.ok) return refuse(peer, subscription.error);
    const value = subscription.value;
    if (value.command === 'subscribe') report(pools.announce(value.announce, now()));
    else report(pools.unsubscribe(value.key, value.name, now()));
  });
  socket.on('error', (error) => log.error('subscription socket error', {error: String(error)}));
  await new Promise<void>((resolve, reject) => {
    socket.once('error', reject);
    socket.bind(parsed.port, host, () => {
      socket.off('error', reject);
      resolve();
    });
  });
  const bound = socket.address();
  const address = bound.family === 'IPv6' ? `[${bound.address}]:${bound.port}` : `${bound.address}:${bound.port}`;
  const sweep = setInterval(() => report(pools.expire(now())), options.sweepMs ?? 1_000);
  sweep.unref();
  log.info('subscription server', {uwsgi: `*** uWSGI subscription server on udp ${address} (nodes silent ${options.toleranceMs / 1000} s are dropped) ***`, address});
  let closing: Promise<void> | undefined;
  return {
    address,
    pools,
    close() {
      clearInterval(sweep);
      return (closing ??= new Promise<void>((resolve) => socket.close(() => resolve())));
    },
  };
}

/** What a decoded packet asks, or why it is refused. `sender` is the datagram's source IP. Pure. */
export function subscriptionOf(packet: UwsgiPacket, sender: string): Result<Subscription, string> {
  if (packet.modifier1 !== MODIFIER1.SUBSCRIPTION) return err(`modifier1 ${packet.modifier1}, not a subscription (224)`);
  if (packet.modifier2 !== COMMAND.SUBSCRIBE && packet.modifier2 !== COMMAND.UNSUBSCRIBE) return err(`unknown command (modifier2 ${packet.modifier2})`);
  const text = (name: string): string | undefined => packet.vars.get(name)?.toString('latin1');
  const key = text('key')?.toLowerCase();
  if (key === undefined || key === '') return err('no key');
  if (key.length > 255 || !KEY.test(key)) return err(`key ${JSON.stringify(key.slice(0, 80))} is not a host name`);
  const name = text('address');
  if (name === undefined || name === '') return err(`no address for key ${key}`);
  if (packet.modifier2 === COMMAND.UNSUBSCRIBE) return ok({command: 'unsubscribe', key, name});
  const address = nodeAddressOf(name, sender);
  if (!address.ok) return err(`address ${JSON.stringify(name.slice(0, 120))} of key ${key}: ${address.error}`);
  const modifier1 = intOf(text('modifier1'), 0);
  const proto = text('proto')?.toLowerCase();
  return ok({
    command: 'subscribe',
    announce: {
      key,
      name,
      address: address.value,
      protocol: proto === 'http' ? 'http' : 'uwsgi',
      modifier1: modifier1 >= 0 && modifier1 <= 255 ? modifier1 : 0,
      modifier2: Math.min(Math.max(intOf(text('modifier2'), 0), 0), 255),
      // uWSGI treats weight 0 as 1; a weight past 1000 would starve everyone else for no reason.
      weight: Math.min(Math.max(intOf(text('weight'), 1), 1), 1000),
      cores: intOf(text('cores'), 0),
      load: intOf(text('load'), 0),
    },
  });
}

/** Where to reach an announced address. */
function nodeAddressOf(name: string, sender: string): Result<NodeAddress, string> {
  const loopbackSender = sender === '127.0.0.1' || sender === '::1' || sender.startsWith('127.') || sender === '::ffff:127.0.0.1';
  if (name.startsWith('/') || name.startsWith('@') || name.startsWith('unix:')) {
    if (!loopbackSender) return err('a UNIX socket can only be announced from this machine');
    const path = name.startsWith('unix:') ? name.slice(5) : name.startsWith('@') ? `\0${name.slice(1)}` : name;
    if (!path.startsWith('\0') && !isAbsolute(path)) return err('a relative socket path');
    return ok({socketPath: path});
  }
  const match = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]]*)):(\d{1,5})$/.exec(name);
  if (match === null) return err('expected HOST:PORT or a socket path');
  const port = Number(match[3]);
  if (port < 1 || port > 65535) return err(`bad port ${port}`);
  const host = match[1] ?? match[2] ?? '';
  // uWSGI announces its socket as configured: `:3031` or `0.0.0.0:3031` means "me", the sender.
  if (host === '' || host === '0.0.0.0' || host === '::' || host === '*') return ok({host: sender.replace(/^::ffff:/, ''), port});
  return ok({host, port});
}

function intOf(text: string | undefined, fallback: number): number {
  if (text === undefined || !/^\d{1,9}$/.test(text)) return fallback;
  return Number(text);
}

function logPoolEvent(log: Logger, event: PoolEvent, toleranceMs: number): void {
  const prefix = `[uwsgi-subscription for pid ${process.pid}]`;
  switch (event.kind) {
    case 'new-pool':
      return void log.info('new pool', {uwsgi: `${prefix} new pool: ${event.key}`, key: event.key});
    case 'new-node':
      return void log.info('new node', {uwsgi: `${prefix} ${event.key} => new node: ${event.node}`, key: event.key, node: event.node});
    case 'changed':
      return void log.info('node changed', {uwsgi: `${prefix} ${event.key} => node ${event.node} announced a new weight, protocol or modifier`, key: event.key, node: event.node});
    case 'removed':
      if (event.why === 'expired') {
        return void log.warn('node expired', {uwsgi: `${prefix} ${event.key} => marking ${event.node} as failed (no announce received in ${Math.round(toleranceMs / 1000)} seconds)`, key: event.key, node: event.node, silentMs: Math.round(event.silentMs)});
      }
      return void log.info('node unsubscribed', {uwsgi: `${prefix} ${event.key} => removing node ${event.node}`, key: event.key, node: event.node});
    case 'pool-gone':
      return void log.info('pool removed', {uwsgi: `${prefix} pool ${event.key} has no nodes left`, key: event.key});
    default: {
      const never: never = event;
      throw new Error(`Internal error: unknown pool event ${JSON.stringify(never)}`);
    }
  }
}
