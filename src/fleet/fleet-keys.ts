/**
 * The fleet's key layout in etcd and the records stored under it. Everything lives below one prefix P:
 *
 *   P/vassals/NAME          the vassal file, byte for byte as given to `kaiser fleet put`
 *   P/meta/NAME             VassalMeta (JSON): placement (replicas, hosts, tags, singleton) and the history sequence
 *   P/history/NAME/SEQ      HistoryEntry (JSON): every version ever put, so `fleet rollback` survives etcd compaction
 *   P/hosts/HOST            HostRecord (JSON), attached to the emperor's lease: present = the emperor is alive
 *   P/claims/NAME/INDEX     ClaimRecord (JSON), attached to the holder's lease: replica INDEX of NAME runs on HOST
 *   P/drained/HOST          present = `fleet drain HOST` asked that nothing runs there
 *
 * Records are parsed defensively: a record written by a newer kaiser, or by hand, becomes `undefined`, not a crash.
 */

/** What an operator asked about where a vassal runs. */
export interface VassalMeta {
  /** The file name as put (`shop.toml`): also the vassal's name in the fleet. */
  readonly file: string;
  /** History sequence of the current version (1, 2, …). */
  readonly seq: number;
  readonly replicas: number;
  /** Only these emperors (host ids); empty = any. */
  readonly hosts: readonly string[];
  /** Only emperors having every one of these tags; empty = any. */
  readonly tags: readonly string[];
  /** At most one copy ever, even across a partition: stopped when the lease cannot be confirmed. */
  readonly singleton: boolean;
  /** Unix ms of the put. */
  readonly at: number;
}

/** One stored version of a vassal. */
export interface HistoryEntry {
  readonly seq: number;
  readonly text: string;
  readonly meta: VassalMeta;
  /** `put` or `rollback to N`. */
  readonly cause: string;
}

/** An emperor of the fleet, as it announces itself. */
export interface HostRecord {
  readonly hostId: string;
  readonly tags: readonly string[];
  /** Hard limit of replicas this emperor takes (0 = no limit). */
  readonly cap: number;
  readonly pid: number;
  readonly startedAt: number;
}

/** Replica state as reported by its holder. */
export interface ClaimRecord {
  readonly host: string;
  /** The vassal's state id (`starting`, `ready`, `backoff`…), or `claimed` before the emperor saw it. */
  readonly state: string;
  /** History sequence the replica runs. */
  readonly seq: number;
  /** etcd mod revision of the vassal file the replica runs. */
  readonly rev: number;
  /** Unix ms of the state change. */
  readonly at: number;
}

/** Key builder for one prefix. */
export class FleetKeys {
  readonly prefix: string;

  constructor(prefix: string) {
    this.prefix = prefix;
  }

  /** The whole fleet (watched by emperors). */
  get all(): string {
    return `${this.prefix}/`;
  }
  vassals(): string {
    return `${this.prefix}/vassals/`;
  }
  vassal(name: string): string {
    return `${this.prefix}/vassals/${name}`;
  }
  meta(name: string): string {
    return `${this.prefix}/meta/${name}`;
  }
  metas(): string {
    return `${this.prefix}/meta/`;
  }
  history(name: string): string {
    return `${this.prefix}/history/${name}/`;
  }
  historyEntry(name: string, seq: number): string {
    return `${this.prefix}/history/${name}/${String(seq).padStart(8, '0')}`;
  }
  hosts(): string {
    return `${this.prefix}/hosts/`;
  }
  host(hostId: string): string {
    return `${this.prefix}/hosts/${hostId}`;
  }
  claims(name?: string): string {
    return name === undefined ? `${this.prefix}/claims/` : `${this.prefix}/claims/${name}/`;
  }
  claim(name: string, index: number): string {
    return `${this.prefix}/claims/${name}/${index}`;
  }
  drained(hostId?: string): string {
    return hostId === undefined ? `${this.prefix}/drained/` : `${this.prefix}/drained/${hostId}`;
  }

  /** Which record a key of this fleet is, or undefined for keys kaiser does not know. */
  classify(key: string): FleetKey | undefined {
    if (!key.startsWith(this.all)) return undefined;
    const parts = key.slice(this.all.length).split('/');
    const [kind, a, b] = parts;
    if (a === undefined || a === '') return undefined;
    switch (kind) {
      case 'vassals':
        return parts.length === 2 ? {kind: 'vassal', name: a} : undefined;
      case 'meta':
        return parts.length === 2 ? {kind: 'meta', name: a} : undefined;
      case 'hosts':
        return parts.length === 2 ? {kind: 'host', hostId: a} : undefined;
      case 'drained':
        return parts.length === 2 ? {kind: 'drained', hostId: a} : undefined;
      case 'claims': {
        const index = Number(b);
        return parts.length === 3 && Number.isInteger(index) && index >= 0 ? {kind: 'claim', name: a, index} : undefined;
      }
      case 'history':
        return {kind: 'history', name: a};
      case undefined: // never (split yields at least one part), but the index type cannot know
      default:
        return undefined;
    }
  }
}

/** A classified key. */
export type FleetKey =
  | {kind: 'vassal'; name: string}
  | {kind: 'meta'; name: string}
  | {kind: 'host'; hostId: string}
  | {kind: 'drained'; hostId: string}
  | {kind: 'claim'; name: string; index: number}
  | {kind: 'history'; name: string};

/** Fleet vassal names are file names: letters, digits, `.`, `_`, `-`, ending in .ini or .toml. */
export function isFleetVassalName(name: string): boolean {
  return /^[A-Za-z0-9][\w.-]*\.(ini|toml)$/.test(name);
}

/** Host ids and tags: letters, digits, `.`, `_`, `-`. */
export function isFleetWord(word: string): boolean {
  return /^[\w.-]+$/.test(word);
}

function parseJson(bytes: Buffer | string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(bytes.toString());
    return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

const words = (value: unknown): string[] => (Array.isArray(value) ? value.filter((w): w is string => typeof w === 'string') : []);
const num = (value: unknown, fallback: number): number => (typeof value === 'number' && Number.isFinite(value) ? value : fallback);

/** Reads a VassalMeta record. */
export function parseVassalMeta(bytes: Buffer | string): VassalMeta | undefined {
  const o = parseJson(bytes);
  if (o === undefined || typeof o['file'] !== 'string') return undefined;
  return {
    file: o['file'],
    seq: num(o['seq'], 0),
    replicas: Math.max(0, Math.floor(num(o['replicas'], 1))),
    hosts: words(o['hosts']),
    tags: words(o['tags']),
    singleton: o['singleton'] === true,
    at: num(o['at'], 0),
  };
}

/** Reads a HistoryEntry record. */
export function parseHistoryEntry(bytes: Buffer | string): HistoryEntry | undefined {
  const o = parseJson(bytes);
  const meta = o && typeof o['meta'] === 'object' ? parseVassalMeta(JSON.stringify(o['meta'])) : undefined;
  if (o === undefined || meta === undefined || typeof o['text'] !== 'string') return undefined;
  return {seq: num(o['seq'], meta.seq), text: o['text'], meta, cause: typeof o['cause'] === 'string' ? o['cause'] : 'put'};
}

/** Reads a HostRecord. */
export function parseHostRecord(bytes: Buffer | string): HostRecord | undefined {
  const o = parseJson(bytes);
  if (o === undefined || typeof o['hostId'] !== 'string') return undefined;
  return {hostId: o['hostId'], tags: words(o['tags']), cap: num(o['cap'], 0), pid: num(o['pid'], 0), startedAt: num(o['startedAt'], 0)};
}

/** Reads a ClaimRecord. */
export function parseClaimRecord(bytes: Buffer | string): ClaimRecord | undefined {
  const o = parseJson(bytes);
  if (o === undefined || typeof o['host'] !== 'string') return undefined;
  return {
    host: o['host'],
    state: typeof o['state'] === 'string' ? o['state'] : 'claimed',
    seq: num(o['seq'], 0),
    rev: num(o['rev'], 0),
    at: num(o['at'], 0),
  };
}
