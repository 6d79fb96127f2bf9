/**
 * The pools of subscribed nodes, by key (a Host, as uWSGI's HTTP router keys them): who announced, with what
 * weight and protocol, and when last. Pure: no I/O; the clock is passed in.
 *
 *   (none) ──ANNOUNCE──► alive ──ANNOUNCE──► alive (last announce, weight, load updated)
 *                          │ ──UNSUBSCRIBE──► (none)
 *                          │ ──SILENT > tolerance──► (none)   "no announce received in 17 seconds"
 *                          └─ a refused connection ──► skipped for `failedMs`, still announced, then picked again
 *
 * A pool picks its nodes by smooth weighted round robin (nginx's: each pick adds every node's weight to its
 * current score and takes the highest, which then pays back the total), so weights 3:1 give a a a b, interleaved.
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
  lastAnnounceAt: number;
  /** Until when the node is skipped after a refused connection (0 = not skipped). */
  failedUntil: number;
  /** Smooth weighted round robin score. */
  current: number;
  requests: number;
}

/** What changed, for the caller's log lines. */
export type PoolEvent =
  | {kind: 'new-pool'; key: string}
  | {kind: 'new-node'; key: string; node: string}
  | {kind: 'removed'; key: string; node: string; why: 'unsubscribed' | 'expired'; silentMs: number}
  | {kind: 'pool-gone'; key: string};

/** Every pool. */
export class SubscriptionPools {
  readonly #pools = new Map<string, PoolNode[]>();
  readonly #toleranceMs: number;
  readonly #failedMs: number;

  constructor({toleranceMs, failedMs = 5_000}: {toleranceMs: number; failedMs?: number}) {
    this.#toleranceMs = toleranceMs;
    this.#failedMs = failedMs;
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
    const known = pool.find((node) => node.name === announce.name);
    if (known !== undefined) {
      Object.assign(known, {weight: announce.weight, cores: announce.cores, load: announce.load, lastAnnounceAt: now, protocol: announce.protocol, address: announce.address});
      return events;
    }
    pool.push({...announce, key, subscribedAt: now, lastAnnounceAt: now, failedUntil: 0, current: 0, requests: 0});
    events.push({kind: 'new-node', key, node: announce.name});
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

  /**
   * The node to send a request for `host` to: the pool keyed by the Host as sent, else by the name without its port.
   * Expired nodes are never picked (even between sweeps); nodes that refused recently only when no other is left.
   * `exclude` skips a node already tried for this request.
   */
  pick(host: string, now: number, exclude?: PoolNode): PoolNode | undefined {
    const lower = host.trim().toLowerCase();
    let pool = this.#pools.get(lower);
    if (pool === undefined) {
      const colon = lower.lastIndexOf(':');
      if (colon > 0 && !lower.endsWith(']')) pool = this.#pools.get(lower.slice(0, colon));
    }
    if (pool === undefined) return undefined;
    const alive = pool.filter((node) => now - node.lastAnnounceAt <= this.#toleranceMs && node !== exclude);
    const healthy = alive.filter((node) => node.failedUntil <= now);
    const candidates = healthy.length > 0 ? healthy : alive;
    if (candidates.length === 0) return undefined;
    let total = 0;
    let best: PoolNode | undefined;
    for (const node of candidates) {
      node.current += node.weight;
      total += node.weight;
      if (best === undefined || node.current > best.current) best = node;
    }
    if (best === undefined) return undefined;
    best.current -= total;
    best.requests += 1;
    return best;
  }

  /** A connection to `node` was refused or reset: skip it for a while. */
  markFailed(node: PoolNode, now: number): void {
    node.failedUntil = now + this.#failedMs;
  }

  /** Every pool and its nodes (stats, tests). */
  snapshot(now: number): {key: string; nodes: {name: string; address: NodeAddress; protocol: NodeProtocol; weight: number; requests: number; lastAnnounceAgoMs: number; failed: boolean}[]}[] {
    return [...this.#pools].map(([key, nodes]) => ({
      key,
      nodes: nodes
        .filter((n) => now - n.lastAnnounceAt <= this.#toleranceMs)
        .map((n) => ({name: n.name, address: n.address, protocol: n.protocol, weight: n.weight, requests: n.requests, lastAnnounceAgoMs: now - n.lastAnnounceAt, failed: n.failedUntil > now})),
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

/** A key as pools store it: lower case, no trailing dot (a Host is case-insensitive). */
export function normalizeKey(key: string): string {
  const lower = key.trim().toLowerCase();
  return lower.endsWith('.') ? lower.slice(0, -1) : lower;
}
