import {placeReplicas, type PlacementHost, type PlacementVassal} from '../../src/fleet/placement.js';

const host = (tags: string[] = [], cap = 0): PlacementHost => ({tags, cap});
const vassal = (replicas = 1, hosts: string[] = [], tags: string[] = []): PlacementVassal => ({replicas, hosts, tags});
const threeHosts = new Map([['a', host()], ['b', host()], ['c', host()]]);
const names = (n: number) => Array.from({length: n}, (_, i) => `app${i}.toml`);
const load = (plan: Map<string, string[]>) => {
  const count = new Map<string, number>();
  for (const hosts of plan.values()) for (const h of hosts) count.set(h, (count.get(h) ?? 0) + 1);
  return count;
};

describe('placeReplicas', () => {
  it('spreads vassals within the cap of ceil(n / emperors) + 1', () => {
    const plan = placeReplicas({vassals: new Map(names(30).map((n) => [n, vassal()])), hosts: threeHosts, holders: new Map()});
    for (const count of load(plan).values()) expect(count).toBeLessThanOrEqual(11);
    expect([...plan.values()].every((h) => h.length === 1)).toBe(true);
  });

  it('puts the replicas of one vassal on distinct emperors, and no more replicas than emperors', () => {
    const plan = placeReplicas({vassals: new Map([['web.toml', vassal(5)]]), hosts: threeHosts, holders: new Map()});
    expect([...plan.get('web.toml')!].sort()).toEqual(['a', 'b', 'c']);
  });

  it('honours host and tag constraints', () => {
    const hosts = new Map([['a', host(['ssd'])], ['b', host()], ['c', host(['ssd', 'gpu'])]]);
    const plan = placeReplicas({vassals: new Map([['db.toml', vassal(2, [], ['ssd'])], ['ml.toml', vassal(1, [], ['gpu'])], ['pin.toml', vassal(1, ['b'])]]), hosts, holders: new Map()});
    expect([...plan.get('db.toml')!].sort()).toEqual(['a', 'c']);
    expect(plan.get('ml.toml')).toEqual(['c']);
    expect(plan.get('pin.toml')).toEqual(['b']);
  });

  it('leaves a vassal unplaced when no emperor qualifies', () => {
    const plan = placeReplicas({vassals: new Map([['ml.toml', vassal(1, [], ['gpu'])]]), hosts: threeHosts, holders: new Map()});
    expect(plan.get('ml.toml')).toEqual([]);
  });

  it('moves only the replicas of a lost emperor', () => {
    const vassals = new Map(names(30).map((n) => [n, vassal()]));
    const before = placeReplicas({vassals, hosts: threeHosts, holders: new Map()});
    const holders = new Map([...before].filter(([, h]) => h[0] !== 'c'));
    const after = placeReplicas({vassals, hosts: new Map([['a', host()], ['b', host()]]), holders});
    for (const [name, hosts] of before) if (hosts[0] !== 'c') expect(after.get(name)).toEqual(hosts);
    for (const hosts of after.values()) expect(hosts).toHaveLength(1);
  });

  it('respects an emperor’s own cap', () => {
    const plan = placeReplicas({vassals: new Map(names(12).map((n) => [n, vassal()])), hosts: new Map([['a', host([], 2)], ['b', host()], ['c', host()]]), holders: new Map()});
    expect(load(plan).get('a') ?? 0).toBeLessThanOrEqual(2);
    expect([...plan.values()].every((h) => h.length === 1)).toBe(true);
  });

  it('gives every emperor the same answer for the same view', () => {
    const input = {vassals: new Map(names(50).map((n) => [n, vassal(2)])), hosts: threeHosts, holders: new Map()};
    expect(placeReplicas(input)).toEqual(placeReplicas({...input, vassals: new Map([...input.vassals].reverse())}));
  });
});
