import {Member, Pool, PoolTable, Routing} from '../../src/router/pool-table.js';
import type {MemberSpec, PoolSpec} from '../../src/router/pools.js';

function member(name: string, port: number, extra: Partial<MemberSpec> = {}): MemberSpec {
  return {id: `vassal:${name}`, vassal: name, upstream: {host: '127.0.0.1', port}, protocol: 'http', weight: 1, state: 'ready', ...extra};
}

function picks(pool: Pool, n: number, now = 0): string[] {
  return Array.from({length: n}, () => pool.pick(now)?.vassal ?? '-');
}

describe('PoolTable', () => {
  const pool = (domain: string) => new Pool(domain, [new Member(member(domain, 1))], 'round-robin');
  const table = new PoolTable([pool('app1.example.test'), pool('*.example.test'), pool('*.deep.example.test'), pool('deep.example.test')]);

  it('finds an exact name whatever its case, port or trailing dot', () => {
    for (const host of ['app1.example.test', 'APP1.example.TEST', 'app1.example.test:8080', 'app1.example.test.']) expect(table.lookup(host)?.domain).toBe('app1.example.test');
  });

  it('matches a wildcard at any depth but not its apex, preferring exact names and then the longest wildcard', () => {
    expect(table.lookup('x.example.test')?.domain).toBe('*.example.test');
    expect(table.lookup('x.y.example.test:80')?.domain).toBe('*.example.test');
    expect(table.lookup('deep.example.test')?.domain).toBe('deep.example.test');
    expect(table.lookup('x.deep.example.test')?.domain).toBe('*.deep.example.test');
    expect(table.lookup('example.test')).toBeUndefined();
    expect(table.lookup('other.test')).toBeUndefined();
  });
});

describe('Pool', () => {
  it('spreads requests by smooth weighted round robin (nginx: a a b a c a b a for 5:2:1 without bursts)', () => {
    const pool = new Pool('p', [new Member(member('a', 1, {weight: 5})), new Member(member('b', 2, {weight: 2})), new Member(member('c', 3, {weight: 1}))], 'round-robin');
    const seq = picks(pool, 16);
    expect(seq.filter((v) => v === 'a')).toHaveLength(10);
    expect(seq.filter((v) => v === 'b')).toHaveLength(4);
    expect(seq.filter((v) => v === 'c')).toHaveLength(2);
    expect(seq.join('')).not.toMatch(/aaa/);
  });

  it('picks the member with the fewest requests in flight under least-conn, round robin between ties', () => {
    const a = new Member(member('a', 1));
    const b = new Member(member('b', 2));
    const pool = new Pool('p', [a, b], 'least-conn');
    a.active = 3;
    b.active = 1;
    expect(pool.pick(0)?.vassal).toBe('b');
    b.active = 3;
    expect(new Set(picks(pool, 4))).toEqual(new Set(['a', 'b']));
  });

  it('skips a member marked down, one failing its health check, one not serving, and one already tried', () => {
    const a = new Member(member('a', 1));
    const b = new Member(member('b', 2));
    const pool = new Pool('p', [a, b], 'round-robin');
    a.downUntil = 1_000;
    expect(picks(pool, 3, 500)).toEqual(['b', 'b', 'b']);
    expect(new Set(picks(pool, 4, 1_000))).toEqual(new Set(['a', 'b']));
    b.checkFailed = true;
    expect(picks(pool, 2, 1_000)).toEqual(['a', 'a']);
    b.checkFailed = false;
    b.state = 'stopping';
    expect(picks(pool, 2, 1_000)).toEqual(['a', 'a']);
    expect(pool.pick(1_000, new Set([a]))).toBeUndefined();
  });

  it('falls back to a starting or on-demand member, then to one marked down, and has none when all are stopped', () => {
    const a = new Member(member('a', 1, {state: 'backoff'}));
    const b = new Member(member('b', 2, {state: 'on-demand'}));
    expect(new Pool('p', [a, b], 'round-robin').pick(0)?.vassal).toBe('b');
    const c = new Member(member('c', 3));
    c.downUntil = 10;
    expect(new Pool('p', [a, c], 'round-robin').pick(0)?.vassal).toBe('c');
    const d = new Member(member('d', 4, {state: 'stopped'}));
    expect(new Pool('p', [a, d], 'round-robin').pick(0)).toBeUndefined();
  });
});

describe('Routing', () => {
  const pools = (...specs: MemberSpec[]): PoolSpec[] => [{domain: 'p.test', members: specs, uwsgiMembers: []}];

  it('keeps a member\'s runtime state across tables, forgives a failure once its vassal is ready again, and retires members that left', () => {
    const retired: string[] = [];
    const routing = new Routing('round-robin', (m) => retired.push(m.vassal));
    routing.update(pools(member('a', 1, {state: 'starting'}), member('b', 2)));
    const a = routing.http.lookup('p.test')?.members[0] as Member;
    a.active = 2;
    a.downUntil = 99_999;
    routing.update(pools(member('a', 1, {state: 'ready'}), member('b', 2)));
    const again = routing.http.lookup('p.test')?.members[0] as Member;
    expect(again).toBe(a);
    expect(again.active).toBe(2);
    expect(again.downUntil).toBe(0);
    routing.update(pools(member('a', 1)));
    expect(retired).toEqual(['b']);
    // A vassal whose address changed is a new member.
    routing.update(pools(member('a', 9)));
    expect(routing.http.lookup('p.test')?.members[0]).not.toBe(a);
  });
});
