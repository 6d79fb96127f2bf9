/**
 * The fleet monitor: makes this emperor one member of a fleet kept in etcd, and feeds the emperor the replicas it
 * holds through the emperor's `VassalSink` (define/undefine), beside (or instead of) the directory source. It owns
 * the emperor's side of the protocol whose keys `fleet-keys.ts` describes; the store as last seen is fleet-view.ts's,
 * the claim transactions are claims.ts's:
 *
 *   - join: a lease (lease-keeper.ts) and `P/hosts/HOST` under it; leaving revokes it, dying lets it expire (TTL)
 *   - claim: every replica placement.ts assigns here is claimed (a replica never has two holders); the vassal
 *     starts once the claim is won
 *   - release: a replica placed elsewhere (or removed, or drained) is stopped first and its claim deleted after
 *   - report: the vassal's state and the revision it runs go into its claim, for `fleet ls` and rolling reloads
 *   - roll: replica i takes a new revision once every lower replica is ready on it (`FleetView.rollGate`)
 *   - partition: nothing is stopped because etcd cannot be reached (the watch and the lease retry forever, from the
 *     last revision seen); only `singleton` vassals stop once the lease is unconfirmed for TTL/2, before it could
 *     expire and let another emperor start them; when a new lease was needed, held replicas are claimed again and
 *     given up only if another emperor took them meanwhile. After an outage every emperor is re-claiming its own
 *     replicas at once (a frozen etcd leader that resumes revokes every lease it thinks expired), so for
 *     RECOVERY_GRACE after its lease was in doubt an emperor claims no replica it did not already run
 *
 * Fleet vassals are named `fleet:NAME` in the emperor (kaiser ls, logs, control commands), so they never collide with
 * a file of the watched directory; their definitions resolve relative paths against the fleet work dir.
 *
 *   (new) ──START──► connecting ──READ+WATCH──► joined ──COMPACTED──► connecting
 *                     │    ▲ FAILED (retry)                │
 *                     └────┘                               │ PAUSE (emperor shutting down)
 *   connecting | joined ──PAUSE──► paused ──CLOSE──► closed (lease revoked)
 */
import {mkdirSync} from 'node:fs';
import {join} from 'node:path';
import type {Logger} from '../log/logger.js';
import {Claims} from './claims.js';
import {FleetKeys, type HostRecord, type VassalMeta} from './fleet-keys.js';
import {FleetView} from './fleet-view.js';
import type {VassalSink} from '../emperor/definition.js';
import {formatFleetUrl, type FleetAddress} from './fleet-url.js';
import {DeadManSwitch} from './dead-man-switch.js';
import {LeaseKeeper} from './lease-keeper.js';
import {placeReplicas} from './placement.js';
import {EtcdStore, type FleetStore, type StoreEvent, type StoreWatch} from './store.js';

/** What the monitor needs of the emperor (`Emperor` fits): the sink every source feeds, plus a look at its vassals. */
export interface FleetEmperor extends Pick<VassalSink, 'define' | 'registerSource'> {
  undefine(name: string): unknown;
  vassal(name: string): unknown;
  /** Names and leader pids (0 = none) of every vassal. */
  snapshots(): readonly {name: string; pid: number}[];
}

export interface FleetMonitorOptions {
  readonly address: FleetAddress;
  readonly hostId: string;
  readonly tags: readonly string[];
  /** At most this many replicas here (0 = no limit beyond the fleet's balance). */
  readonly cap: number;
  /** Directory fleet vassals resolve relative paths against (and run in, by default). */
  readonly workDir: string;
  readonly ttlSeconds: number;
  readonly log: Logger;
  /** Default: etcd at `address.endpoints`. */
  readonly store?: FleetStore;
  /** How long a replica serves a new revision before the next replica takes it. */
  readonly rollSettleMs?: number;
  /** python3 for the dead-man switch (fast failover when this process dies); undefined = no switch. */
  readonly python?: string;
}

/** Emperor names of fleet vassals start with this, so they never collide with directory vassals. */
export const FLEET_VASSAL_PREFIX = 'fleet:';

/** Default lease TTL. */
export const DEFAULT_FLEET_TTL_SECONDS = 3;
const DEFAULT_ROLL_SETTLE_MS = 3_000;
const FENCE_CHECK_MS = 100;
const RECONNECT_MS = 500;
/** A re-claim of a running replica that could not be settled is tried again this often. */
const CLAIM_RETRY_MS = 250;
/** TTLs an emperor waits after its lease was in doubt before it takes replicas it did not run. */
const RECOVERY_GRACE_TTLS = 2;

export type FleetMonitorState = {id: 'new'} | {id: 'connecting'} | {id: 'joined'; since: number} | {id: 'paused'} | {id: 'closed'};

interface HeldReplica {
  index: number;
  /** running: defined in the emperor; fenced: a singleton stopped for want of a confirmed lease; releasing: stopping. */
  phase: 'running' | 'fenced' | 'releasing';
  /** The vassal file revision given to the emperor. */
  rev: number;
  seq: number;
  state: string;
  singleton: boolean;
  /** Delete the claim once stopped (false when another emperor owns it already). */
  deleteClaim: boolean;
}

/** One fleet member. */
export class FleetMonitor {
  readonly #o: FleetMonitorOptions;
  readonly #log: Logger;
  readonly #store: FleetStore;
  readonly #keys: FleetKeys;
  readonly #keeper: LeaseKeeper;
  readonly #source: string;
  #state: FleetMonitorState = {id: 'new'};
  #emperor: FleetEmperor | undefined;
  #watch: StoreWatch | undefined;
  #fenceTimer: NodeJS.Timeout | undefined;
  #retryTimer: NodeJS.Timeout | undefined;
  #rollTimer: NodeJS.Timeout | undefined;
  #graceTimer: NodeJS.Timeout | undefined;
  #claimRetryTimer: NodeJS.Timeout | undefined;
  #switch: DeadManSwitch | undefined;

  /** The store as last seen. */
  readonly #view: FleetView;
  readonly #claims: Claims;

  // What this emperor holds.
  readonly #held = new Map<string, HeldReplica>();
  readonly #reportQueue = new Set<string>();
  readonly #haltedRollouts = new Set<string>();

  #reconcileQueued = false;
  #reconciling = false;
  #dirty = false;

  constructor(options: FleetMonitorOptions) {
    this.#o = options;
    this.#log = options.log.child({component: 'fleet', host: options.hostId});
    this.#store = options.store ?? new EtcdStore(options.address.endpoints);
    this.#keys = new FleetKeys(options.address.prefix);
    this.#view = new FleetView(this.#keys);
    this.#claims = new Claims({store: this.#store, keys: this.#keys, hostId: options.hostId, log: this.#log});
    this.#source = formatFleetUrl(options.address);
    this.#keeper = new LeaseKeeper({store: this.#store, ttlSeconds: options.ttlSeconds, log: this.#log, onGranted: (lease) => void this.#onLeaseGranted(lease)});
  }

  get state(): FleetMonitorState {
    return this.#state;
  }

  /** `etcd://…/PREFIX`, as `kaiser ls` shows it. */
  get source(): string {
    return this.#source;
  }

  /** Emperor names of the replicas held now. */
  heldVassals(): string[] {
    return [...this.#held.keys()].map((name) => FLEET_VASSAL_PREFIX + name);
  }

  /** Joins the fleet. Never waits for etcd: connecting retries in the background, so the emperor starts regardless. */
  start(emperor: FleetEmperor): void {
    if (this.#state.id !== 'new') throw new Error(`Internal error: fleet monitor started in state ${this.#state.id}`);
    this.#emperor = emperor;
    mkdirSync(this.#o.workDir, {recursive: true});
    emperor.registerSource(this.#source);
    this.#log.info('joining fleet', {uwsgi: `*** fleet ${this.#source} as ${this.#o.hostId} ***`, source: this.#source});
    this.#state = {id: 'connecting'};
    if (this.#o.python !== undefined) this.#switch = new DeadManSwitch({python: this.#o.python, endpoints: this.#o.address.endpoints, log: this.#log});
    this.#keeper.start();
    void this.#connect();
    this.#fenceTimer = setInterval(() => this.#checkFence(), FENCE_CHECK_MS);
    this.#fenceTimer.unref();
  }

  /** The emperor is shutting down: stop claiming and reporting, keep the lease until `close`. */
  pause(): void {
    if (this.#state.id === 'closed') return;
    this.#state = {id: 'paused'};
    this.#watch?.close();
    clearTimeout(this.#retryTimer);
    clearTimeout(this.#rollTimer);
    clearTimeout(this.#graceTimer);
    clearTimeout(this.#claimRetryTimer);
    this.#claimRetryTimer = undefined;
    clearInterval(this.#fenceTimer);
  }

  /** After the emperor stopped its vassals: give the lease back so others take over at once, and disconnect. */
  async close(deadlineMs = 2_000): Promise<void> {
    this.pause();
    this.#state = {id: 'closed'};
    await this.#keeper.stop(deadlineMs);
    this.#switch?.close();
    this.#store.close();
  }

  /** Feed of the emperor's `onVassalTransition`: reports fleet vassals' states into their claims. */
  onVassalTransition(transition: {vassal: string; to: string}): void {
    const name = fleetName(transition.vassal);
    const held = name === undefined ? undefined : this.#held.get(name);
    if (name === undefined || held === undefined) return;
    held.state = transition.to;
    if (held.phase === 'running') this.#report(name);
    this.#updateSwitch();
  }

  /** Feed of the emperor's `onVassalRemoved`: a released replica is stopped, so its claim can go. */
  onVassalRemoved(vassal: string): void {
    const name = fleetName(vassal);
    const held = name === undefined ? undefined : this.#held.get(name);
    if (name === undefined || held === undefined || held.phase !== 'releasing') return;
    void this.#finishRelease(name, held);
  }

  // ── connection ──────────────────────────────────────────────────────────────────────────────

  async #connect(): Promise<void> {
    if (this.#state.id !== 'connecting') return;
    try {
      const all = await this.#store.get(this.#keys.all, {prefix: true, deadlineMs: 3_000});
      if (this.#state.id !== 'connecting') return;
      this.#view.clear();
      for (const kv of all.kvs) this.#view.apply({type: 'put', key: kv.key, value: kv.value, modRevision: kv.modRevision, lease: kv.lease}, Date.now());
      this.#watch?.close();
      this.#watch = this.#store.watch(this.#keys.all, all.revision + 1, {
        onEvents: (events) => this.#onEvents(events),
        onCompacted: (revision) => {
          this.#log.warn('fleet watch compacted', {revision, uwsgi: '[fleet] missed history was compacted: reading the fleet again'});
          if (this.#state.id !== 'joined') return;
          this.#state = {id: 'connecting'};
          void this.#connect();
        },
      });
      this.#state = {id: 'joined', since: Date.now()};
      this.#log.info('fleet joined', {revision: all.revision, vassals: this.#view.metas.size, emperors: this.#view.hosts.size});
      this.#scheduleReconcile();
    } catch (error) {
      this.#log.warn('cannot read the fleet', {error: String(error), uwsgi: `[fleet] cannot read ${this.#source} (retrying in ${RECONNECT_MS} ms)`});
      this.#retryTimer = setTimeout(() => void this.#connect(), RECONNECT_MS);
    }
  }

  /** Tells the dead-man switch which processes must die before our lease may be revoked. */
  #updateSwitch(): void {
    if (this.#switch === undefined || this.#emperor === undefined) return;
    const mine = new Set(this.heldVassals());
    this.#switch.setVassalPids(this.#emperor.snapshots().filter((s) => mine.has(s.name) && s.pid > 0).map((s) => s.pid));
  }

  async #onLeaseGranted(lease: string): Promise<void> {
    this.#switch?.setLease(lease);
    const record: HostRecord = {hostId: this.#o.hostId, tags: [...this.#o.tags], cap: this.#o.cap, pid: process.pid, startedAt: Date.now()};
    while (this.#keeper.lease === lease && this.#isActive()) {
      try {
        await this.#store.put(this.#keys.host(this.#o.hostId), JSON.stringify(record), {lease, deadlineMs: 2_000});
        break;
      } catch (error) {
        this.#log.debug('cannot announce this emperor', {error: String(error)});
      }
    }
    // A new lease means the old one expired with our claims: take back what still runs here, unless another emperor
    // took it. A claim that cannot be settled now (etcd slow or still recovering) is retried, never given up.
    await Promise.all(
      [...this.#held].map(async ([name, held]) => {
        if (held.phase === 'releasing') return;
        const outcome = await this.#claims.tryClaim(name, held.index, this.#keeper.lease, held);
        if (outcome === 'taken' && this.#held.get(name) === held && (held.phase as HeldReplica['phase']) !== 'releasing') this.#lose(name, held);
        else if (outcome === 'unknown') this.#retryClaimsSoon();
      }),
    );
    this.#scheduleReconcile();
  }

  /** A re-claim could not be settled: look again shortly even if the store sends no event. */
  #retryClaimsSoon(): void {
    if (this.#claimRetryTimer !== undefined || !this.#isActive()) return;
    this.#claimRetryTimer = setTimeout(() => {
      this.#claimRetryTimer = undefined;
      this.#scheduleReconcile();
    }, CLAIM_RETRY_MS);
  }

  #isActive(): boolean {
    return this.#state.id === 'connecting' || this.#state.id === 'joined';
  }

  #onEvents(events: StoreEvent[]): void {
    if (!this.#isActive()) return;
    for (const event of events) this.#view.apply(event, Date.now());
    this.#scheduleReconcile();
  }

  // ── reconcile ───────────────────────────────────────────────────────────────────────────────

  #scheduleReconcile(): void {
    if (this.#reconcileQueued) return;
    this.#reconcileQueued = true;
    setImmediate(() => void this.#runReconcile());
  }

  async #runReconcile(): Promise<void> {
    this.#reconcileQueued = false;
    if (this.#reconciling) {
      this.#dirty = true;
      return;
    }
    this.#reconciling = true;
    try {
      await this.#reconcile();
    } catch (error) {
      throw new Error(`Internal error: fleet reconcile failed: ${String(error)}`, {cause: error});
    } finally {
      this.#reconciling = false;
      if (this.#dirty) {
        this.#dirty = false;
        this.#scheduleReconcile();
      }
    }
  }

  /** The replicas placement assigns to each emperor, given the store as last seen and what runs here. */
  #plan(): Map<string, string[]> {
    const self = this.#keeper.lease === undefined ? undefined : {hostId: this.#o.hostId, tags: this.#o.tags, cap: this.#o.cap};
    const runningHere = [...this.#held].filter(([, held]) => held.phase !== 'releasing').map(([name]) => name);
    return placeReplicas(this.#view.placementInput(self, this.#o.hostId, runningHere));
  }

  async #reconcile(): Promise<void> {
    if (this.#state.id !== 'joined') return;
    const lease = this.#keeper.lease;
    const tasks: Promise<unknown>[] = this.#claims.retryDeletes();
    const plan = lease === undefined ? new Map<string, string[]>() : this.#plan();
    const names = new Set([...this.#view.metas.keys(), ...this.#held.keys()]);
    const graceLeftMs = this.#keeper.troubleAt === 0 ? 0 : this.#keeper.troubleAt + RECOVERY_GRACE_TTLS * this.#keeper.ttlMs - Date.now();
    let deferred = false;
    for (const name of names) {
      const meta = this.#view.metas.get(name);
      const file = this.#view.files.get(name);
      const held = this.#held.get(name);
      const wanted = meta !== undefined && file !== undefined && (plan.get(name)?.includes(this.#o.hostId) ?? false);
      if (held === undefined) {
        if (wanted && lease !== undefined && graceLeftMs > 0) deferred = true;
        else if (wanted && lease !== undefined) tasks.push(this.#claimFree(name, meta, file));
        continue;
      }
      if (held.phase === 'releasing') continue;
      // Without a lease (etcd unreachable long enough) nothing is stopped: the partition rule.
      if (lease === undefined) continue;
      if (!wanted || meta === undefined || file === undefined || held.index >= meta.replicas) {
        this.#release(name, held);
        continue;
      }
      const claim = this.#view.claims.get(name)?.get(held.index);
      // Missing, or still the claim of our previous lease (its deletion not seen yet): claim it again under this
      // lease. Only a claim another emperor holds means the replica runs elsewhere.
      if (claim === undefined || (claim.lease !== lease && claim.record.host === this.#o.hostId)) {
        tasks.push(
          this.#claims.tryClaim(name, held.index, this.#keeper.lease, held).then((outcome) => {
            if (outcome === 'unknown') this.#retryClaimsSoon();
          }),
        );
        continue;
      }
      if (claim.lease !== lease) {
        this.#lose(name, held);
        continue;
      }
      held.singleton = meta.singleton;
      if (held.phase === 'fenced') {
        if (this.#keeper.isConfirmedWithin(this.#keeper.ttlMs / 2)) this.#defineHeld(name, held, meta, file);
        continue;
      }
      if (file.rev !== held.rev && this.#mayRoll(name, held, meta, file.rev)) this.#defineHeld(name, held, meta, file);
    }
    if (deferred) {
      clearTimeout(this.#graceTimer);
      this.#graceTimer = setTimeout(() => this.#scheduleReconcile(), graceLeftMs + 10);
    }
    await Promise.all(tasks);
  }

  /** Claims the lowest free replica index of `name`; starts the vassal when won. */
  async #claimFree(name: string, meta: VassalMeta, file: {text: Buffer; rev: number}): Promise<void> {
    const claims = this.#view.claims.get(name);
    let index = -1;
    for (let i = 0; i < meta.replicas; i++) {
      if (!claims?.has(i)) {
        index = i;
        break;
      }
    }
    if (index === -1) return;
    const won = (await this.#claims.tryClaim(name, index, this.#keeper.lease, {state: 'claimed', seq: meta.seq, rev: file.rev})) === 'won';
    if (!won || this.#held.has(name) || !this.#isActive()) return;
    const held: HeldReplica = {index, phase: 'running', rev: file.rev, seq: meta.seq, state: 'claimed', singleton: meta.singleton, deleteClaim: true};
    this.#held.set(name, held);
    this.#log.info('fleet replica claimed', {vassal: name, index, rev: file.rev, uwsgi: `[fleet] claimed ${name} replica ${index} (revision ${meta.seq})`});
    this.#defineHeld(name, held, meta, file);
  }

  #defineHeld(name: string, held: HeldReplica, meta: VassalMeta, file: {text: Buffer; rev: number}): void {
    const emperor = this.#emperor;
    if (emperor === undefined) return;
    held.phase = 'running';
    held.rev = file.rev;
    held.seq = meta.seq;
    const vassal = FLEET_VASSAL_PREFIX + name;
    this.#log.info('fleet revision applied', {vassal, rev: file.rev, seq: meta.seq, uwsgi: `[fleet] ${vassal} now at revision ${meta.seq} (etcd ${file.rev})`});
    void emperor
      .define(vassal, {source: this.#source, path: join(this.#o.workDir, name), dir: this.#o.workDir, text: file.text, version: file.rev, changedAt: Date.now()})
      .then(() => this.#report(name));
  }

  /** Stops a replica placed elsewhere; its claim is deleted once it has stopped. */
  #release(name: string, held: HeldReplica): void {
    held.phase = 'releasing';
    this.#log.info('fleet replica released', {vassal: name, index: held.index, uwsgi: `[fleet] releasing ${name} replica ${held.index}`});
    const vassal = FLEET_VASSAL_PREFIX + name;
    if (this.#emperor?.vassal(vassal) === undefined) {
      void this.#finishRelease(name, held);
      return;
    }
    this.#emperor.undefine(vassal);
  }

  /** Another emperor owns our replica now (our lease expired during a partition): stop our copy. */
  #lose(name: string, held: HeldReplica): void {
    this.#log.warn('fleet replica lost', {vassal: name, index: held.index, uwsgi: `[fleet] ${name} replica ${held.index} runs elsewhere now: stopping it here`});
    held.deleteClaim = false;
    this.#release(name, held);
  }

  async #finishRelease(name: string, held: HeldReplica): Promise<void> {
    if (this.#held.get(name) !== held) return;
    this.#held.delete(name);
    const lease = this.#keeper.lease;
    if (held.deleteClaim && lease !== undefined) await this.#claims.release(name, held.index, lease);
    this.#scheduleReconcile();
  }

  /** Whether replica `held.index` may take revision `rev` now (rolling reload), scheduling a look-again if not yet. */
  #mayRoll(name: string, held: HeldReplica, meta: VassalMeta, rev: number): boolean {
    const gate = this.#view.rollGate(name, held.index, meta, rev, this.#o.rollSettleMs ?? DEFAULT_ROLL_SETTLE_MS, Date.now());
    switch (gate.kind) {
      case 'go':
        return true;
      case 'not-yet':
        return false;
      case 'wait':
        clearTimeout(this.#rollTimer);
        this.#rollTimer = setTimeout(() => this.#scheduleReconcile(), gate.ms + 10);
        return false;
      case 'halted': {
        const halt = `${name}@${rev}`;
        if (!this.#haltedRollouts.has(halt)) {
          this.#haltedRollouts.add(halt);
          this.#log.error('fleet rollout halted', {vassal: name, index: gate.index, state: gate.state, uwsgi: `[fleet] rollout of ${name} halted: replica ${gate.index} is ${gate.state} on the new revision`});
        }
        return false;
      }
      default: {
        const never: never = gate;
        throw new Error(`Internal error: unknown roll gate ${JSON.stringify(never)}`);
      }
    }
  }

  // ── state reports and singleton fencing ─────────────────────────────────────────────────────

  #report(name: string): void {
    this.#reportQueue.add(name);
    if (this.#reportQueue.size === 1) setImmediate(() => void this.#flushReports());
  }

  async #flushReports(): Promise<void> {
    const names = [...this.#reportQueue];
    this.#reportQueue.clear();
    const lease = this.#keeper.lease;
    if (lease === undefined || !this.#isActive()) return;
    await Promise.all(
      names.map(async (name) => {
        const held = this.#held.get(name);
        if (held === undefined || held.phase !== 'running') return;
        await this.#claims.report(name, held.index, lease, held);
      }),
    );
  }

  /** Singletons stop before the lease could expire elsewhere: once it is unconfirmed for half its TTL. */
  #checkFence(): void {
    const confirmed = this.#keeper.isConfirmedWithin(this.#keeper.ttlMs / 2);
    for (const [name, held] of this.#held) {
      if (!held.singleton) continue;
      if (!confirmed && held.phase === 'running') {
        held.phase = 'fenced';
        this.#log.warn('fleet singleton fenced', {vassal: name, uwsgi: `[fleet] lease unconfirmed: stopping singleton ${name} before it could run elsewhere`});
        this.#emperor?.undefine(FLEET_VASSAL_PREFIX + name);
      } else if (confirmed && held.phase === 'fenced') {
        this.#scheduleReconcile();
      }
    }
  }
}

/** `fleet:shop.toml` → `shop.toml`; undefined for other vassals. */
export function fleetName(vassal: string): string | undefined {
  return vassal.startsWith(FLEET_VASSAL_PREFIX) ? vassal.slice(FLEET_VASSAL_PREFIX.length) : undefined;
}
