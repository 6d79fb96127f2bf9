/**
 * The dashboard's memory of every vassal: CPU and RSS over the last 15 minutes in fixed-size rings of typed arrays
 * (450 samples at one every 2 s), and the last transitions (restarts, exits, reloads). Bounded whatever happens:
 * a ring never grows, a vassal missing from a sample is forgotten, and each vassal keeps at most
 * TRANSITIONS_PER_VASSAL transitions. One 5950-byte buffer per vassal (plus its exit messages): 6 MB for 1000.
 */

/** How often the dashboard samples the emperor's accounting. */
export const SAMPLE_INTERVAL_MS = 2_000;
/** 15 minutes of samples at one every 2 s. */
export const SAMPLES_PER_VASSAL = 450;
/** Transitions (state changes, exits) kept per vassal. */
export const TRANSITIONS_PER_VASSAL = 50;

/** What one sample needs of a vassal (a `kaiser ls` row fits). */
export interface VassalUsage {
  readonly name: string;
  /** Percent of one core. */
  readonly cpu: number;
  /** Bytes. */
  readonly rss: number;
}

/** One state change of a vassal as the page shows it. */
export interface HistoryTransition {
  /** Unix milliseconds. */
  at: number;
  from: string;
  to: string;
  event: string;
  /** The vassal's last error at the time, for exits. */
  error?: string;
}

/** The samples of one vassal, oldest first: parallel arrays. */
export interface UsageSeries {
  /** Unix milliseconds (second resolution). */
  at: number[];
  /** Percent of one core. */
  cpu: number[];
  /** Bytes (KiB resolution). */
  rss: number[];
}

const SAMPLE_BYTES = SAMPLES_PER_VASSAL * 12;
const TRANSITION_BYTES = TRANSITIONS_PER_VASSAL * 11;

/**
 * One vassal's history in one ArrayBuffer: three sample columns (4 bytes each), then a ring of transitions (time as
 * a float64, from/to/event as codes of the history's word table). Errors, rarer, sit in an array made on first use.
 */
class Ring {
  readonly #buffer = new ArrayBuffer(SAMPLE_BYTES + TRANSITION_BYTES);
  readonly atSeconds = new Uint32Array(this.#buffer, 0, SAMPLES_PER_VASSAL);
  readonly cpu = new Float32Array(this.#buffer, SAMPLES_PER_VASSAL * 4, SAMPLES_PER_VASSAL);
  readonly rssKiB = new Uint32Array(this.#buffer, SAMPLES_PER_VASSAL * 8, SAMPLES_PER_VASSAL);
  readonly transitionAt = new Float64Array(this.#buffer, SAMPLE_BYTES, TRANSITIONS_PER_VASSAL);
  /** from, to, event per transition. */
  readonly transitionWords = new Uint8Array(this.#buffer, SAMPLE_BYTES + TRANSITIONS_PER_VASSAL * 8, TRANSITIONS_PER_VASSAL * 3);
  transitionErrors: (string | undefined)[] | undefined;
  /** Where the next sample goes. */
  next = 0;
  size = 0;
  nextTransition = 0;
  transitionCount = 0;
  /** The sample generation that last saw this vassal. */
  generation = 0;
}

/** States and events are a few words: each is stored as its index in this table (255 stands for any other). */
class WordTable {
  readonly #codes = new Map<string, number>();
  readonly #words: string[] = [];

  code(word: string): number {
    let code = this.#codes.get(word);
    if (code === undefined) {
      if (this.#words.length >= 255) return 255;
      code = this.#words.length;
      this.#words.push(word);
      this.#codes.set(word, code);
    }
    return code;
  }

  word(code: number): string {
    return this.#words[code] ?? '?';
  }
}

const MAX_KIB = 0xffff_ffff;

/** Bounded per-vassal usage and transition history. */
export class VassalHistory {
  readonly #rings = new Map<string, Ring>();
  readonly #words = new WordTable();
  #generation = 0;

  /** Records one sample of every vassal at `atMs`; vassals absent from `usages` are forgotten. */
  record(atMs: number, usages: Iterable<VassalUsage>): void {
    const generation = ++this.#generation;
    const atSeconds = Math.max(0, Math.floor(atMs / 1000));
    for (const usage of usages) {
      const ring = this.#ring(usage.name);
      ring.generation = generation;
      const i = ring.next;
      ring.atSeconds[i] = atSeconds;
      ring.cpu[i] = Number.isFinite(usage.cpu) ? usage.cpu : 0;
      ring.rssKiB[i] = Math.min(MAX_KIB, Math.max(0, Math.round(usage.rss / 1024)));
      ring.next = (i + 1) % SAMPLES_PER_VASSAL;
      ring.size = Math.min(SAMPLES_PER_VASSAL, ring.size + 1);
    }
    for (const [name, ring] of this.#rings) if (ring.generation !== generation) this.#rings.delete(name);
  }

  /** Records a transition of `vassal` (a vassal not sampled yet is remembered until the next sample). */
  recordTransition(vassal: string, transition: HistoryTransition): void {
    const ring = this.#ring(vassal);
    ring.generation = this.#generation;
    const i = ring.nextTransition;
    ring.transitionAt[i] = transition.at;
    ring.transitionWords[i * 3] = this.#words.code(transition.from);
    ring.transitionWords[i * 3 + 1] = this.#words.code(transition.to);
    ring.transitionWords[i * 3 + 2] = this.#words.code(transition.event);
    if (transition.error !== undefined || ring.transitionErrors !== undefined) {
      ring.transitionErrors ??= [];
      ring.transitionErrors[i] = transition.error;
    }
    ring.nextTransition = (i + 1) % TRANSITIONS_PER_VASSAL;
    ring.transitionCount = Math.min(TRANSITIONS_PER_VASSAL, ring.transitionCount + 1);
  }

  /** The samples of `vassal`, oldest first (empty arrays for an unknown vassal). */
  samples(vassal: string): UsageSeries {
    const ring = this.#rings.get(vassal);
    const series: UsageSeries = {at: [], cpu: [], rss: []};
    if (ring === undefined) return series;
    const start = (ring.next - ring.size + SAMPLES_PER_VASSAL) % SAMPLES_PER_VASSAL;
    for (let k = 0; k < ring.size; k++) {
      const i = (start + k) % SAMPLES_PER_VASSAL;
      series.at.push(ring.atSeconds[i]! * 1000);
      series.cpu.push(Math.round(ring.cpu[i]! * 10) / 10);
      series.rss.push(ring.rssKiB[i]! * 1024);
    }
    return series;
  }

  /** The last transitions of `vassal`, oldest first. */
  transitions(vassal: string): HistoryTransition[] {
    const ring = this.#rings.get(vassal);
    if (ring === undefined) return [];
    const list: HistoryTransition[] = [];
    const start = (ring.nextTransition - ring.transitionCount + TRANSITIONS_PER_VASSAL) % TRANSITIONS_PER_VASSAL;
    for (let k = 0; k < ring.transitionCount; k++) {
      const i = (start + k) % TRANSITIONS_PER_VASSAL;
      const error = ring.transitionErrors?.[i];
      list.push({
        at: ring.transitionAt[i]!,
        from: this.#words.word(ring.transitionWords[i * 3]!),
        to: this.#words.word(ring.transitionWords[i * 3 + 1]!),
        event: this.#words.word(ring.transitionWords[i * 3 + 2]!),
        ...(error === undefined ? {} : {error}),
      });
    }
    return list;
  }

  /** How many vassals have a history. */
  get size(): number {
    return this.#rings.size;
  }

  #ring(name: string): Ring {
    let ring = this.#rings.get(name);
    if (ring === undefined) {
      ring = new Ring();
      this.#rings.set(name, ring);
    }
    return ring;
  }
}
