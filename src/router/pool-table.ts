/**
 * The router process's view of the pools: Host → pool → the member to send this request to. A member keeps its
 * runtime state (requests in flight, round-robin position, passive and active health, idle connections) across
 * table updates as long as its id and address stay the same, so a route change resets nothing for the other domains.
 *
 * Choosing a member (nginx's upstream module does the same):
 * - only members that can answer: their vassal is serving (ready, reloading…), not marked down by a failure in the
 *   last `failTimeoutMs` (passive health: a refused or reset connection), not failing its active health check;
 * - among them smooth weighted round robin (nginx's algorithm: no bursts to the heavy member), or least connections
 *   (fewest requests in flight per weight; round robin between ties);
 * - if none can, a member that may yet answer: starting or on-demand (the connection wakes it), then one merely
 *   marked down; a pool whose members are all stopped, failing or draining has none (503).
 */
import {SERVING, WAKEABLE} from '../emperor/vassal-states.js';
import type {MemberSpec, PoolSpec, UpstreamProtocol} from './pools.js';
import {normalizeHost, upstreamKey, type Upstream} from './hosts-and-upstreams.js';

/** How a pool spreads requests. */
export type BalanceMode = 'round-robin' | 'least-conn';

/** The state of a backend the router has no emperor state for (a failure there is the backend's: 502). */
export const UNKNOWN_STATE = 'unknown';

/** Whether a vassal in `state` answers requests (`SERVING`, or unknown): its failures are 502s, other states' 503s. */
export function isServingState(state: string): boolean {
  return SERVING.has(state) || state === UNKNOWN_STATE;
}

/** One backend, with what the router has learnt about it. */
export class Member {
  readonly id: string;
  readonly key: string;
  readonly upstream: Upstream;
  readonly protocol: UpstreamProtocol;
  /** modifier1/modifier2 of uwsgi-protocol requests. */
  readonly modifier1: number;
  readonly modifier2: number;
  vassal: string;
  weight: number;
  state: string;
  /** Requests in flight. */
  active = 0;
  /** Smooth weighted round robin's running weight. */
  currentWeight = 0;
  /** Passive health: not chosen before this time (ms, monotonic) after a refusal or reset. */
  downUntil = 0;
  /** Active health: the last check failed. */
  checkFailed = false;
  /** The member left the table: no new requests, in-flight ones finish. */
  retired = false;
  /** A domain it serves (the Host of active health checks). */
  domain: string | undefined;

  constructor(spec: MemberSpec) {
    this.id = spec.id;
    this.key = memberKey(spec);
    this.upstream = spec.upstream;
    this.protocol = spec.protocol;
    this.modifier1 = spec.modifier1 ?? 0;
    this.modifier2 = spec.modifier2 ?? 0;
    this.vassal = spec.vassal;
    this.weight = spec.weight;
    this.state = spec.state;
  }

  isServing(now: number): boolean {
    return isServingState(this.state) && this.downUntil <= now && !this.checkFailed && !this.retired;
  }
}

function memberKey(spec: MemberSpec): string {
  return `${spec.id}@${spec.protocol}/${spec.modifier1 ?? 0}/${spec.modifier2 ?? 0}:${upstreamKey(spec.upstream)}`;
}

/** The members serving one domain. */
export class Pool {
  readonly domain: string;
  readonly members: readonly Member[];
  /** Plain-HTTP requests are answered with a 308 to HTTPS (`https-redirect`). */
  readonly httpsRedirect: boolean;
  readonly #balance: BalanceMode;

  constructor(domain: string, members: readonly Member[], balance: BalanceMode, httpsRedirect = false) {
    this.domain = domain;
    this.members = members;
    this.#balance = balance;
    this.httpsRedirect = httpsRedirect;
  }

  /** The member for the next request, skipping `tried`; undefined when no member can answer. */
  pick(now: number, tried?: ReadonlySet<Member>): Member | undefined {
    const members = this.members;
    if (members.length === 1) {
      const only = members[0] as Member;
      if (tried?.has(only)) return undefined;
      return only.isServing(now) || WAKEABLE.has(only.state) || (isServingState(only.state) && !only.retired) ? only : undefined;
    }
    const chosen = this.#balance === 'least-conn' ? this.#leastConn(now, tried) : this.#roundRobin(now, tried);
    if (chosen !== undefined) return chosen;
    // Nobody is known to serve: try one that may (starting, on-demand), then one marked down a moment ago.
    for (const member of members) if (!tried?.has(member) && !member.retired && WAKEABLE.has(member.state)) return member;
    for (const member of members) if (!tried?.has(member) && !member.retired && isServingState(member.state)) return member;
    return undefined;
  }

  #roundRobin(now: number, tried: ReadonlySet<Member> | undefined): Member | undefined {
    let best: Member | undefined;
    let total = 0;
    for (const member of this.members) {
      if (!member.isServing(now) || tried?.has(member)) continue;
      member.currentWeight += member.weight;
      total += member.weight;
      if (best === undefined || member.currentWeight > best.currentWeight) best = member;
    }
    if (best !== undefined) best.currentWeight -= total;
    return best;
  }

  #leastConn(now: number, tried: ReadonlySet<Member> | undefined): Member | undefined {
    let best: Member | undefined;
    for (const member of this.members) {
      if (!member.isServing(now) || tried?.has(member)) continue;
      // a/wa < b/wb without division; ties go to the higher smooth-round-robin weight.
      if (best === undefined || member.active * best.weight < best.active * member.weight) best = member;
    }
    if (best === undefined) return undefined;
    const ties = this.members.filter((m) => m.isServing(now) && !tried?.has(m) && m.active * best.weight === best.active * m.weight);
    if (ties.length <= 1) return best;
    let total = 0;
    let chosen = best;
    for (const member of ties) {
      member.currentWeight += member.weight;
      total += member.weight;
      if (member.currentWeight > chosen.currentWeight) chosen = member;
    }
    chosen.currentWeight -= total;
    return chosen;
  }
}

/** Host → pool for one protocol side (HTTP members, or uwsgi members for the fastrouter). */
export class PoolTable {
  readonly #exact = new Map<string, Pool>();
  /** `.example.test` → pool, for `*.example.test`. */
  readonly #wildcards = new Map<string, Pool>();

  constructor(pools: readonly Pool[]) {
    for (const pool of pools) {
      if (pool.domain.startsWith('*.')) this.#wildcards.set(pool.domain.slice(1), pool);
      else this.#exact.set(pool.domain, pool);
    }
  }

  /** The pool for a `Host` header value (`App1.Example.test:8080` works), or undefined. */
  lookup(hostHeader: string): Pool | undefined {
    let host = this.#exact.get(hostHeader);
    if (host !== undefined) return host;
    const name = normalizeHost(hostHeader);
    host = this.#exact.get(name);
    if (host !== undefined || this.#wildcards.size === 0) return host;
    // Longest suffix first: for a.b.example.test try .b.example.test, then .example.test, then .test.
    for (let dot = name.indexOf('.'); dot !== -1; dot = name.indexOf('.', dot + 1)) {
      const pool = this.#wildcards.get(name.slice(dot));
      if (pool !== undefined) return pool;
    }
    return undefined;
  }
}

/** Both tables, rebuilt from each table message while members keep their runtime state. */
export class Routing {
  http = new PoolTable([]);
  uwsgi = new PoolTable([]);
  readonly #members = new Map<string, Member>();
  readonly #balance: BalanceMode;
  /** Called with members that left the table (their idle connections close). */
  readonly #onRetired: (member: Member) => void;

  constructor(balance: BalanceMode, onRetired: (member: Member) => void = () => undefined) {
    this.#balance = balance;
    this.#onRetired = onRetired;
  }

  /** Every member in the current table. */
  members(): IterableIterator<Member> {
    return this.#members.values();
  }

  /** Applies a new table. */
  update(pools: readonly PoolSpec[]): void {
    const next = new Map<string, Member>();
    const memberOf = (spec: MemberSpec, domain: string): Member => {
      const key = memberKey(spec);
      let member = next.get(key) ?? this.#members.get(key);
      if (member === undefined) {
        member = new Member(spec);
      } else {
        member.vassal = spec.vassal;
        member.weight = spec.weight;
        // A vassal that serves again is given another chance at once (its restart proves it listens).
        if (member.state !== spec.state && spec.state === 'ready') member.downUntil = 0;
        member.state = spec.state;
      }
      member.domain ??= domain.replace(/^\*\./, 'www.');
      next.set(key, member);
      return member;
    };
    const httpPools: Pool[] = [];
    const uwsgiPools: Pool[] = [];
    for (const spec of pools) {
      if (spec.members.length > 0) httpPools.push(new Pool(spec.domain, spec.members.map((m) => memberOf(m, spec.domain)), this.#balance, spec.httpsRedirect === true));
      if (spec.uwsgiMembers.length > 0) uwsgiPools.push(new Pool(spec.domain, spec.uwsgiMembers.map((m) => memberOf(m, spec.domain)), this.#balance));
    }
    for (const [key, member] of this.#members) {
      if (next.has(key)) continue;
      member.retired = true;
      this.#onRetired(member);
    }
    this.#members.clear();
    for (const [key, member] of next) this.#members.set(key, member);
    this.http = new PoolTable(httpPools);
    this.uwsgi = new PoolTable(uwsgiPools);
  }
}
