/**
 * The fleet as this emperor last saw it in etcd: vassal files, their placement metadata, the emperors, the drained
 * ones, every replica's claim, and since when each replica has been ready on its revision. Fed by the store's read
 * and watch events (`apply`); the monitor (monitor.ts) decides from it. Also the rolling-reload gate: whether a
 * replica may take a new revision now, from what the lower replicas report in their claims.
 */
import {FAILING} from '../emperor/vassal-states.js';
import {parseClaimRecord, parseHostRecord, parseVassalMeta, type ClaimRecord, type FleetKeys, type HostRecord, type VassalMeta} from './fleet-keys.js';
import type {PlacementHost, PlacementInput, PlacementVassal} from './placement.js';
import type {StoreEvent} from './store.js';

/** A claim as last seen, with the lease it was written under. */
export interface CachedClaim {
  readonly record: ClaimRecord;
  readonly lease: string;
}

/** Whether a replica may take a new revision (rolling reload). */
export type RollGate =
  | {kind: 'go'}
  /** A lower replica is not on the revision, or not ready on it yet. */
  | {kind: 'not-yet'}
  /** Every lower replica is ready on it, but not for long enough: look again after `ms`. */
  | {kind: 'wait'; ms: number}
  /** Replica `index` fails on the revision: the rollout stops here. */
  | {kind: 'halted'; index: number; state: string};

/** What the store holds, as last seen. */
export class FleetView {
  readonly #keys: FleetKeys;
  readonly files = new Map<string, {text: Buffer; rev: number}>();
  readonly metas = new Map<string, VassalMeta>();
  readonly hosts = new Map<string, HostRecord>();
  readonly claims = new Map<string, Map<number, CachedClaim>>();
  readonly drained = new Set<string>();
  /** When this emperor first saw replica `NAME/INDEX` ready on revision `rev` (rolling reloads). */
  readonly #readySince = new Map<string, {rev: number; at: number}>();

  constructor(keys: FleetKeys) {
    this.#keys = keys;
  }

  /** Forgets what was read (before reading the whole fleet again); readiness times are kept. */
  clear(): void {
    this.files.clear();
    this.metas.clear();
    this.hosts.clear();
    this.claims.clear();
    this.drained.clear();
  }

  /** One change of the store. `now`: unix ms. */
  apply(event: StoreEvent, now: number): void {
    const key = this.#keys.classify(event.key);
    if (key === undefined) return;
    const isPut = event.type === 'put';
    switch (key.kind) {
      case 'vassal':
        if (isPut) this.files.set(key.name, {text: event.value, rev: event.modRevision});
        else this.files.delete(key.name);
        return;
      case 'meta': {
        const meta = isPut ? parseVassalMeta(event.value) : undefined;
        if (meta) this.metas.set(key.name, meta);
        else this.metas.delete(key.name);
        return;
      }
      case 'host': {
        const host = isPut ? parseHostRecord(event.value) : undefined;
        if (host) this.hosts.set(key.hostId, host);
        else this.hosts.delete(key.hostId);
        return;
      }
      case 'drained':
        if (isPut) this.drained.add(key.hostId);
        else this.drained.delete(key.hostId);
        return;
      case 'claim':
        return this.#applyClaim(key.name, key.index, isPut ? parseClaimRecord(event.value) : undefined, event.lease, now);
      case 'history':
        return;
      default: {
        const never: never = key;
        throw new Error(`Internal error: unknown fleet key ${JSON.stringify(never)}`);
      }
    }
  }

  #applyClaim(name: string, index: number, record: ClaimRecord | undefined, lease: string, now: number): void {
    let claims = this.claims.get(name);
    const readyKey = `${name}/${index}`;
    if (record) {
      if (!claims) this.claims.set(name, (claims = new Map()));
      claims.set(index, {record, lease});
      const since = this.#readySince.get(readyKey);
      if (record.state !== 'ready') this.#readySince.delete(readyKey);
      else if (since?.rev !== record.rev) this.#readySince.set(readyKey, {rev: record.rev, at: now});
    } else {
      claims?.delete(index);
      if (claims?.size === 0) this.claims.delete(name);
      this.#readySince.delete(readyKey);
    }
  }

  /**
   * What placement needs: the emperors (not drained; `self` while it holds a lease), the vassals with a file, and who
   * holds each replica. What runs here (`runningHere`) stays put even while its claim is missing (our lease expired
   * and we are re-claiming it).
   */
  placementInput(self: {hostId: string; tags: readonly string[]; cap: number} | undefined, hostId: string, runningHere: readonly string[]): PlacementInput {
    const hosts = new Map<string, PlacementHost>();
    for (const [id, host] of this.hosts) if (!this.drained.has(id)) hosts.set(id, {tags: host.tags, cap: host.cap});
    if (self !== undefined && !this.drained.has(self.hostId)) hosts.set(self.hostId, {tags: self.tags, cap: self.cap});
    const vassals = new Map<string, PlacementVassal>();
    for (const [name, meta] of this.metas) if (this.files.has(name)) vassals.set(name, meta);
    const holders = new Map<string, string[]>();
    for (const [name, claims] of this.claims) holders.set(name, [...claims.values()].map((c) => c.record.host));
    for (const name of runningHere) {
      const list = holders.get(name) ?? [];
      if (!list.includes(hostId)) holders.set(name, [...list, hostId]);
    }
    return {vassals, hosts, holders};
  }

  /**
   * Whether replica `index` of `name` may take revision `rev` now: replica 0 at once; replica i once every lower
   * replica has run `rev`, ready, for `settleMs`; a lower replica failing on `rev` halts the rollout.
   */
  rollGate(name: string, index: number, meta: VassalMeta, rev: number, settleMs: number, now: number): RollGate {
    if (index === 0 || meta.replicas <= 1) return {kind: 'go'};
    const claims = this.claims.get(name) ?? new Map<number, CachedClaim>();
    let waitMs = 0;
    for (let i = 0; i < index; i++) {
      const claim = claims.get(i);
      if (claim === undefined) continue;
      if (claim.record.rev === rev && FAILING.has(claim.record.state)) return {kind: 'halted', index: i, state: claim.record.state};
      const since = this.#readySince.get(`${name}/${i}`);
      if (claim.record.rev !== rev || since === undefined || since.rev !== rev) return {kind: 'not-yet'};
      waitMs = Math.max(waitMs, since.at + settleMs - now);
    }
    return waitMs <= 0 ? {kind: 'go'} : {kind: 'wait', ms: waitMs};
  }
}
