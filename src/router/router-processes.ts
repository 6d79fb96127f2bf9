/**
 * The emperor's front door: the router processes (`router-supervisor.ts`) and what they route. Whenever a vassal
 * appears, changes state or goes, the pools are rebuilt from the emperor's vassals (`buildRoutes`) and sent; domain
 * claims carry over from one build to the next, so a domain stays with the owner that had it first. Conflicts,
 * unroutable vassals and bad domain values are logged once per change, not on every rebuild.
 *
 * Other sources of members (router-tls's subscription server) add theirs with `setExtraPools(source, pools)`; their
 * pools join the vassals' pools of the same domain.
 */
import {formatError} from '../errors.js';
import type {Logger} from '../log/logger.js';
import type {Result} from '../result.js';
import {buildRoutes, type PoolSpec, type RoutableVassal} from './pools.js';
import {RouterSupervisor, type ListenerRequest} from './router-supervisor.js';
import type {RouterSettings} from './router-messages.js';

export interface RouterProcessesOptions {
  readonly python: string;
  readonly processes: number;
  readonly settings: RouterSettings;
  readonly listeners: readonly ListenerRequest[];
  /** The emperor's vassals, in the order it first saw them. */
  readonly vassals: () => readonly RoutableVassal[];
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

  constructor(options: RouterProcessesOptions) {
    this.#options = options;
    this.#log = options.log.child({component: 'router'});
    this.#supervisor = new RouterSupervisor(options);
  }

  /** Binds, starts the router processes and sends the first table. */
  async start(): Promise<Result<void, string>> {
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
    if (this.#rebuild !== undefined) this.#rebuildNow();
    return this.#supervisor.applied();
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

  stop(graceMs = 5_000): Promise<void> {
    if (this.#rebuild !== undefined) clearTimeout(this.#rebuild);
    return this.#supervisor.stop(graceMs);
  }

  #rebuildNow(): void {
    if (this.#rebuild !== undefined) clearTimeout(this.#rebuild);
    this.#rebuild = undefined;
    const built = buildRoutes(this.#options.vassals(), this.#claims);
    this.#claims = built.claims;
    const lines: string[] = [];
    for (const u of built.unroutable) lines.push(formatError('KAISER_ROUTER_UNROUTABLE', {vassal: u.vassal, reason: u.reason}));
    for (const c of built.conflicts) {
      lines.push(formatError('KAISER_ROUTER_DOMAIN_TAKEN', {domain: c.domain, vassal: c.vassal, servedBy: `${c.heldBy} (uid ${c.holder ?? '?'}; this vassal runs as uid ${c.owner ?? '?'})`}));
    }
    for (const b of built.badDomains) lines.push(formatError('KAISER_ROUTER_BAD_DOMAIN', {domain: b.domain, vassal: b.vassal, reason: b.reason}));
    const now = new Set(lines);
    for (const line of lines) if (!this.#reported.has(line)) this.#log.warn('vassal not routed', {uwsgi: `[router] ${line}`});
    this.#reported = now;
    this.#pools = mergeExtra(built.pools, this.#extra);
    this.#supervisor.setTable(this.#pools);
  }
}

function mergeExtra(pools: PoolSpec[], extra: ReadonlyMap<string, readonly PoolSpec[]>): PoolSpec[] {
  if (extra.size === 0) return pools;
  const byDomain = new Map(pools.map((p) => [p.domain, p]));
  for (const list of extra.values()) {
    for (const pool of list) {
      const existing = byDomain.get(pool.domain);
      byDomain.set(
        pool.domain,
        existing === undefined ? pool : {...existing, members: [...existing.members, ...pool.members], uwsgiMembers: [...existing.uwsgiMembers, ...pool.uwsgiMembers]},
      );
    }
  }
  return [...byDomain.values()];
}
