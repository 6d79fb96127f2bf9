/**
 * Bounded spawn concurrency: at most N vassals are between "spawned" and "ready" at once, so dropping a thousand
 * files does not start a thousand interpreters on two cores at the same instant. FIFO; cancellable.
 */
export class SpawnSlots {
  readonly #limit: number;
  #inUse = 0;
  readonly #queue: (() => void)[] = [];

  constructor(limit: number) {
    this.#limit = Math.max(1, limit);
  }

  /** Calls `grant` as soon as a slot is free (maybe synchronously). Returns a cancel function. */
  request(grant: () => void): () => void {
    if (this.#inUse < this.#limit) {
      this.#inUse += 1;
      grant();
      return () => undefined;
    }
    let cancelled = false;
    const entry = () => {
      if (!cancelled) grant();
    };
    this.#queue.push(entry);
    return () => {
      cancelled = true;
      const at = this.#queue.indexOf(entry);
      if (at >= 0) this.#queue.splice(at, 1);
    };
  }

  /** Frees a slot, handing it to the next in line. */
  release(): void {
    const next = this.#queue.shift();
    if (next) next();
    else this.#inUse = Math.max(0, this.#inUse - 1);
  }

  get waiting(): number {
    return this.#queue.length;
  }
}
