/**
 * The emperor's front door: the router processes (`router-supervisor.ts`) and what they route. Whenever a vassal
 * appears, changes state or goes, the pools are rebuilt from the emperor's vassals (`buildRoutes`) and sent; domain
 * claims carry over from one build to the next, so a domain stays with the owner that had it first, and across
 * restarts through the claims file (`domain-claims-file.ts`: read before the first build, written when an owner
 * changes). Conflicts, unroutable vassals and bad domain values are logged once per change, not on every rebuild.
 *
 * Other sources of members (the subscription server) add theirs with `setExtraPools(source, pools)`; their members
 * join the vassals' pool of the same domain (one pool, as several vassals of one owner form one), unless that domain
 * belongs to another user than the emperor's (tyrant mode, vassals with `uid`): a tenant's domain stays its own,
 * whoever can send a datagram to the subscription server (`KAISER_ROUTER_DOMAIN_TAKEN`).
 */
import {formatError} from '../errors.js';
import type {Logger} from '../log/logger.js';
import type {Result} from '../result.js';
import type {DomainClaimsFile} from './domain-claims-file.js';
import {buildRoutes, type MemberSpec, type PoolSpec, type RoutableVassal} from './pools.js';
import {upstreamKey} from './hosts-and-upstreams.js';
import {RouterSupervisor, type ListenerRequest} from './router-supervisor.js';
import type {RouterSettings} from './router-messages.js';

export interface RouterProcessesOptions {
  readonly python: string;
  readonly processes: number;
  readonly settings: RouterSettings;
  readonly listeners: readonly ListenerRequest[];
  /** The emperor's vassals, in the order it first saw them. */
  readonly vassals: () => readonly RoutableVassal[];
  /** The emperor's uid: domains of vassals running as it may take subscribed members. */
  readonly emperorUid: number | undefined;
  /** Where claims outlive the emperor (`--emperor-state-dir`); without it they are kept in memory only. */
  readonly claimsFile?: DomainClaimsFile;
  readonly log: Logger;
}

const REBUILD_MS = 2;

export class RouterProcesses {
  readonly #options: RouterProcessesOptions;
  readonly #log: Logger;
  readonly #supervisor: RouterSupervisor;
  #claims: ReadonlyMap<string, number | undefined> = new Map();
  #reported = new Set<string>();
  readonly #extra = new Map<string, readonly PoolSpec[]>();
  #rebuild: NodeJS.Timeout | undefined;
  #pools: PoolSpec[] = [];
  #vassalDomains: string[] = [];
  /** Set by stop(): the emperor stopping its vassals afterwards must not release (and write away) their claims. */
  #stopped = false;

  constructor(options: RouterProcessesOptions) {
    this.#options = options;
    this.#log = options.log.child({component: 'router'});
    this.#claims = options.claimsFile?.owners() ?? new Map();
    this.#supervisor = new RouterSupervisor(options);
  }

  /**
   * Builds the first table, then binds and starts the router processes (each gets the table before its sockets),
   * then rebuilds: vassals that changed state meanwhile told nobody (the emperor learns of the front door once it
   * has started).
   */
  async start(): Promise<Result<void, string>> {
    this.#rebuildNow();
    const started = await this.#supervisor.start();
    if (started.ok) this.#rebuildNow();
    return started;
  }

  /** Bound addresses of the listeners of `kind` (`http`, `fastrouter`…). */
  addresses(kind: string): string[] {
    return this.#supervisor.addresses(kind);
  }

  /** Something that decides routes changed: rebuild soon (changes in the same tick are built once). */
  changed(): void {
    if (this.#stopped) return;
    this.#rebuild ??= setTimeout(() => this.#rebuildNow(), REBUILD_MS);
  }

  /** Pools from another source (subscriptions): they join the vassals' pools of the same domain. */
  setExtraPools(source: string, pools: readonly PoolSpec[]): void {
    if (pools.length === 0) this.#extra.delete(source);
    else this.#extra.set(source, pools);
    this.changed();
  }

  /** Resolves once every router process routes by the current table. */
  applied(): Promise<void> {
    if (this.#rebuild !== undefined && !this.#stopped) this.#rebuildNow();
    return this.#supervisor.applied();
  }

  /** The domains vassals hold (ACME orders certificates for these, not for subscription keys). */
  vassalDomains(): readonly string[] {
    return this.#vassalDomains;
  }

  /** The pools last sent (tests, `kaiser ls`). */
  pools(): readonly PoolSpec[] {
    return this.#pools;
  }

  routerPids(): number[] {
    return this.#supervisor.pids();
  }

  reopenLogs(): void {
    this.#supervisor.reopenLogs();
  }

  async stop(graceMs = 5_000): Promise<void> {
    this.#stopped = true;
    if (this.#rebuild !== undefined) clearTimeout(this.#rebuild);
    this.#rebuild = undefined;
    await this.#supervisor.stop(graceMs);
    await this.#options.claimsFile?.flush();
  }

  #rebuildNow(): void {
    if (this.#rebuild !== undefined) clearTimeout(this.#rebuild);
    this.#rebuild = undefined;
    const built = buildRoutes(this.#options.vassals(), this.#claims);
    if (this.#options.claimsFile !== undefined && !sameOwners(built.claims, this.#claims)) {
      const holders = new Map(built.pools.map((p) => [p.domain, (p.members[0] ?? p.uwsgiMembers[0])?.vassal]));
      this.#options.claimsFile.update(built.claims, (domain) => holders.get(domain));
    }
    this.#claims = built.claims;
    const lines: string[] = [];
    for (const u of built.unroutable) lines.push(formatError('KAISER_ROUTER_UNROUTABLE', {vassal: u.vassal, reason: u.reason}));
    for (const c of built.conflicts) {
      lines.push(formatError('KAISER_ROUTER_DOMAIN_TAKEN', {domain: c.domain, vassal: c.vassal, servedBy: `${c.heldBy} (uid ${c.holder ?? '?'}; this vassal runs as uid ${c.owner ?? '?'})`}));
    }
    for (const b of built.badDomains) lines.push(formatError('KAISER_ROUTER_BAD_DOMAIN', {domain: b.domain, vassal: b.vassal, reason: b.reason}));
    this.#vassalDomains = built.pools.map((p) => p.domain);
    const merged = mergeExtra(built.pools, this.#extra, this.#options.emperorUid);
    for (const r of merged.refused) lines.push(formatError('KAISER_ROUTER_DOMAIN_TAKEN', {domain: r.domain, vassal: r.member, servedBy: `vassals of uid ${r.owner}`}));
    const now = new Set(lines);
    for (const line of lines) if (!this.#reported.has(line)) this.#log.warn('vassal not routed', {uwsgi: `[router] ${line}`});
    this.#reported = now;
    this.#pools = merged.pools;
    this.#supervisor.setTable(this.#pools);
  }
}

function sameOwners(a: ReadonlyMap<string, number | undefined>, b: ReadonlyMap<string, number | undefined>): boolean {
  if (a.size !== b.size) return false;
  for (const [domain, owner] of a) if (!b.has(domain) || b.get(domain) !== owner) return false;
  return true;
}

/**
 * The vassals' pools with the other sources' members added: same domain, one pool (a member already there with the
 * same address and protocol is not added twice), unless the domain is held by another user than the emperor's.
 */
function mergeExtra(pools: PoolSpec[], extra: ReadonlyMap<string, readonly PoolSpec[]>, emperorUid: number | undefined): {pools: PoolSpec[]; refused: {domain: string; member: string; owner: number}[]} {
  const refused: {domain: string; member: string; owner: number}[] = [];
  if (extra.size === 0) return {pools, refused};
  const byDomain = new Map(pools.map((p) => [p.domain, p]));
  const same = (a: MemberSpec, b: MemberSpec) => a.protocol === b.protocol && upstreamKey(a.upstream) === upstreamKey(b.upstream);
  for (const list of extra.values()) {
    for (const pool of list) {
      const existing = byDomain.get(pool.domain);
      if (existing === undefined) {
        byDomain.set(pool.domain, pool);
      } else if (existing.owner !== undefined && existing.owner !== emperorUid) {
        for (const member of pool.members) refused.push({domain: pool.domain, member: `${member.vassal} node ${upstreamKey(member.upstream)}`, owner: existing.owner});
      } else {
        byDomain.set(pool.domain, {
          ...existing,
          members: [...existing.members, ...pool.members.filter((m) => !existing.members.some((e) => same(e, m)))],
          uwsgiMembers: [...existing.uwsgiMembers, ...pool.uwsgiMembers.filter((m) => !existing.uwsgiMembers.some((e) => same(e, m)))],
        });
      }
    }
  }
  return {pools: [...byDomain.values()], refused};
}
