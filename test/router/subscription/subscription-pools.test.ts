import {SubscriptionPools, type Announce} from '../../../src/router/subscription/subscription-pools.js';

function node(name: string, weight = 1, key = 'app.test'): Announce {
  const port = Number(name.split(':')[1]);
  return {key, name, address: {host: '127.0.0.1', port}, protocol: 'uwsgi', modifier1: 0, modifier2: 0, weight, cores: 1, load: 0};
}

describe('SubscriptionPools', () => {
  it('creates a pool on the first announce and refreshes a node on the next ones', () => {
    const pools = new SubscriptionPools({toleranceMs: 17_000});
    expect(pools.announce(node('127.0.0.1:3001'), 0)).toEqual([{kind: 'new-pool', key: 'app.test'}, {kind: 'new-node', key: 'app.test', node: '127.0.0.1:3001'}]);
    expect(pools.announce(node('127.0.0.1:3001'), 10_000)).toEqual([]);
    expect(pools.announce(node('127.0.0.1:3002'), 10_000)).toEqual([{kind: 'new-node', key: 'app.test', node: '127.0.0.1:3002'}]);
    expect(pools.snapshot(10_000)[0]?.nodes.map((n) => n.lastAnnounceAgoMs)).toEqual([0, 0]);
  });

  it('spreads requests by weight, interleaved (smooth weighted round robin)', () => {
    const pools = new SubscriptionPools({toleranceMs: 17_000});
    pools.announce(node('127.0.0.1:3001', 3), 0);
    pools.announce(node('127.0.0.1:3002', 1), 0);
    const picks = Array.from({length: 8}, () => pools.pick('app.test', 1)?.name.slice(-1));
    expect(picks.filter((p) => p === '1')).toHaveLength(6);
    expect(picks.filter((p) => p === '2')).toHaveLength(2);
    expect(picks.slice(0, 4)).toContain('2');
  });

  it('looks a Host up as sent, then without its port, case-insensitively', () => {
    const pools = new SubscriptionPools({toleranceMs: 17_000});
    pools.announce(node('127.0.0.1:3001', 1, 'App.Test'), 0);
    pools.announce(node('127.0.0.1:3002', 1, 'app.test:8080'), 0);
    expect(pools.pick('APP.test', 1)?.name).toBe('127.0.0.1:3001');
    expect(pools.pick('app.test:8080', 1)?.name).toBe('127.0.0.1:3002');
    expect(pools.pick('app.test:9090', 1)?.name).toBe('127.0.0.1:3001');
    expect(pools.pick('other.test', 1)).toBeUndefined();
  });

  it('drops a node silent longer than the tolerance, and never picks it even before the sweep', () => {
    const pools = new SubscriptionPools({toleranceMs: 17_000});
    pools.announce(node('127.0.0.1:3001'), 0);
    pools.announce(node('127.0.0.1:3002'), 0);
    pools.announce(node('127.0.0.1:3002'), 10_000);
    expect(pools.expire(17_000)).toEqual([]);
    expect(pools.pick('app.test', 17_001)?.name).toBe('127.0.0.1:3002');
    expect(pools.pick('app.test', 17_002)?.name).toBe('127.0.0.1:3002');
    expect(pools.expire(17_001)).toEqual([{kind: 'removed', key: 'app.test', node: '127.0.0.1:3001', why: 'expired', silentMs: 17_001}]);
    expect(pools.expire(27_001)).toEqual([
      {kind: 'removed', key: 'app.test', node: '127.0.0.1:3002', why: 'expired', silentMs: 17_001},
      {kind: 'pool-gone', key: 'app.test'},
    ]);
    expect(pools.size).toBe(0);
  });

  it('removes a node that unsubscribes, and skips one that refused while others are left', () => {
    const pools = new SubscriptionPools({toleranceMs: 17_000, failedMs: 5_000});
    pools.announce(node('127.0.0.1:3001'), 0);
    pools.announce(node('127.0.0.1:3002'), 0);
    const first = pools.pick('app.test', 1);
    if (first === undefined) throw new Error('no node');
    pools.markFailed(first, 1);
    for (let i = 0; i < 4; i += 1) expect(pools.pick('app.test', 2)?.name).not.toBe(first.name);
    expect(pools.pick('app.test', 5_002)).toBeDefined();
    expect(pools.unsubscribe('APP.TEST', '127.0.0.1:3002', 6_000)).toEqual([{kind: 'removed', key: 'app.test', node: '127.0.0.1:3002', why: 'unsubscribed', silentMs: 6_000}]);
    // the only node left is picked even while marked failed: a refusal is better than a 404
    const only = pools.pick('app.test', 6_001);
    if (only === undefined) throw new Error('no node');
    pools.markFailed(only, 6_001);
    expect(pools.pick('app.test', 6_002)?.name).toBe('127.0.0.1:3001');
  });
});

describe('poolSpecsOf', () => {
  it('turns each pool into a pool spec with one member per live node, uwsgi-protocol nodes also for the fastrouter', async () => {
    const {poolSpecsOf} = await import('../../../src/router/subscription/pool-specs.js');
    const pools = new SubscriptionPools({toleranceMs: 17_000});
    pools.announce(node('127.0.0.1:3001', 2), 0);
    pools.announce({...node('127.0.0.1:8001'), protocol: 'http'}, 0);
    pools.announce(node('127.0.0.1:3009', 1, 'gone.test'), 0);
    pools.announce(node('127.0.0.1:3001', 2), 10_000);
    pools.announce({...node('127.0.0.1:8001'), protocol: 'http'}, 10_000);
    const specs = poolSpecsOf(pools, 17_500);
    expect(specs).toEqual([{
      domain: 'app.test',
      members: [
        {id: 'subscription:app.test:127.0.0.1:3001', vassal: 'subscription app.test', upstream: {host: '127.0.0.1', port: 3001}, protocol: 'uwsgi', weight: 2, state: 'ready'},
        {id: 'subscription:app.test:127.0.0.1:8001', vassal: 'subscription app.test', upstream: {host: '127.0.0.1', port: 8001}, protocol: 'http', weight: 1, state: 'ready'},
      ],
      uwsgiMembers: [{id: 'subscription:app.test:127.0.0.1:3001', vassal: 'subscription app.test', upstream: {host: '127.0.0.1', port: 3001}, protocol: 'uwsgi', weight: 2, state: 'ready'}],
    }]);
  });
});
