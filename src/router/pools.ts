/**
 * Which domains go to which backends: the emperor's side of the router processes. Pure: no I/O, no clock. The
 * emperor (`router-processes.ts`) rebuilds the list of pools whenever a vassal changes and sends it to the router
 * processes, which only look names up (`pool-table.ts`).
 *
 * A domain is served by a **pool**: every vassal declaring it, as long as they all belong to the same owner (the
 * uid they run as). The first owner to claim a domain keeps it while any of its vassals declares it; a vassal of
 * another owner claiming it is refused and reported (issue 14: it used to go to the first file name in sort order,
 * so a tenant could take a domain by naming a file `a.toml`). Names are matched as nginx's `server_name` does
 * (`hosts-and-upstreams.ts` has the rules and the address helpers).
 */
import type {VassalSpec} from '../config/vassal-spec.js';
import {checkDomain, upstreamOf, upstreamOfAddress, type Upstream} from './hosts-and-upstreams.js';

/** The protocol the router speaks to a backend: HTTP/1.1, or uWSGI's binary protocol (uwsgi sockets, subscriptions). */
export type UpstreamProtocol = 'http' | 'uwsgi';

/** One backend of a pool, as the emperor describes it to the router processes. */
export interface MemberSpec {
  /** Unique within the table: `vassal:shop.toml`, `vassal:shop.toml#uwsgi`, `sub:127.0.0.1:3031`. */
  readonly id: string;
  /** The vassal it belongs to (for error pages and logs); a subscribed node names its address. */
  readonly vassal: string;
  readonly upstream: Upstream;
  readonly protocol: UpstreamProtocol;
  /** Share of the requests relative to the other members (round robin); at least 1. */
  readonly weight: number;
  /** The vassal's state id (`ready`, `starting`, `backoff`…); `ready` for nodes that have no emperor state. */
  readonly state: string;
  /** modifier1/modifier2 of uwsgi-protocol requests (a subscription says; 0/0 otherwise). */
  readonly modifier1?: number;
  readonly modifier2?: number;
}

/** Every backend serving one domain (exact, or `*.example.test`). */
export interface PoolSpec {
  readonly domain: string;
  /** The uid owning the domain (undefined: sources without owners). */
  readonly owner?: number;
  /** HTTP members (the `--emperor-http` router). */
  readonly members: readonly MemberSpec[];
  /** uWSGI-protocol members (the fastrouter). */
  readonly uwsgiMembers: readonly MemberSpec[];
  /** Plain-HTTP requests get a 308 to HTTPS (a member vassal says `https-redirect = true`). */
  readonly httpsRedirect?: boolean;
}

/** What the emperor knows of one vassal when it builds the table. */
export interface RoutableVassal {
  readonly spec: VassalSpec;
  /** Who it runs as; vassals of one owner share a domain, another owner is refused. */
  readonly owner: number | undefined;
  readonly state: string;
}

/** A domain refused to a vassal because another owner holds it. */
export interface DomainConflict {
  readonly domain: string;
  readonly vassal: string;
  readonly owner: number | undefined;
  /** A vassal of the holding owner. */
  readonly heldBy: string;
  readonly holder: number | undefined;
}

/** A domain value that is not a host name. */
export interface BadDomain {
  readonly vassal: string;
  readonly domain: string;
  readonly reason: string;
}

/** Why a vassal that declares domains is left out of the table. */
export interface UnroutableVassal {
  readonly vassal: string;
  readonly reason: string;
}

/** The result of one build. `claims` goes into the next build, so a held domain stays with its owner. */
export interface BuiltRoutes {
  readonly pools: PoolSpec[];
  readonly conflicts: DomainConflict[];
  readonly badDomains: BadDomain[];
  readonly unroutable: UnroutableVassal[];
  readonly claims: ReadonlyMap<string, number | undefined>;
}

/**
 * Builds the pools from the vassals (in the order the emperor first saw them) and the claims of the previous build.
 * A domain held by an owner stays with it while one of its vassals declares it; a new domain goes to the first
 * vassal (in that order) declaring it.
 */
export function buildRoutes(vassals: readonly RoutableVassal[], previousClaims: ReadonlyMap<string, number | undefined> = new Map()): BuiltRoutes {
  const badDomains: BadDomain[] = [];
  const unroutable: UnroutableVassal[] = [];
  /** domain → the vassals declaring it, in order. */
  const claimants = new Map<string, {vassal: RoutableVassal; http: Upstream | undefined; uwsgi: Upstream | undefined}[]>();
  for (const vassal of vassals) {
    const spec = vassal.spec;
    if (spec.domains.length === 0) continue;
    const http = upstreamOf(spec);
    const uwsgi = uwsgiUpstreamOf(spec);
    if (!http.ok && uwsgi === undefined) {
      unroutable.push({vassal: spec.name, reason: http.error});
      continue;
    }
    for (const raw of spec.domains) {
      const checked = checkDomain(raw);
      if (!checked.ok) {
        badDomains.push({vassal: spec.name, domain: raw, reason: checked.error});
        continue;
      }
      const list = claimants.get(checked.value) ?? [];
      if (!list.some((c) => c.vassal === vassal)) list.push({vassal, http: http.ok ? http.value : undefined, uwsgi});
      claimants.set(checked.value, list);
    }
  }
  const pools: PoolSpec[] = [];
  const conflicts: DomainConflict[] = [];
  const claims = new Map<string, number | undefined>();
  for (const [domain, list] of claimants) {
    const previous = previousClaims.has(domain) ? {owner: previousClaims.get(domain)} : undefined;
    // The previous holder keeps the domain if one of its vassals still declares it; otherwise, among the claimants of
    // this build, the first file name. Not the first seen: the initial scan reads files concurrently, so which one the
    // emperor saw first differs between two starts, and a restart without a state directory would move the domain.
    const firstByName = list.reduce<(typeof list)[number] | undefined>((best, c) => (best === undefined || c.vassal.spec.name < best.vassal.spec.name ? c : best), undefined);
    const holderOwner = previous !== undefined && list.some((c) => c.vassal.owner === previous.owner) ? previous.owner : firstByName?.vassal.owner;
    const kept = list.filter((c) => c.vassal.owner === holderOwner);
    const heldBy = kept[0]?.vassal.spec.name ?? '';
    for (const c of list) {
      if (c.vassal.owner !== holderOwner) {
        conflicts.push({domain, vassal: c.vassal.spec.name, owner: c.vassal.owner, heldBy, holder: holderOwner});
      }
    }
    claims.set(domain, holderOwner);
    const httpsRedirect = kept.some((c) => c.vassal.spec.httpsRedirect);
    const weightOf = (v: RoutableVassal) => Math.max(1, v.spec.routerWeight ?? 1);
    pools.push({
      domain,
      ...(holderOwner === undefined ? {} : {owner: holderOwner}),
      ...(httpsRedirect ? {httpsRedirect} : {}),
      // A vassal with only a uwsgi `socket` is reached by the HTTP fronts over the uwsgi protocol too.
      members: kept.flatMap((c) => {
        const http = c.http === undefined ? undefined : httpMember(c.vassal, c.http, weightOf(c.vassal));
        const uwsgi = c.uwsgi === undefined ? undefined : uwsgiMember(c.vassal, c.uwsgi, weightOf(c.vassal));
        return http !== undefined ? [http] : uwsgi !== undefined ? [uwsgi] : [];
      }),
      uwsgiMembers: kept.flatMap((c) => (c.uwsgi === undefined ? [] : [uwsgiMember(c.vassal, c.uwsgi, weightOf(c.vassal))])),
    });
  }
  return {pools, conflicts, badDomains, unroutable, claims};
}

function httpMember(vassal: RoutableVassal, upstream: Upstream, weight: number): MemberSpec {
  return {id: `vassal:${vassal.spec.name}`, vassal: vassal.spec.name, upstream, protocol: 'http', weight, state: vassal.state};
}

function uwsgiMember(vassal: RoutableVassal, upstream: Upstream, weight: number): MemberSpec {
  return {id: `vassal:${vassal.spec.name}#uwsgi`, vassal: vassal.spec.name, upstream, protocol: 'uwsgi', weight, state: vassal.state};
}

/** The uwsgi-protocol upstream of an app-server vassal (its first `socket`), for the fastrouter. */
export function uwsgiUpstreamOf(spec: VassalSpec): Upstream | undefined {
  if (spec.kind !== 'app-server') return undefined;
  const first = addressesOf(spec.serverConfig['socket'])[0];
  if (first === undefined) return undefined;
  const upstream = upstreamOfAddress(first, spec.dir);
  return upstream.ok ? upstream.value : undefined;
}


function addressesOf(value: unknown): string[] {
  if (typeof value === 'string') return value === '' ? [] : [value];
  if (Array.isArray(value)) return value.filter((item): item is string => typeof item === 'string' && item !== '');
  return [];
}
