/**
 * The recent output of every vassal, for `kaiser logs [NAME] [-n K] [-f]`: a bounded ring of lines per vassal plus the
 * followers of each, and one ring of the latest lines of all vassals in arrival order (for `kaiser logs` without a
 * name, which interleaves them). The emperor appends every output line; memory stays bounded by LINES_PER_VASSAL ×
 * MAX_LINE_CHARS per vassal whatever a vassal prints (the shared ring holds references to the same strings). A
 * follower that throws is dropped, never the emperor's output path.
 */

/** Lines kept per vassal. */
export const LINES_PER_VASSAL = 100;
/** Lines of all vassals kept in arrival order. */
export const LINES_OF_ALL = 1_000;

/** `[shop.ini] the line`: how the emperor's log, and `kaiser logs` for every vassal, prefix a vassal's output. */
export function prefixed(vassal: string, line: string): string {
  return `[${vassal}] ${line}`;
}
/** A longer line is cut (with a marker), so one runaway line cannot use the whole budget. */
const MAX_LINE_CHARS = 8 * 1024;

interface Page {
  readonly lines: string[];
  /** Index of the oldest line once the ring is full. */
  start: number;
  /** Made on the first `follow` (most vassals are never followed). */
  followers: Set<(line: string) => void> | undefined;
}

/** Recent output lines per vassal, and live followers. */
export class VassalLogBook {
  readonly #pages = new Map<string, Page>();
  readonly #capacity: number;
  /** The latest lines of all vassals, oldest at `#allStart` once full: vassal names and lines side by side. */
  readonly #allNames: string[] = [];
  readonly #allLines: string[] = [];
  #allStart = 0;
  readonly #allCapacity: number;
  #allFollowers: Set<(vassal: string, line: string) => void> | undefined;

  constructor(capacity: number = LINES_PER_VASSAL, allCapacity: number = LINES_OF_ALL) {
    this.#capacity = capacity;
    this.#allCapacity = allCapacity;
  }

  /** Records one line of `vassal` and hands it to its followers. */
  append(vassal: string, line: string): void {
    const page = this.#page(vassal);
    const kept = line.length > MAX_LINE_CHARS ? `${line.slice(0, MAX_LINE_CHARS)} …[cut]` : line;
    if (page.lines.length < this.#capacity) page.lines.push(kept);
    else {
      page.lines[page.start] = kept;
      page.start = (page.start + 1) % this.#capacity;
    }
    for (const follower of page.followers ?? []) {
      try {
        follower(kept);
      } catch {
        page.followers?.delete(follower);
      }
    }
    if (this.#allNames.length < this.#allCapacity) {
      this.#allNames.push(vassal);
      this.#allLines.push(kept);
    } else {
      this.#allNames[this.#allStart] = vassal;
      this.#allLines[this.#allStart] = kept;
      this.#allStart = (this.#allStart + 1) % this.#allCapacity;
    }
    for (const follower of this.#allFollowers ?? []) {
      try {
        follower(vassal, kept);
      } catch {
        this.#allFollowers?.delete(follower);
      }
    }
  }

  /** The last `count` lines of all vassals in the order they arrived, each prefixed with its vassal's name. */
  tailAll(count: number): string[] {
    if (count <= 0) return [];
    const order = [...this.#allNames.keys()].map((i) => (this.#allStart + i) % this.#allNames.length);
    return order.slice(-count).map((i) => prefixed(this.#allNames[i] ?? '', this.#allLines[i] ?? ''));
  }

  /** Calls `onLine` for each new line of any vassal; returns the unsubscribe function. */
  followAll(onLine: (vassal: string, line: string) => void): () => void {
    this.#allFollowers ??= new Set();
    this.#allFollowers.add(onLine);
    return () => {
      this.#allFollowers?.delete(onLine);
    };
  }

  /** The last `count` lines of `vassal`, oldest first (empty for a vassal that printed nothing). */
  tail(vassal: string, count: number): string[] {
    const page = this.#pages.get(vassal);
    if (page === undefined || count <= 0) return [];
    const ordered = [...page.lines.slice(page.start), ...page.lines.slice(0, page.start)];
    return ordered.slice(-count);
  }

  /** Calls `onLine` for each new line of `vassal`; returns the unsubscribe function. */
  follow(vassal: string, onLine: (line: string) => void): () => void {
    const page = this.#page(vassal);
    page.followers ??= new Set();
    page.followers.add(onLine);
    return () => {
      page.followers?.delete(onLine);
    };
  }

  /** Drops a removed vassal's lines (its followers are kept until they unsubscribe). */
  forget(vassal: string): void {
    const page = this.#pages.get(vassal);
    if (page === undefined) return;
    if (!page.followers?.size) this.#pages.delete(vassal);
    else {
      page.lines.length = 0;
      page.start = 0;
    }
  }

  #page(vassal: string): Page {
    let page = this.#pages.get(vassal);
    if (page === undefined) {
      page = {lines: [], start: 0, followers: undefined};
      this.#pages.set(vassal, page);
    }
    return page;
  }
}
