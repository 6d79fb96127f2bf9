/**
 * The front's evictable connections (idle, or reading a head), oldest first: what the connection cap closes to make
 * room, as nginx's reusable-connections queue. A connection enters it and leaves it once per request, so it is a
 * doubly linked list through fields of the connections themselves: O(1), no allocation. (A `Set` did the same job,
 * but a delete and an add per request leave holes that make V8 rehash the set every few dozen requests: ~2 % of the
 * router's CPU under wrk, README "Gateways".)
 */

/** The links a queued item carries (owned by the queue: nothing else touches them). */
export interface EvictLinks<T> {
  evictPrev: T | undefined;
  evictNext: T | undefined;
  evictQueued: boolean;
}

export class EvictQueue<T extends EvictLinks<T>> {
  #oldest: T | undefined;
  #newest: T | undefined;
  #size = 0;

  get size(): number {
    return this.#size;
  }

  /** Puts `item` at the newest end (moving it there when it is queued already). */
  pushNewest(item: T): void {
    if (item.evictQueued) this.remove(item);
    item.evictQueued = true;
    item.evictPrev = this.#newest;
    item.evictNext = undefined;
    if (this.#newest === undefined) this.#oldest = item;
    else this.#newest.evictNext = item;
    this.#newest = item;
    this.#size += 1;
  }

  /** Takes `item` out; nothing when it is not queued. */
  remove(item: T): void {
    if (!item.evictQueued) return;
    const {evictPrev: prev, evictNext: next} = item;
    if (prev === undefined) this.#oldest = next;
    else prev.evictNext = next;
    if (next === undefined) this.#newest = prev;
    else next.evictPrev = prev;
    item.evictPrev = item.evictNext = undefined;
    item.evictQueued = false;
    this.#size -= 1;
  }

  /** Takes the oldest item out and returns it (undefined when empty). */
  shiftOldest(): T | undefined {
    const oldest = this.#oldest;
    if (oldest !== undefined) this.remove(oldest);
    return oldest;
  }
}
