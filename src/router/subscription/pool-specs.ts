/**
 * Subscribed nodes as the router processes' pool specs: what the emperor sends its router processes when a node
 * joins, leaves or expires (the router processes then pick members themselves, by the pool's balance mode). The
 * shape is the route table's `PoolSpec`: one pool per key, each node a member with its address, protocol and
 * weight; uwsgi-protocol nodes also serve the fastrouter (`uwsgiMembers`). Pure.
 */
import type {NodeAddress, NodeProtocol, SubscriptionPools} from './subscription-pools.js';

/** One subscribed node as a pool member. */
export interface SubscribedMemberSpec {
  readonly id: string;
  /** Shown where a vassal name would be (logs, error pages): `subscription KEY`. */
  readonly vassal: string;
  readonly upstream: NodeAddress;
  readonly protocol: NodeProtocol;
  readonly weight: number;
  readonly state: 'ready';
}

export interface SubscribedPoolSpec {
  readonly domain: string;
  readonly members: readonly SubscribedMemberSpec[];
  readonly uwsgiMembers: readonly SubscribedMemberSpec[];
}

/** Every pool of `pools` as a pool spec (nodes already silent past the tolerance are left out). */
export function poolSpecsOf(pools: SubscriptionPools, now: number): SubscribedPoolSpec[] {
  return pools.snapshot(now).flatMap(({key, nodes}) => {
    const members = nodes.map((node): SubscribedMemberSpec => ({
      id: `subscription:${key}:${node.name}`,
      vassal: `subscription ${key}`,
      upstream: node.address,
      protocol: node.protocol,
      weight: node.weight,
      state: 'ready',
    }));
    return members.length === 0 ? [] : [{domain: key, members, uwsgiMembers: members.filter((m) => m.protocol === 'uwsgi')}];
  });
}
