import {SubscriptionPools, type Announce} from '../../../src/router/subscription/subscription-pools.js';
import {poolSpecsOf} from '../../../src/router/subscription/pool-specs.js';

function node(name: string, weight = 1, key = 'app.test'): Announce {
  const port = Number(name.split(':')[1]);
  return {key, name, address: {host: '127.0.0.1', port}, protocol: 'uwsgi', modifier1: 0, modifier2: 0, weight, cores: 1, load: 0};
}

const names = (pools: SubscriptionPools, now: number) => pools.snapshot(now).map((p) => [p.key, p.nodes.map((n) => n.name)]);

describe('SubscriptionPools', () => {
  it('creates a pool on the first announce, refreshes a node on the next ones, and tells when what the router needs changed', () => {
    const pools = new SubscriptionPools({toleranceMs: 17_000});
    expect(pools.announce(node('127.0.0.1:3001'), 0)).toEqual([{kind: 'new-pool', key: 'app.test'}, {kind: 'new-node', key: 'app.test', node: '127.0.0.1:3001'}]);
    expect(pools.announce(node('127.0.0.1:3001'), 10_000)).toEqual([]);
    expect(pools.announce(node('127.0.0.1:3002'), 10_000)).toEqual([{kind: 'new-node', key: 'app.test', node: '127.0.0.1:3002'}]);
    expect(pools.snapshot(10_000)[0]?.nodes.map((n) => n.lastAnnounceAgoMs)).toEqual([0, 0]);
    // load and cores change every announce: no event; a new weight or protocol is one
    expect(pools.announce({...node('127.0.0.1:3001'), load: 7}, 11_000)).toEqual([]);
    expect(pools.announce(node('127.0.0.1:3001', 3), 12_000)).toEqual([{kind: 'changed', key: 'app.test', node: '127.0.0.1:3001'}]);
    expect(pools.announce({...node('127.0.0.1:3001', 3), protocol: 'http'}, 12_000)).toEqual([{kind: 'changed', key: 'app.test', node: '127.0.0.1:3001'}]);
  });

  it('keys pools case-insensitively, without a trailing dot', () => {
    const pools = new SubscriptionPools({toleranceMs: 17_000});
    pools.announce(node('127.0.0.1:3001', 1, 'App.Test.'), 0);
    pools.announce(node('127.0.0.1:3002', 1, 'app.test:8080'), 0);
    expect(names(pools, 1)).toEqual([['app.test', ['127.0.0.1:3001']], ['app.test:8080', ['127.0.0.1:3002']]]);
  });

  it('drops a node silent longer than the tolerance, and leaves it out of the snapshot even before the sweep', () => {
    const pools = new SubscriptionPools({toleranceMs: 17_000});
    pools.announce(node('127.0.0.1:3001'), 0);
    pools.announce(node('127.0.0.1:3002'), 0);
    pools.announce(node('127.0.0.1:3002'), 10_000);
    expect(pools.expire(17_000)).toEqual([]);
    expect(names(pools, 17_001)).toEqual([['app.test', ['127.0.0.1:3002']]]);
    expect(pools.expire(17_001)).toEqual([{kind: 'removed', key: 'app.test', node: '127.0.0.1:3001', why: 'expired', silentMs: 17_001}]);
    expect(pools.expire(27_001)).toEqual([
      {kind: 'removed', key: 'app.test', node: '127.0.0.1:3002', why: 'expired', silentMs: 17_001},
      {kind: 'pool-gone', key: 'app.test'},
    ]);
    expect(pools.size).toBe(0);
  });

  it('removes a node that unsubscribes (key case-insensitive), and ignores one it does not know', () => {
    const pools = new SubscriptionPools({toleranceMs: 17_000});
    pools.announce(node('127.0.0.1:3001'), 0);
    pools.announce(node('127.0.0.1:3002'), 0);
    expect(pools.unsubscribe('APP.TEST', '127.0.0.1:3002', 6_000)).toEqual([{kind: 'removed', key: 'app.test', node: '127.0.0.1:3002', why: 'unsubscribed', silentMs: 6_000}]);
    expect(pools.unsubscribe('app.test', '127.0.0.1:3009', 6_000)).toEqual([]);
    expect(names(pools, 6_001)).toEqual([['app.test', ['127.0.0.1:3001']]]);
  });
});

describe('poolSpecsOf', () => {
  it('turns each pool into a pool spec with one member per live node, uwsgi-protocol nodes (with their modifiers) also for the fastrouter', () => {
    const pools = new SubscriptionPools({toleranceMs: 17_000});
    pools.announce({...node('127.0.0.1:3001', 2), modifier1: 5}, 0);
    pools.announce({...node('127.0.0.1:8001'), protocol: 'http'}, 0);
    pools.announce(node('127.0.0.1:3009', 1, 'gone.test'), 0);
    pools.announce({...node('127.0.0.1:3001', 2), modifier1: 5}, 10_000);
    pools.announce({...node('127.0.0.1:8001'), protocol: 'http'}, 10_000);
    const uwsgi = {id: 'subscription:app.test:127.0.0.1:3001', vassal: 'subscription app.test', upstream: {host: '127.0.0.1', port: 3001}, protocol: 'uwsgi', weight: 2, state: 'ready', modifier1: 5, modifier2: 0};
    expect(poolSpecsOf(pools, 17_500)).toEqual([{
      domain: 'app.test',
      members: [uwsgi, {id: 'subscription:app.test:127.0.0.1:8001', vassal: 'subscription app.test', upstream: {host: '127.0.0.1', port: 8001}, protocol: 'http', weight: 1, state: 'ready'}],
      uwsgiMembers: [uwsgi],
    }]);
  });
});
