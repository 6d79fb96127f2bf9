/**
 * The front router's domain claims on disk, so that who holds a domain survives an emperor restart (issue 14: in
 * memory only, a restart handed a contested domain to the first file name in sort order again, so a tenant could take
 * another's domain by waiting for the next restart with a file called `a.toml`).
 *
 * One small JSON file per emperor in its state directory (`--emperor-state-dir`), named after what the emperor governs
 * (`domain-claims-<hash>.json`, the governed directory written inside), owned by the emperor, mode 0600:
 *
 *   {"kaiser": "domain-claims", "version": 1, "vassals": "/etc/kaiser/vassals",
 *    "claims": {"shop.test": {"uid": 40001, "vassal": "bob.toml", "since": "2026-12-07T12:00:00.000Z"}}}
 *
 * Only the uid decides (`pools.ts`); `vassal` and `since` say which file took it and when, for the operator. Read once
 * at start with the bounded reader (`system/read-once.ts`: no FIFO, device or oversized file is read) and refused
 * whole, with `KAISER_STATE_FILE_INVALID` naming the file and the reason, when it is not ours, not a plain file or
 * not exactly this shape: the emperor then starts with no claims, as before. Written whenever an owner changes,
 * through a temporary file (O_EXCL, 0600, fsync) renamed over the old one, one write at a time; a write that fails
 * is reported (`KAISER_STATE_FILE_WRITE`) and the claims stay in memory.
 */
import {createHash, randomBytes} from 'node:crypto';
import {lstat, mkdir, open, rename, rm} from 'node:fs/promises';
import {basename, dirname, join} from 'node:path';
import {formatError} from '../errors.js';
import type {Logger} from '../log/logger.js';
import {err, ok, type Result} from '../result.js';
import {readOnce} from '../system/read-once.js';
import {checkDomain} from './hosts-and-upstreams.js';

/** Larger than any real file (a million domains); what is larger is refused unread. */
const MAX_BYTES = 64 * 1024 * 1024;
const MAX_VASSAL_NAME = 4096;
const FORMAT = 'domain-claims';
const VERSION = 1;

/** Who holds one domain. */
export interface ClaimRecord {
  readonly uid: number;
  /** The vassal through which the domain was claimed. */
  readonly vassal: string;
  /** When (ISO 8601). */
  readonly since: string;
}

/** The claims file of the emperor governing `governed` (its vassal directory, or its sources joined). */
export function claimsFilePath(stateDir: string, governed: string): string {
  const hash = createHash('sha256').update(governed).digest('hex').slice(0, 16);
  return join(stateDir, `domain-claims-${hash}.json`);
}

/**
 * The claims in `text`, checked: the file's shape, every domain a host name as the router matches it (lower case),
 * every uid a number a user can have, and the directory it was written for.
 */
export function parseClaims(text: string, governed: string): Result<Map<string, ClaimRecord>, string> {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (error) {
    return err(`not JSON (${error instanceof Error ? error.message : String(error)})`);
  }
  if (!isObject(data) || data['kaiser'] !== FORMAT) return err(`not a kaiser domain claims file (no "kaiser": "${FORMAT}")`);
  if (data['version'] !== VERSION) return err(`version ${JSON.stringify(data['version'])}, expected ${VERSION}`);
  if (data['vassals'] !== governed) return err(`written for ${JSON.stringify(data['vassals'])}, not for ${JSON.stringify(governed)}`);
  const claims = data['claims'];
  if (!isObject(claims)) return err('"claims" is not an object');
  const out = new Map<string, ClaimRecord>();
  for (const [domain, record] of Object.entries(claims)) {
    const checked = checkDomain(domain);
    const where = `claim ${JSON.stringify(domain.slice(0, 100))}`;
    if (!checked.ok || checked.value !== domain) return err(`${where}: not a domain the router routes${checked.ok ? '' : ` (${checked.error})`}`);
    if (!isObject(record)) return err(`${where}: not an object`);
    const {uid, vassal, since} = record;
    if (typeof uid !== 'number' || !Number.isInteger(uid) || uid < 0 || uid > 0xfffffffe) return err(`${where}: "uid" is not a user id`);
    if (typeof vassal !== 'string' || vassal.length > MAX_VASSAL_NAME) return err(`${where}: "vassal" is not a vassal name`);
    if (typeof since !== 'string' || Number.isNaN(Date.parse(since))) return err(`${where}: "since" is not a date`);
    out.set(domain, {uid, vassal, since});
  }
  return ok(out);
}

/** The file's text for `claims` (domains sorted, so the same claims always give the same bytes). */
export function formatClaims(claims: ReadonlyMap<string, ClaimRecord>, governed: string): string {
  const sorted = Object.fromEntries([...claims].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
  return `${JSON.stringify({kaiser: FORMAT, version: VERSION, vassals: governed, claims: sorted}, null, 1)}\n`;
}

/** What the router keeps of claims: domain → uid (undefined: an owner-less source, never written down). */
export type ClaimOwners = ReadonlyMap<string, number | undefined>;

/** The claims file of one emperor: read at start, rewritten when an owner changes. */
export class DomainClaimsFile {
  readonly path: string;
  readonly #governed: string;
  readonly #log: Logger;
  readonly #uid: number;
  #records = new Map<string, ClaimRecord>();
  /** The text on disk (or being written); undefined: no file of ours yet. */
  #written: string | undefined;
  #pending: string | undefined;
  #writing: Promise<void> | undefined;
  #lastError: string | undefined;

  private constructor(path: string, governed: string, log: Logger, uid: number) {
    this.path = path;
    this.#governed = governed;
    this.#log = log;
    this.#uid = uid;
  }

  /** Reads the file if there is one. A bad file is reported and ignored (the emperor starts without claims). */
  static async open(path: string, governed: string, log: Logger, uid: number = process.getuid?.() ?? 0): Promise<DomainClaimsFile> {
    const file = new DomainClaimsFile(path, governed, log, uid);
    const read = await file.#read();
    if (read.ok) {
      file.#records = read.value;
      if (read.value.size > 0) log.info('domain claims', {uwsgi: `[router] ${read.value.size} domain claim(s) kept from ${path}`, file: path});
    } else {
      log.warn('domain claims ignored', {uwsgi: `[router] KAISER_STATE_FILE_INVALID ${formatError('KAISER_STATE_FILE_INVALID', {file: path, reason: read.error})}`, file: path});
    }
    return file;
  }

  /** domain → uid, as read (the router's claims before its first build). */
  owners(): Map<string, number | undefined> {
    return new Map([...this.#records].map(([domain, record]) => [domain, record.uid]));
  }

  /**
   * The router's claims after a build, with the vassal that holds each one now: a domain whose uid is unchanged keeps
   * its record; a new or changed one is recorded now; a released one is dropped. Written when that changes anything.
   */
  update(owners: ClaimOwners, holderOf: (domain: string) => string | undefined, now: Date = new Date()): void {
    const next = new Map<string, ClaimRecord>();
    for (const [domain, uid] of owners) {
      if (uid === undefined) continue;
      const previous = this.#records.get(domain);
      next.set(domain, previous?.uid === uid ? previous : {uid, vassal: holderOf(domain) ?? '', since: now.toISOString()});
    }
    const text = formatClaims(next, this.#governed);
    this.#records = next;
    // Nothing to remember and no file yet: leave the state directory alone.
    if (next.size === 0 && this.#written === undefined && this.#pending === undefined) return;
    if (text === (this.#pending ?? this.#written)) return;
    this.#pending = text;
    this.#writing ??= this.#drain();
  }

  /** Resolves once every write asked for so far is on disk (or has failed and been reported). */
  async flush(): Promise<void> {
    while (this.#writing !== undefined) await this.#writing;
  }

  async #read(): Promise<Result<Map<string, ClaimRecord>, string>> {
    const read = await readOnce(this.path, MAX_BYTES);
    if (read.kind === 'missing') return ok(new Map());
    if (read.kind === 'failed') return err(`cannot read it (${read.code})`);
    const st = read.stat;
    if (read.link !== undefined) return err('it is a symbolic link (the emperor writes a plain file)');
    if (st.type !== 'file') return err(`it is a ${st.type}, not a regular file`);
    if (st.uid !== this.#uid) return err(`it belongs to uid ${st.uid}, not to the emperor (uid ${this.#uid})`);
    if (read.text === undefined) return err(`it is larger than ${MAX_BYTES} bytes`);
    const text = read.text.toString('utf8');
    const parsed = parseClaims(text, this.#governed);
    if (parsed.ok) this.#written = text;
    return parsed;
  }

  async #drain(): Promise<void> {
    try {
      while (this.#pending !== undefined) {
        const text = this.#pending;
        this.#pending = undefined;
        const written = await this.#write(text);
        if (written.ok) {
          this.#written = text;
          this.#lastError = undefined;
        } else if (written.error !== this.#lastError) {
          this.#lastError = written.error;
          this.#log.warn('domain claims not saved', {uwsgi: `[router] KAISER_STATE_FILE_WRITE ${formatError('KAISER_STATE_FILE_WRITE', {file: this.path, cause: written.error})}`, file: this.path});
        }
      }
    } finally {
      this.#writing = undefined;
    }
  }

  /** Writes `text` whole: a fresh temporary file next to it (never an existing name), fsync'ed, renamed over it. */
  async #write(text: string): Promise<Result<void, string>> {
    const dir = dirname(this.path);
    const checked = await this.#checkDir(dir);
    if (!checked.ok) return checked;
    const temporary = join(dir, `.${basename(this.path)}.${randomBytes(6).toString('hex')}.tmp`);
    try {
      const handle = await open(temporary, 'wx', 0o600);
      try {
        await handle.writeFile(text);
        await handle.chmod(0o600); // the umask may have taken bits off
        await handle.sync();
      } finally {
        await handle.close();
      }
      await rename(temporary, this.path);
      return ok(undefined);
    } catch (error) {
      await rm(temporary, {force: true}).catch(() => undefined);
      return err((error as NodeJS.ErrnoException).code ?? String(error));
    }
  }

  /**
   * Creates the state directory (0700) and checks it is safe to write in: a directory that another ordinary user owns,
   * or that others may write to without the sticky bit, could have our file replaced behind our back.
   */
  async #checkDir(dir: string): Promise<Result<void, string>> {
    try {
      await mkdir(dir, {recursive: true, mode: 0o700});
      const st = await lstat(dir);
      if (!st.isDirectory()) return err(`${dir} is not a directory`);
      if (st.uid !== this.#uid && st.uid !== 0) return err(`${dir} belongs to uid ${st.uid}, not to the emperor (uid ${this.#uid}) or root`);
      if ((st.mode & 0o022) !== 0 && (st.mode & 0o1000) === 0) return err(`${dir} is writable by others (mode ${(st.mode & 0o7777).toString(8)})`);
      return ok(undefined);
    } catch (error) {
      return err(`cannot create ${dir}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`);
    }
  }
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
