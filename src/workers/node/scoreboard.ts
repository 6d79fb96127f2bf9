/**
 * This worker's slot of the master's scoreboard (docs/runtime-protocol.md §3, "Scoreboard"). The master maps
 * the memfd; an exec'd Node worker cannot, so it keeps the slot in a Buffer and `pwrite`s all of it
 * (`fs.writeSync(fd, buf, 0, len, offset)`) whenever a request starts or ends. Only this worker writes the slot.
 *
 * Cores. Node serves many requests concurrently on one thread, while the slot has `threads` cores, each with
 * one "request start" field the master uses for harakiri. Each request is assigned to the core with the fewest
 * in-flight requests (lowest index on ties), so with threads = N the first N concurrent requests get a core of
 * their own. A core's start field is the start time of its OLDEST in-flight request (0 when it has none): a
 * request stuck past `harakiri` is seen even while newer requests on the same core come and go. With the
 * default threads = 1 everything is on core 0.
 */
import {writeSync} from 'node:fs';

const HEADER_SIZE = 64;
const CORE_SIZE = 32;

/** Handle of one in-flight request, returned by {@link Scoreboard.begin} and given back to `end`. */
export interface CoreTicket {
  /** The core index this request is accounted on (logged as "on core N"). */
  readonly core: number;
  /** Request start, unix seconds. */
  readonly startedAt: number;
}

/** What one finished request adds to the counters. */
export interface RequestOutcome {
  /** Duration in microseconds. */
  readonly durationUs: number;
  /** Bytes sent (response head + body). */
  readonly txBytes: number;
  /** The app raised (handler threw/rejected, bad Response, body stream failed). */
  readonly exception: boolean;
  /** The client went away before the request body was read. */
  readonly readError: boolean;
  /** The client went away while the response was being written. */
  readonly writeError: boolean;
}

/** Slot size for a given `threads`, as the master lays it out. */
export function slotSize(threads: number): number {
  return HEADER_SIZE + threads * CORE_SIZE;
}

/** Offset of worker `id`'s slot (1-based id); the master passes it as `KAISER_SCOREBOARD_OFFSET`. */
export function slotOffset(id: number, threads: number): number {
  return 64 + (id - 1) * slotSize(threads);
}

/** The worker's slot and the in-flight bookkeeping behind its core fields. */
export class Scoreboard {
  private readonly slot: Buffer;
  private readonly inFlight: Set<CoreTicket>[];
  private requests = 0;
  private exceptions = 0;
  private txBytes = 0;
  private runningUs = 0;
  private readonly coreRequests: number[];
  private readonly readErrors: number[];
  private readonly writeErrors: number[];
  private disabled: boolean;

  /**
   * @param fd scoreboard memfd, or undefined to only do the bookkeeping (a worker started by hand)
   * @param offset this worker's slot offset (`KAISER_SCOREBOARD_OFFSET`)
   * @param threads cores of the slot (`threads` option)
   * @param onWriteError called once if the slot cannot be written; further writes are skipped
   */
  constructor(
    private readonly fd: number | undefined,
    private readonly offset: number,
    readonly threads: number,
    private readonly onWriteError: (err: Error) => void = () => undefined,
  ) {
    this.slot = Buffer.alloc(slotSize(threads));
    this.inFlight = Array.from({length: threads}, () => new Set<CoreTicket>());
    this.coreRequests = new Array<number>(threads).fill(0);
    this.readErrors = new Array<number>(threads).fill(0);
    this.writeErrors = new Array<number>(threads).fill(0);
    this.disabled = fd === undefined;
  }

  /** Requests finished since spawn. */
  get requestCount(): number {
    return this.requests;
  }

  /** Requests currently being served. */
  get inFlightCount(): number {
    return this.inFlight.reduce((n, set) => n + set.size, 0);
  }

  /** Zeroes the slot (a respawned worker id reuses its predecessor's slot). */
  reset(): void {
    this.flush();
  }

  /** Sets the `accepting` flag (1 while the worker accepts connections). */
  setAccepting(accepting: boolean): void {
    this.slot.writeUInt32LE(accepting ? 1 : 0, 40);
    this.flush();
  }

  /** A request starts: picks its core and publishes the core's start time. */
  begin(startedAt: number = Date.now() / 1000): CoreTicket {
    let core = 0;
    for (let i = 1; i < this.threads; i++) if (this.inFlight[i]!.size < this.inFlight[core]!.size) core = i;
    const ticket: CoreTicket = {core, startedAt};
    this.inFlight[core]!.add(ticket);
    this.writeCore(core);
    this.flush();
    return ticket;
  }

  /** A request ended (finished or aborted): updates every counter and the core's start time. */
  end(ticket: CoreTicket, outcome: RequestOutcome): void {
    const set = this.inFlight[ticket.core]!;
    if (!set.delete(ticket)) return; // already ended
    this.requests++;
    this.coreRequests[ticket.core]!++;
    if (outcome.exception) this.exceptions++;
    if (outcome.readError) this.readErrors[ticket.core]!++;
    if (outcome.writeError) this.writeErrors[ticket.core]!++;
    this.txBytes += outcome.txBytes;
    this.runningUs += Math.max(0, Math.round(outcome.durationUs));
    this.writeHeader();
    this.writeCore(ticket.core);
    this.flush();
  }

  /** An exception not tied to a request (uncaught exception, unhandled rejection). */
  countException(): void {
    this.exceptions++;
    this.writeHeader();
    this.flush();
  }

  private writeHeader(): void {
    const s = this.slot;
    s.writeBigUInt64LE(BigInt(this.requests), 0);
    s.writeBigUInt64LE(BigInt(this.exceptions), 8);
    s.writeBigUInt64LE(BigInt(this.txBytes), 16);
    s.writeBigUInt64LE(BigInt(this.runningUs), 24);
    // avg_rt: the mean request duration since spawn, in µs.
    s.writeBigUInt64LE(BigInt(this.requests === 0 ? 0 : Math.round(this.runningUs / this.requests)), 32);
  }

  private writeCore(core: number): void {
    const base = HEADER_SIZE + core * CORE_SIZE;
    let oldest = 0;
    for (const t of this.inFlight[core]!) if (oldest === 0 || t.startedAt < oldest) oldest = t.startedAt;
    this.slot.writeDoubleLE(oldest, base);
    this.slot.writeBigUInt64LE(BigInt(this.coreRequests[core]!), base + 8);
    this.slot.writeUInt32LE(this.readErrors[core]! >>> 0, base + 16);
    this.slot.writeUInt32LE(this.writeErrors[core]! >>> 0, base + 20);
  }

  private flush(): void {
    if (this.disabled || this.fd === undefined) return;
    try {
      writeSync(this.fd, this.slot, 0, this.slot.length, this.offset);
    } catch (err) {
      this.disabled = true;
      this.onWriteError(err as Error);
    }
  }
}
