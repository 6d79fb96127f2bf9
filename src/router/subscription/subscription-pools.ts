/**
 * The pools of subscribed nodes, by key (a Host, as uWSGI's HTTP router keys them): who announced, with what
 * weight, protocol and modifiers, and when last. Pure: no I/O; the clock is passed in. The emperor keeps them and
 * sends them to the router processes as pool members (`pool-specs.ts`); choosing a node per request, passive health
 * and retries are the router processes' (`pool-table.ts`), as for vassals.
 *
 *   (none) ──ANNOUNCE──► alive ──ANNOUNCE──► alive (last announce updated; weight, protocol… changed: an event)
 *                          │ ──UNSUBSCRIBE──► (none)
 *                          └ ──SILENT > tolerance──► (none)   "no announce received in 17 seconds"
 */

/** How the router talks to a node. */
export type NodeProtocol = 'uwsgi' | 'http';

/** Where a node listens. */
export type NodeAddress = {host: string; port: number} | {socketPath: string};

/** What one announce says. */
export interface Announce {
  readonly key: string;
  /** The address as announced (`127.0.0.1:3031`, `/run/app.sock`), the node's name in logs. */
  readonly name: string;
  readonly address: NodeAddress;
  readonly protocol: NodeProtocol;
  readonly modifier1: number;
  readonly modifier2: number;
  readonly weight: number;
  readonly cores: number;
  readonly load: number;
}

/** One node of a pool. */
export interface PoolNode extends Announce {
  readonly subscribedAt: number;
  readonly lastAnnounceAt: number;
}

/** What changed, for the caller's log lines (and to resend the pools). */
export type PoolEvent =
  | {kind: 'new-pool'; key: string}
  | {kind: 'new-node'; key: string; node: string}
  | {kind: 'changed'; key: string; node: string}
  | {kind: 'removed'; key: string; node: string; why: 'unsubscribed' | 'expired'; silentMs: number}
  | {kind: 'pool-gone'; key: string};

/** Every pool. */
export class SubscriptionPools {
  readonly #pools = new Map<string, PoolNode[]>();
  readonly #toleranceMs: number;

  constructor({toleranceMs}: {toleranceMs: number}) {
    this.#toleranceMs = toleranceMs;
  }

  /** Adds the node or refreshes it. */
  announce(announce: Announce, now: number): PoolEvent[] {
    const events: PoolEvent[] = [];
    const key = normalizeKey(announce.key);
    let pool = this.#pools.get(key);
    if (pool === undefined) {
      pool = [];
      this.#pools.set(key, pool);
      events.push({kind: 'new-pool', key});
    }
    const at = pool.findIndex((node) => node.name === announce.name);
    const known = pool[at];
    const node: PoolNode = {...announce, key, subscribedAt: known?.subscribedAt ?? now, lastAnnounceAt: now};
    if (known === undefined) {
      pool.push(node);
      events.push({kind: 'new-node', key, node: announce.name});
      return events;
    }
    pool[at] = node;
    if (routeOf(known) !== routeOf(node)) events.push({kind: 'changed', key, node: announce.name});
    return events;
  }

  /** Removes a node that unsubscribed. */
  unsubscribe(key: string, name: string, now: number): PoolEvent[] {
    const normalized = normalizeKey(key);
    const pool = this.#pools.get(normalized);
    const node = pool?.find((n) => n.name === name);
    if (pool === undefined || node === undefined) return [];
    return this.#remove(pool, node, 'unsubscribed', now);
  }

  /** Drops every node silent longer than the tolerance. */
  expire(now: number): PoolEvent[] {
    const events: PoolEvent[] = [];
    for (const pool of [...this.#pools.values()]) {
      for (const node of [...pool]) if (now - node.lastAnnounceAt > this.#toleranceMs) events.push(...this.#remove(pool, node, 'expired', now));
    }
    return events;
  }

  /** Every pool and its live nodes (pool specs, stats, tests). */
  snapshot(now: number): {key: string; nodes: (PoolNode & {lastAnnounceAgoMs: number})[]}[] {
    return [...this.#pools].map(([key, nodes]) => ({
      key,
      nodes: nodes.filter((n) => now - n.lastAnnounceAt <= this.#toleranceMs).map((n) => ({...n, lastAnnounceAgoMs: now - n.lastAnnounceAt})),
    }));
  }

  /** How many pools exist. */
  get size(): number {
    return this.#pools.size;
  }

  #remove(pool: PoolNode[], node: PoolNode, why: 'unsubscribed' | 'expired', now: number): PoolEvent[] {
    pool.splice(pool.indexOf(node), 1);
    const events: PoolEvent[] = [{kind: 'removed', key: node.key, node: node.name, why, silentMs: now - node.lastAnnounceAt}];
    if (pool.length === 0) {
      this.#pools.delete(node.key);
      events.push({kind: 'pool-gone', key: node.key});
    }
    return events;
  }
}

/** What the router needs of a node: a change of any of it is sent on. */
function routeOf(node: PoolNode): string {
  return JSON.stringify([node.address, node.protocol, node.modifier1, node.modifier2, node.weight]);
}

/** A key as pools store it: lower case, no trailing dot (a Host is case-insensitive). */
export function normalizeKey(key: string): string {
  const lower = key.trim().toLowerCase();
  return lower.endsWith('.') ? lower.slice(0, -1) : lower;
}
