/**
 * Subscribed nodes as router routes: a Host no vassal serves is looked up in the subscription pools, one node per
 * request (weighted round robin), and a node that refuses or resets is skipped for a while, with the request
 * (one without a body, so nothing was consumed) handed to another node of the pool once.
 */
import type {Route} from '../route-table.js';
import type {PoolNode, SubscriptionPools} from './subscription-pools.js';

export type {SubscriptionPools} from './subscription-pools.js';

/** A route to one subscribed node. */
export interface SubscribedRoute extends Route {
  readonly node: PoolNode;
}

/** Connection failures that mean the node is not there (as opposed to a slow or broken answer). */
const NOT_THERE = new Set(['ECONNREFUSED', 'ECONNRESET', 'ENOENT', 'EHOSTUNREACH', 'ECONNABORTED']);

export class SubscribedRoutes {
  readonly #pools: SubscriptionPools;
  readonly #now: () => number;

  constructor(pools: SubscriptionPools, now: () => number = () => performance.now()) {
    this.#pools = pools;
    this.#now = now;
  }

  /** A route to the next node of the pool for `host`, or undefined when nobody subscribed it. */
  routeOf(host: string, exclude?: PoolNode): SubscribedRoute | undefined {
    const node = this.#pools.pick(host, this.#now(), exclude);
    if (node === undefined) return undefined;
    return {
      vassal: `subscription ${node.key}`,
      upstream: node.address,
      protocol: node.protocol,
      modifier1: node.modifier1,
      modifier2: node.modifier2,
      node,
    };
  }

  /** After a failed request on `route`: the route to retry on, if any. Vassal routes are not ours: undefined. */
  onFailure(route: Route, error: NodeJS.ErrnoException, mayRetry: boolean): Route | undefined {
    if (!('node' in route)) return undefined;
    const node = (route as SubscribedRoute).node;
    if (error.code === undefined || !NOT_THERE.has(error.code)) return undefined;
    this.#pools.markFailed(node, this.#now());
    if (!mayRetry) return undefined;
    const next = this.routeOf(node.key, node);
    return next !== undefined && next.node !== node ? next : undefined;
  }
}
