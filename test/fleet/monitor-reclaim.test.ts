/**
 * The fleet monitor after its lease was revoked (a frozen etcd leader that resumes revokes every lease it thinks
 * expired): it takes a new lease and claims its running replicas again, and must not stop one because the re-claim
 * could not be settled at once (a transaction that misses its deadline, an answer lost after the write, a watch that
 * has not caught up yet). An in-memory store stands in for etcd, with knobs for those faults.
 */
import {mkdtempSync, rmSync} from 'node:fs';
import {tmpdir} from 'node:os';
import {join} from 'node:path';
import winston from 'winston';
import {FleetMonitor, type FleetEmperor} from '../../src/fleet/monitor.js';
import type {FleetStore, ReadResult, StoreCompare, StoreEvent, StoreOp, StoreWatch, TxnResult, WatchListener, StoredKey} from '../../src/fleet/store.js';
import {StoreUnavailableError} from '../../src/fleet/store.js';

const PREFIX = '/t';

/** Enough of etcd for one monitor: keys with leases, create/lease compares, a prefix watch that can lag. */
class MemoryStore implements FleetStore {
  readonly keys = new Map<string, StoredKey>();
  readonly leases = new Set<string>();
  revision = 1;
  #nextLease = 100;
  #watchers: {prefix: string; listener: WatchListener}[] = [];
  /** Events not delivered yet while the watch lags. */
  #held: StoreEvent[] | undefined;
  /** Claim transactions to fail: 'before' = nothing written, 'after' = written but the answer lost. */
  readonly claimFaults: ('before' | 'after')[] = [];

  async get(key: string, options: {prefix?: boolean} = {}): Promise<ReadResult> {
    const kvs = [...this.keys.values()].filter((kv) => (options.prefix ? kv.key.startsWith(key) : kv.key === key));
    return {kvs, revision: this.revision};
  }

  async put(key: string, value: Buffer | string, options: {lease?: string} = {}): Promise<number> {
    this.#apply([{op: 'put', key, value, ...(options.lease ? {lease: options.lease} : {})}]);
    return this.revision;
  }

  async delete(key: string): Promise<number> {
    const had = this.keys.has(key);
    this.#apply([{op: 'delete', key}]);
    return had ? 1 : 0;
  }

  async txn(compare: readonly StoreCompare[], success: readonly StoreOp[], failure: readonly StoreOp[] = []): Promise<TxnResult> {
    const isClaim = success.some((o) => o.op === 'put' && o.key.startsWith(`${PREFIX}/claims/`)) && compare.some((c) => c.target === 'create');
    for (const o of success) if (o.op === 'put' && o.lease !== undefined && !this.leases.has(o.lease)) throw new Error('etcdserver: requested lease not found');
    const fault = isClaim ? this.claimFaults.shift() : undefined;
    if (fault === 'before') throw new StoreUnavailableError('txn: no answer within 2000 ms');
    const ok = compare.every((c) => {
      const kv = this.keys.get(c.key);
      if (c.target === 'create') return c.op === '=' ? (kv?.createRevision ?? 0) === c.value : (kv?.createRevision ?? 0) !== c.value;
      if (c.target === 'lease') return c.op === '=' ? (kv?.lease ?? '0') === c.value : (kv?.lease ?? '0') !== c.value;
      return true;
    });
    this.#apply(ok ? success : failure);
    if (fault === 'after') throw new StoreUnavailableError('txn: no answer within 2000 ms');
    return {succeeded: ok, revision: this.revision};
  }

  watch(prefix: string, _fromRevision: number, listener: WatchListener): StoreWatch {
    const watcher = {prefix, listener};
    this.#watchers.push(watcher);
    return {close: () => (this.#watchers = this.#watchers.filter((w) => w !== watcher))};
  }

  async grantLease(): Promise<string> {
    const lease = String(this.#nextLease++);
    this.leases.add(lease);
    return lease;
  }

  async keepAlive(lease: string): Promise<number> {
    return this.leases.has(lease) ? 1 : 0;
  }

  async revokeLease(lease: string): Promise<void> {
    this.revoke(lease);
  }

  close(): void {}

  /** What a resuming etcd leader does to a lease it thinks expired: the lease and its keys go in one revision. */
  revoke(lease: string): void {
    this.leases.delete(lease);
    const ops: StoreOp[] = [...this.keys.values()].filter((kv) => kv.lease === lease).map((kv) => ({op: 'delete', key: kv.key}));
    this.#apply(ops);
  }

  /** The watch stops delivering (a stream on a member that does not answer) until `catchUp`. */
  lag(): void {
    this.#held ??= [];
  }

  catchUp(): void {
    const events = this.#held ?? [];
    this.#held = undefined;
    if (events.length > 0) this.#deliver(events);
  }

  #apply(ops: readonly StoreOp[]): void {
    if (ops.length === 0) return;
    for (const o of ops) if (o.op === 'put' && o.lease !== undefined && !this.leases.has(o.lease)) throw new Error('etcdserver: requested lease not found');
    this.revision++;
    const events: StoreEvent[] = [];
    for (const o of ops) {
      if (o.op === 'put') {
        const value = Buffer.from(o.value);
        const old = this.keys.get(o.key);
        const lease = o.lease ?? '0';
        this.keys.set(o.key, {key: o.key, value, createRevision: old?.createRevision ?? this.revision, modRevision: this.revision, lease});
        events.push({type: 'put', key: o.key, value, modRevision: this.revision, lease});
      } else if (this.keys.delete(o.key)) {
        events.push({type: 'delete', key: o.key, value: Buffer.alloc(0), modRevision: this.revision, lease: '0'});
      }
    }
    if (this.#held) this.#held.push(...events);
    else if (events.length > 0) this.#deliver(events);
  }

  #deliver(events: StoreEvent[]): void {
    setImmediate(() => {
      for (const w of this.#watchers) {
        const mine = events.filter((e) => e.key.startsWith(w.prefix));
        if (mine.length > 0) w.listener.onEvents(mine);
      }
    });
  }
}

/** The emperor side: records defines and undefines; a vassal stops at once. */
class FakeEmperor implements FleetEmperor {
  readonly defined = new Set<string>();
  readonly stopped: string[] = [];
  monitor: FleetMonitor | undefined;

  async define(name: string): Promise<void> {
    this.defined.add(name);
  }
  undefine(name: string): void {
    this.defined.delete(name);
    this.stopped.push(name);
    setImmediate(() => this.monitor?.onVassalRemoved(name));
  }
  registerSource(): void {}
  vassal(name: string): unknown {
    return this.defined.has(name) ? {} : undefined;
  }
  snapshots(): readonly {name: string; pid: number}[] {
    return [];
  }
}

async function until(probe: () => boolean, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms;
  while (!probe()) {
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

describe('fleet monitor after its lease was revoked', () => {
  const NAME = 'app.toml';
  const CLAIM = `${PREFIX}/claims/${NAME}/0`;
  let dir: string;
  let store: MemoryStore;
  let emperor: FakeEmperor;
  let monitor: FleetMonitor;

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'kaiser-reclaim-'));
    store = new MemoryStore();
    emperor = new FakeEmperor();
    await store.put(`${PREFIX}/vassals/${NAME}`, 'exec = ["sleep", "1000"]\n');
    await store.put(`${PREFIX}/meta/${NAME}`, JSON.stringify({file: NAME, seq: 1, replicas: 1, hosts: [], tags: [], singleton: false, at: Date.now()}));
    monitor = new FleetMonitor({
      address: {endpoints: ['http://127.0.0.1:1'], prefix: PREFIX},
      hostId: 'a',
      tags: [],
      cap: 0,
      workDir: dir,
      ttlSeconds: 1,
      log: winston.createLogger({silent: true}),
      store,
    });
    emperor.monitor = monitor;
    monitor.start(emperor);
    await until(() => emperor.defined.has(`fleet:${NAME}`) && store.keys.has(CLAIM), 5_000, 'the replica claimed and running');
  });

  afterEach(async () => {
    await monitor.close();
    rmSync(dir, {recursive: true, force: true});
  });

  /** Revokes the monitor's lease and waits until it holds a new one and the claim is back under it. */
  async function revokeAndRecover(): Promise<void> {
    const old = store.keys.get(CLAIM)!.lease;
    store.revoke(old);
    await until(() => {
      const claim = store.keys.get(CLAIM);
      return claim !== undefined && claim.lease !== old && store.leases.has(claim.lease);
    }, 5_000, 'the replica claimed again under a new lease');
    // Give a wrong "lost" decision time to show.
    await new Promise((r) => setTimeout(r, 300));
  }

  it('keeps the replica when the re-claim transaction misses its deadline', async () => {
    store.claimFaults.push('before', 'before');
    await revokeAndRecover();
    expect(emperor.stopped).toEqual([]);
    expect(emperor.defined.has(`fleet:${NAME}`)).toBe(true);
  });

  it('keeps the replica when the re-claim was written but its answer was lost', async () => {
    store.claimFaults.push('after');
    await revokeAndRecover();
    expect(emperor.stopped).toEqual([]);
    expect(emperor.defined.has(`fleet:${NAME}`)).toBe(true);
  });

  it('keeps the replica while the watch still shows the claim of the revoked lease', async () => {
    store.lag();
    await revokeAndRecover();
    store.catchUp();
    await new Promise((r) => setTimeout(r, 300));
    expect(emperor.stopped).toEqual([]);
    expect(emperor.defined.has(`fleet:${NAME}`)).toBe(true);
  });

  it('still stops the replica when another emperor took it meanwhile', async () => {
    const old = store.keys.get(CLAIM)!.lease;
    store.lag();
    store.revoke(old);
    const other = await store.grantLease();
    await store.put(CLAIM, JSON.stringify({host: 'b', state: 'claimed', seq: 1, rev: 2, at: Date.now()}), {lease: other});
    store.catchUp();
    await until(() => emperor.stopped.length > 0, 5_000, 'our copy stopped');
    expect(emperor.stopped).toEqual([`fleet:${NAME}`]);
    expect(store.keys.get(CLAIM)!.lease).toBe(other);
  });
});
