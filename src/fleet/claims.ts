/**
 * This emperor's replica claims in etcd (`P/claims/NAME/INDEX`, fleet-keys.ts): created only if absent and under
 * our lease, so a replica never has two holders; rewritten with the replica's state; deleted only while still under
 * the lease that wrote them (a deletion etcd did not confirm is tried again at the next reconcile).
 */
import type {Logger} from '../log/logger.js';
import {parseClaimRecord, type ClaimRecord, type FleetKeys} from './fleet-keys.js';
import type {FleetStore} from './store.js';

/** `won`: ours under this lease; `taken`: another emperor holds it; `unknown`: not settled, try again later. */
export type ClaimOutcome = 'won' | 'taken' | 'unknown';

/** What a claim records of its replica. */
export interface ReplicaReport {
  state: string;
  seq: number;
  rev: number;
}

const DEADLINE_MS = 2_000;

/** The claims of one emperor. */
export class Claims {
  readonly #store: FleetStore;
  readonly #keys: FleetKeys;
  readonly #hostId: string;
  readonly #log: Logger;
  /** Claims whose deletion etcd did not confirm: key → the lease they were written under. */
  readonly #pendingDeletes = new Map<string, string>();

  constructor(options: {store: FleetStore; keys: FleetKeys; hostId: string; log: Logger}) {
    this.#store = options.store;
    this.#keys = options.keys;
    this.#hostId = options.hostId;
    this.#log = options.log;
  }

  /**
   * Creates claim `NAME/INDEX` under `lease` if nobody holds it. `won` also when an earlier attempt whose answer was
   * lost, or a concurrent one of ours, created it; `unknown` when etcd is unreachable or slow, or the claim of our
   * previous lease is not deleted yet: change nothing meanwhile.
   */
  async tryClaim(name: string, index: number, lease: string | undefined, report: ReplicaReport): Promise<ClaimOutcome> {
    if (lease === undefined) return 'unknown';
    const key = this.#keys.claim(name, index);
    try {
      const res = await this.#store.txn([{key, target: 'create', op: '=', value: 0}], [{op: 'put', key, value: this.#record(report), lease}], [], {deadlineMs: DEADLINE_MS});
      if (res.succeeded) return 'won';
      const {kvs} = await this.#store.get(key, {deadlineMs: DEADLINE_MS});
      const current = kvs[0];
      if (current === undefined) return 'unknown';
      if (current.lease === lease) return 'won';
      if (parseClaimRecord(current.value)?.host === this.#hostId) return 'unknown';
      return 'taken';
    } catch (error) {
      this.#log.debug('claim not settled', {vassal: name, index, error: String(error)});
      return 'unknown';
    }
  }

  /** Rewrites the claim with the replica's state, if it is still ours under `lease` (else the watch shows the loss). */
  async report(name: string, index: number, lease: string, report: ReplicaReport): Promise<void> {
    const key = this.#keys.claim(name, index);
    await this.#store.txn([{key, target: 'lease', op: '=', value: lease}], [{op: 'put', key, value: this.#record(report), lease}], [], {deadlineMs: DEADLINE_MS}).catch(() => {
      // Unreachable: the next transition reports again.
    });
  }

  /** Deletes the claim if it is still under `lease`; remembered and retried if etcd does not confirm. */
  async release(name: string, index: number, lease: string): Promise<void> {
    await this.#delete(this.#keys.claim(name, index), lease);
  }

  /** Tries again the deletions etcd did not confirm. */
  retryDeletes(): Promise<void>[] {
    return [...this.#pendingDeletes].map(([key, lease]) => this.#delete(key, lease));
  }

  async #delete(key: string, lease: string): Promise<void> {
    try {
      await this.#store.txn([{key, target: 'lease', op: '=', value: lease}], [{op: 'delete', key}], [], {deadlineMs: DEADLINE_MS});
      this.#pendingDeletes.delete(key);
    } catch {
      this.#pendingDeletes.set(key, lease);
    }
  }

  #record(report: ReplicaReport): string {
    const record: ClaimRecord = {host: this.#hostId, state: report.state, seq: report.seq, rev: report.rev, at: Date.now()};
    return JSON.stringify(record);
  }
}
