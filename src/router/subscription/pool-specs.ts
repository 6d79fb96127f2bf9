/**
 * Subscribed nodes as the router processes' pool specs: what the emperor sends its router processes when a node
 * joins, changes, leaves or expires (the router processes then pick members themselves, by the pool's balance mode,
 * with the same passive health and retries as for vassals). The shape is the route table's `PoolSpec`: one pool per
 * key, each node a member with its address, protocol, modifiers and weight; uwsgi-protocol nodes also serve the
 * fastrouter (`uwsgiMembers`). Pure.
 */
import type {MemberSpec, PoolSpec} from '../pools.js';
import type {SubscriptionPools} from './subscription-pools.js';

/** Every pool of `pools` as a pool spec (nodes already silent past the tolerance are left out). */
export function poolSpecsOf(pools: SubscriptionPools, now: number): PoolSpec[] {
  return pools.snapshot(now).flatMap(({key, nodes}) => {
    const members = nodes.map((node): MemberSpec => ({
      id: `subscription:${key}:${node.name}`,
      vassal: `subscription ${key}`,
      upstream: node.address,
      protocol: node.protocol,
      weight: node.weight,
      state: 'ready',
      ...(node.protocol === 'uwsgi' ? {modifier1: node.modifier1, modifier2: node.modifier2} : {}),
    }));
    return members.length === 0 ? [] : [{domain: key, members, uwsgiMembers: members.filter((m) => m.protocol === 'uwsgi')}];
  });
}
