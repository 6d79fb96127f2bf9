/**
 * kaiser's small view of etcd: get, put, delete, transactions, a prefix watch and leases, each with a deadline, over
 * the `etcd3` client. The client's own fault handling (retries, per-host circuit breakers that stay open for 5 s) is
 * switched off: this module owns failover. It keeps one client per endpoint and talks to one endpoint at a time;
 * a call that fails or misses its deadline moves to the next endpoint and tries again until the call's deadline.
 * A SIGSTOPped or partitioned member never answers, so nothing here waits without a deadline.
 *
 * The watch follows the current endpoint: when the endpoint changes or the stream breaks, it is re-created from the
 * revision after the last event seen, so no event is lost or repeated; a compacted start revision is reported so the
 * caller can read everything again.
 */
import etcd3 from 'etcd3';
import type {IKeyValue, IRequestOp, ICompare, IDuplexStream, IWatchRequest, IWatchResponse, ILeaseKeepAliveRequest, ILeaseKeepAliveResponse, Etcd3 as Etcd3Client} from 'etcd3';

/** A key as read. Revisions are numbers: a fleet does not reach 2^53 revisions. */
export interface StoredKey {
  readonly key: string;
  readonly value: Buffer;
  readonly createRevision: number;
  readonly modRevision: number;
  /** Lease id ('0' when none). */
  readonly lease: string;
}

/** One change seen by a watch. */
export interface StoreEvent {
  readonly type: 'put' | 'delete';
  readonly key: string;
  readonly value: Buffer;
  readonly modRevision: number;
  readonly lease: string;
}

/** A transaction condition. `create = 0` means "the key does not exist". */
export type StoreCompare =
  | {readonly key: string; readonly target: 'create' | 'mod'; readonly op: '=' | '!=' | '<' | '>'; readonly value: number}
  | {readonly key: string; readonly target: 'lease'; readonly op: '=' | '!='; readonly value: string};

/** A transaction operation. */
export type StoreOp =
  | {readonly op: 'put'; readonly key: string; readonly value: Buffer | string; readonly lease?: string}
  | {readonly op: 'delete'; readonly key: string; readonly prefix?: boolean};

export interface ReadResult {
  readonly kvs: StoredKey[];
  /** The store revision the read saw. */
  readonly revision: number;
}

export interface TxnResult {
  readonly succeeded: boolean;
  readonly revision: number;
}

/** Receives a watch's events. */
export interface WatchListener {
  /** Events of one or more revisions, in order. */
  onEvents(events: StoreEvent[]): void;
  /** The requested start revision was compacted: read everything again and watch from there. */
  onCompacted(compactRevision: number): void;
}

export interface StoreWatch {
  close(): void;
}

/** What the fleet needs from etcd; `EtcdStore` is the real one. */
export interface FleetStore {
  get(key: string, options?: {prefix?: boolean; deadlineMs?: number}): Promise<ReadResult>;
  put(key: string, value: Buffer | string, options?: {lease?: string; deadlineMs?: number}): Promise<number>;
  delete(key: string, options?: {prefix?: boolean; deadlineMs?: number}): Promise<number>;
  txn(compare: readonly StoreCompare[], success: readonly StoreOp[], failure?: readonly StoreOp[], options?: {deadlineMs?: number}): Promise<TxnResult>;
  /** Watches every key under `prefix` from `fromRevision` on. */
  watch(prefix: string, fromRevision: number, listener: WatchListener): StoreWatch;
  grantLease(ttlSeconds: number, options?: {deadlineMs?: number}): Promise<string>;
  /** Refreshes the lease; resolves with its remaining TTL in seconds, 0 when it no longer exists. */
  keepAlive(lease: string, options?: {deadlineMs?: number}): Promise<number>;
  revokeLease(lease: string, options?: {deadlineMs?: number}): Promise<void>;
  close(): void;
}

/** Default deadline of one call, across all endpoints it tries. */
export const DEFAULT_DEADLINE_MS = 3_000;
/** Deadline of one attempt on one endpoint: a live member answers in milliseconds. */
const ATTEMPT_MS = 1_000;
/** A watch stream that cannot be opened is retried this often. */
const WATCH_RETRY_MS = 250;

/** A call that did not complete: the store was unreachable or answered with an error. */
export class StoreUnavailableError extends Error {}

// The etcd3 client retries through cockatiel policies; a policy that just runs the call leaves failover to us. It must
// be async: the client marks a stream as failed by running a throwing function through it and catching the promise.
const passThrough = {execute: async <T>(fn: (context: unknown) => T): Promise<Awaited<T>> => await fn({signal: new AbortController().signal, attempt: 0})};

function prefixEnd(prefix: string): Buffer {
  const end = Buffer.from(prefix);
  for (let i = end.length - 1; i >= 0; i--) {
    if (end[i]! < 0xff) {
      end[i] = end[i]! + 1;
      return end.subarray(0, i + 1);
    }
  }
  return Buffer.from([0]);
}

function toStoredKey(kv: IKeyValue): StoredKey {
  return {key: kv.key.toString(), value: kv.value, createRevision: Number(kv.create_revision), modRevision: Number(kv.mod_revision), lease: kv.lease};
}

function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new StoreUnavailableError(`${what}: no answer within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

const COMPARE_RESULT = {'=': 'Equal', '!=': 'NotEqual', '<': 'Less', '>': 'Greater'} as const;

function toCompare(c: StoreCompare): ICompare {
  const base = {key: Buffer.from(c.key), result: COMPARE_RESULT[c.op]};
  switch (c.target) {
    case 'create':
      return {...base, target: 'Create', create_revision: c.value};
    case 'mod':
      return {...base, target: 'Mod', mod_revision: c.value};
    case 'lease':
      return {...base, target: 'Lease', lease: c.value};
    default: {
      const never: never = c;
      throw new Error(`Internal error: unknown compare ${JSON.stringify(never)}`);
    }
  }
}

function toRequestOp(o: StoreOp): IRequestOp {
  switch (o.op) {
    case 'put':
      return {request_put: {key: Buffer.from(o.key), value: Buffer.from(o.value), ...(o.lease ? {lease: o.lease} : {})}};
    case 'delete':
      return {request_delete_range: {key: Buffer.from(o.key), ...(o.prefix ? {range_end: prefixEnd(o.key)} : {})}};
    default: {
      const never: never = o;
      throw new Error(`Internal error: unknown op ${JSON.stringify(never)}`);
    }
  }
}

interface KeepAliveStream {
  stream: IDuplexStream<ILeaseKeepAliveRequest, ILeaseKeepAliveResponse>;
  endpoint: number;
  waiters: ((response: ILeaseKeepAliveResponse | Error) => void)[];
}

/** The real store: etcd v3 at `endpoints` (`http://HOST:PORT`). */
export class EtcdStore implements FleetStore {
  readonly #endpoints: readonly string[];
  readonly #clients: Etcd3Client[];
  #current = 0;
  #closed = false;
  readonly #endpointListeners = new Set<() => void>();
  #keepAliveStream: KeepAliveStream | undefined;

  readonly #deadlineMs: number;

  /** `deadlineMs`: of a call that names none (DEFAULT_DEADLINE_MS; the CLI, which nothing waits on, is more patient). */
  constructor(endpoints: readonly string[], options: {deadlineMs?: number} = {}) {
    if (endpoints.length === 0) throw new Error('Internal error: EtcdStore needs at least one endpoint');
    this.#endpoints = endpoints;
    this.#deadlineMs = options.deadlineMs ?? DEFAULT_DEADLINE_MS;
    this.#clients = endpoints.map(
      (hosts) =>
        new etcd3.Etcd3({
          hosts,
          dialTimeout: ATTEMPT_MS,
          faultHandling: {host: () => passThrough as never, global: passThrough as never},
          grpcOptions: {'grpc.keepalive_time_ms': 2_000, 'grpc.keepalive_timeout_ms': 1_000, 'grpc.initial_reconnect_backoff_ms': 100, 'grpc.max_reconnect_backoff_ms': 1_000},
        }),
    );
  }

  /** The endpoint talked to now (for logs). */
  get endpoint(): string {
    return this.#endpoints[this.#current]!;
  }

  /** Runs `fn` on the current endpoint, moving on to the next on failure, until `deadlineMs` has passed. */
  async #call<T>(what: string, deadlineMs: number, fn: (client: Etcd3Client, deadline: Date) => Promise<T>): Promise<T> {
    const end = Date.now() + deadlineMs;
    let last: unknown;
    for (let attempt = 0; ; attempt++) {
      if (this.#closed) throw new StoreUnavailableError(`${what}: store closed`);
      const remaining = end - Date.now();
      if (remaining <= 0 || (attempt >= this.#clients.length * 3 && last !== undefined)) break;
      const ms = Math.min(remaining, ATTEMPT_MS);
      const index = this.#current;
      try {
        return await withTimeout(fn(this.#clients[index]!, new Date(Date.now() + ms)), ms + 50, what);
      } catch (error) {
        if (isApplicationError(error)) throw error;
        last = error;
        this.#moveOn(index);
      }
    }
    throw new StoreUnavailableError(`${what}: etcd unavailable (${last instanceof Error ? last.message : String(last)})`);
  }

  /** The endpoint at `failed` did not answer: use the next one (unless someone moved on already). */
  #moveOn(failed: number): void {
    if (this.#current !== failed || this.#clients.length === 1) return;
    this.#current = (failed + 1) % this.#clients.length;
    for (const listener of this.#endpointListeners) listener();
  }

  async get(key: string, options: {prefix?: boolean; deadlineMs?: number} = {}): Promise<ReadResult> {
    return this.#call('get', options.deadlineMs ?? this.#deadlineMs, async (client, deadline) => {
      const res = await client.kv.range({key: Buffer.from(key), ...(options.prefix ? {range_end: prefixEnd(key)} : {})}, {deadline});
      return {kvs: res.kvs.map(toStoredKey), revision: Number(res.header.revision)};
    });
  }

  async put(key: string, value: Buffer | string, options: {lease?: string; deadlineMs?: number} = {}): Promise<number> {
    return this.#call('put', options.deadlineMs ?? this.#deadlineMs, async (client, deadline) => {
      const res = await client.kv.put({key: Buffer.from(key), value: Buffer.from(value), ...(options.lease ? {lease: options.lease} : {})}, {deadline});
      return Number(res.header.revision);
    });
  }

  async delete(key: string, options: {prefix?: boolean; deadlineMs?: number} = {}): Promise<number> {
    return this.#call('delete', options.deadlineMs ?? this.#deadlineMs, async (client, deadline) => {
      const res = await client.kv.deleteRange({key: Buffer.from(key), ...(options.prefix ? {range_end: prefixEnd(key)} : {})}, {deadline});
      return Number(res.deleted);
    });
  }

  async txn(compare: readonly StoreCompare[], success: readonly StoreOp[], failure: readonly StoreOp[] = [], options: {deadlineMs?: number} = {}): Promise<TxnResult> {
    return this.#call('txn', options.deadlineMs ?? this.#deadlineMs, async (client, deadline) => {
      const res = await client.kv.txn({compare: compare.map(toCompare), success: success.map(toRequestOp), failure: failure.map(toRequestOp)}, {deadline});
      return {succeeded: res.succeeded, revision: Number(res.header.revision)};
    });
  }

  async grantLease(ttlSeconds: number, options: {deadlineMs?: number} = {}): Promise<string> {
    return this.#call('lease grant', options.deadlineMs ?? this.#deadlineMs, async (client, deadline) => {
      const res = await client.leaseClient.leaseGrant({TTL: ttlSeconds}, {deadline});
      return res.ID;
    });
  }

  async revokeLease(lease: string, options: {deadlineMs?: number} = {}): Promise<void> {
    try {
      await this.#call('lease revoke', options.deadlineMs ?? this.#deadlineMs, async (client, deadline) => {
        await client.leaseClient.leaseRevoke({ID: lease}, {deadline});
      });
    } catch (error) {
      if (!(error instanceof etcd3.EtcdLeaseInvalidError)) throw error;
    }
  }

  async keepAlive(lease: string, options: {deadlineMs?: number} = {}): Promise<number> {
    return this.#call('lease keepalive', options.deadlineMs ?? this.#deadlineMs, async (_client, deadline) => {
      const ka = await this.#keepAliveStreamFor(this.#current);
      const answer = new Promise<ILeaseKeepAliveResponse | Error>((resolve) => ka.waiters.push(resolve));
      ka.stream.write({ID: lease});
      try {
        const res = await withTimeout(answer, Math.max(1, deadline.getTime() - Date.now()), 'lease keepalive');
        if (res instanceof Error) throw res;
        return Number(res.TTL);
      } catch (error) {
        // A stream that missed a beat may be stuck on a stopped member: open a fresh one next time.
        this.#dropKeepAliveStream(ka);
        throw error;
      }
    });
  }

  async #keepAliveStreamFor(endpoint: number): Promise<KeepAliveStream> {
    const current = this.#keepAliveStream;
    if (current && current.endpoint === endpoint) return current;
    if (current) this.#dropKeepAliveStream(current);
    const stream = await withTimeout(this.#clients[endpoint]!.leaseClient.leaseKeepAlive(), ATTEMPT_MS, 'lease keepalive stream');
    const ka: KeepAliveStream = {stream, endpoint, waiters: []};
    stream.on('data', (res: ILeaseKeepAliveResponse) => ka.waiters.shift()?.(res));
    const broken = (error: unknown) => {
      for (const waiter of ka.waiters.splice(0)) waiter(error instanceof Error ? error : new StoreUnavailableError('keepalive stream ended'));
      if (this.#keepAliveStream === ka) this.#keepAliveStream = undefined;
    };
    stream.on('error', broken);
    stream.on('end', () => broken(undefined));
    this.#keepAliveStream = ka;
    return ka;
  }

  #dropKeepAliveStream(ka: KeepAliveStream): void {
    if (this.#keepAliveStream === ka) this.#keepAliveStream = undefined;
    try {
      ka.stream.cancel();
    } catch {
      // already gone
    }
  }

  watch(prefix: string, fromRevision: number, listener: WatchListener): StoreWatch {
    let next = fromRevision;
    let closed = false;
    let stream: IDuplexStream<IWatchRequest, IWatchResponse> | undefined;
    let retry: NodeJS.Timeout | undefined;
    let generation = 0;
    const stop = () => {
      generation++;
      const s = stream;
      stream = undefined;
      if (s) {
        try {
          s.cancel();
        } catch {
          // already gone
        }
      }
    };
    const open = async (): Promise<void> => {
      if (closed || this.#closed) return;
      const mine = ++generation;
      const endpoint = this.#current;
      try {
        const s = await withTimeout(this.#clients[endpoint]!.watchClient.watch(), ATTEMPT_MS, 'watch');
        if (mine !== generation || closed) {
          s.cancel();
          return;
        }
        stream = s;
        const restart = () => {
          if (mine !== generation || closed) return;
          stop();
          this.#moveOn(endpoint);
          retry = setTimeout(() => void open(), WATCH_RETRY_MS);
        };
        s.on('data', (res: IWatchResponse) => {
          if (mine !== generation) return;
          if (res.canceled) {
            const compacted = Number(res.compact_revision);
            if (compacted > 0) {
              stop();
              listener.onCompacted(compacted);
              return;
            }
            restart();
            return;
          }
          if (res.events.length === 0) return;
          const events = res.events.map((e): StoreEvent => ({
            type: e.type === 'Delete' ? 'delete' : 'put',
            key: e.kv.key.toString(),
            value: e.kv.value,
            modRevision: Number(e.kv.mod_revision),
            lease: e.kv.lease,
          }));
          next = Math.max(next, events[events.length - 1]!.modRevision + 1);
          listener.onEvents(events);
        });
        s.on('error', restart);
        s.on('end', restart);
        s.write({create_request: {key: Buffer.from(prefix), range_end: prefixEnd(prefix), start_revision: next}});
      } catch {
        if (mine !== generation || closed) return;
        this.#moveOn(endpoint);
        retry = setTimeout(() => void open(), WATCH_RETRY_MS);
      }
    };
    // Follow the endpoint: a member that stopped answering unary calls will not deliver events either.
    const onEndpoint = () => {
      if (closed) return;
      stop();
      clearTimeout(retry);
      void open();
    };
    this.#endpointListeners.add(onEndpoint);
    void open();
    return {
      close: () => {
        closed = true;
        clearTimeout(retry);
        this.#endpointListeners.delete(onEndpoint);
        stop();
      },
    };
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#keepAliveStream) this.#dropKeepAliveStream(this.#keepAliveStream);
    for (const client of this.#clients) client.close();
  }
}

/** Errors that are an answer, not a failure of the endpoint: trying elsewhere would not help. */
function isApplicationError(error: unknown): boolean {
  return error instanceof etcd3.EtcdLeaseInvalidError;
}
