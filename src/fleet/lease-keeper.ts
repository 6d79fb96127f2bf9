/**
 * Keeps this emperor's etcd lease alive with kaiser's own loop, not the client's: a beat every TTL/3, each with a
 * deadline of one beat; a missed beat is retried at once on the next endpoint (the store moves on), so a leader
 * change costs one short retry instead of the client's ≈7 s stall, and kaiser never gives up. It only declares the
 * lease lost when etcd itself says so (TTL 0 / not found): during a quorum loss nobody can expire it, and when a new
 * leader is elected etcd extends every lease, so the lease usually survives a partition.
 *
 *   (new) ──START──► granting ──GRANTED──► held ──EXPIRED (etcd says TTL 0)──► granting
 *                      ▲   │ FAILED (retry)      │ BEAT ok: confirmedAt = beat start
 *                      └───┘                     │ BEAT failed: retry soon, confirmedAt unchanged
 *   any ──STOP──► stopped (the lease is revoked, so the fleet sees this emperor leave at once)
 *
 * `confirmedAt` is when the last successful beat was sent: etcd cannot expire the lease before confirmedAt + TTL,
 * which is what singleton vassals need to stop in time. `troubleAt` is the last moment the lease was in doubt
 * (unconfirmed for TTL/2, or expired and granted anew): the fleet monitor waits a grace after it before taking over
 * other emperors' replicas, because after an etcd outage every emperor is re-claiming its own at the same time.
 */
import type {Logger} from '../log/logger.js';
import type {FleetStore} from './store.js';

export type LeaseState =
  | {id: 'new'}
  | {id: 'granting'; since: number}
  | {id: 'held'; lease: string; grantedAt: number; confirmedAt: number}
  | {id: 'stopped'};

export interface LeaseKeeperOptions {
  readonly store: FleetStore;
  readonly ttlSeconds: number;
  readonly log: Logger;
  /** A new lease (first, or after the old one expired): re-announce and re-claim under it. */
  readonly onGranted: (lease: string) => void;
}

const RETRY_MS = 200;

/** Holds one lease for the life of the emperor. */
export class LeaseKeeper {
  readonly #options: LeaseKeeperOptions;
  #state: LeaseState = {id: 'new'};
  #timer: NodeJS.Timeout | undefined;
  #wasLate = false;
  #troubleAt = 0;
  #hasHeld = false;

  constructor(options: LeaseKeeperOptions) {
    this.#options = options;
  }

  get state(): LeaseState {
    return this.#state;
  }

  /** The lease id while held. */
  get lease(): string | undefined {
    return this.#state.id === 'held' ? this.#state.lease : undefined;
  }

  /** Milliseconds of the TTL. */
  get ttlMs(): number {
    return this.#options.ttlSeconds * 1000;
  }

  /** Unix ms of the last time the lease was in doubt (0 = never since the first grant). */
  get troubleAt(): number {
    const state = this.#state;
    if (state.id === 'held' && Date.now() - state.confirmedAt > this.ttlMs / 2) this.#troubleAt = Date.now();
    return this.#troubleAt;
  }

  /** Whether a beat succeeded within the last `ms`. */
  isConfirmedWithin(ms: number, now = Date.now()): boolean {
    return this.#state.id === 'held' && now - this.#state.confirmedAt <= ms;
  }

  start(): void {
    if (this.#state.id !== 'new') throw new Error(`Internal error: lease keeper started in state ${this.#state.id}`);
    this.#state = {id: 'granting', since: Date.now()};
    void this.#grant();
  }

  async #grant(): Promise<void> {
    if (this.#state.id !== 'granting') return;
    try {
      const lease = await this.#options.store.grantLease(this.#options.ttlSeconds, {deadlineMs: this.ttlMs});
      if (this.#state.id !== 'granting') {
        void this.#options.store.revokeLease(lease).catch(() => undefined);
        return;
      }
      const now = Date.now();
      const isRegrant = this.#hasHeld;
      this.#hasHeld = true;
      if (isRegrant) this.#troubleAt = now;
      this.#state = {id: 'held', lease, grantedAt: now, confirmedAt: now};
      this.#options.log.info('fleet lease granted', {lease, ttlSeconds: this.#options.ttlSeconds});
      this.#schedule(this.ttlMs / 3);
      this.#options.onGranted(lease);
    } catch (error) {
      this.#options.log.debug('fleet lease grant failed', {error: String(error)});
      this.#timer = setTimeout(() => void this.#grant(), RETRY_MS);
    }
  }

  #schedule(ms: number): void {
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => void this.#beat(), ms);
  }

  async #beat(): Promise<void> {
    const state = this.#state;
    if (state.id !== 'held') return;
    const sentAt = Date.now();
    const beatMs = this.ttlMs / 3;
    try {
      const ttl = await this.#options.store.keepAlive(state.lease, {deadlineMs: beatMs});
      if (this.#state !== state) return;
      if (sentAt - state.confirmedAt > this.ttlMs / 2) this.#troubleAt = Date.now();
      if (ttl <= 0) {
        this.#options.log.warn('fleet lease expired', {lease: state.lease, uwsgi: '[fleet] lease expired: re-joining the fleet'});
        this.#state = {id: 'granting', since: Date.now()};
        void this.#grant();
        return;
      }
      this.#state = {...state, confirmedAt: sentAt};
      if (this.#wasLate) this.#options.log.info('fleet lease confirmed again', {lease: state.lease});
      this.#wasLate = false;
      this.#schedule(Math.max(0, beatMs - (Date.now() - sentAt)));
    } catch (error) {
      if (this.#state !== state) return;
      if (Date.now() - state.confirmedAt > this.ttlMs / 2) this.#troubleAt = Date.now();
      if (!this.#wasLate) this.#options.log.warn('fleet lease keepalive failed', {error: String(error), uwsgi: '[fleet] cannot reach etcd: vassals keep running, retrying'});
      this.#wasLate = true;
      this.#schedule(RETRY_MS);
    }
  }

  /** Stops beating and revokes the lease (within `deadlineMs`), so other emperors take over at once. */
  async stop(deadlineMs: number): Promise<void> {
    clearTimeout(this.#timer);
    const state = this.#state;
    this.#state = {id: 'stopped'};
    if (state.id === 'held') await this.#options.store.revokeLease(state.lease, {deadlineMs}).catch(() => undefined);
  }
}
