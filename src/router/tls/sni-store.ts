/**
 * The certificates of the HTTPS front door, one pair per name in the sni-dir, uWSGI's naming (`--sni-dir`):
 * `DIR/<name>.crt` (the certificate, followed by its chain) and `DIR/<name>.key`. A wildcard certificate is
 * `DIR/*.example.test.crt` (or `DIR/_wildcard.example.test.crt`, for shells and tools that dislike `*`); it covers
 * one label, as a TLS wildcard does: `a.example.test`, not `example.test` nor `a.b.example.test`.
 *
 * The files are the truth: each handshake asks `contextFor(name)`, which re-reads a pair whose files changed (size,
 * mtime or inode, looked at most once per `recheckMs`), so a renewed certificate is served without a restart and
 * without a watcher to miss events. A pair that does not load (a key that is not the certificate's, a half-written
 * file) keeps the last good context, and the problem is logged once per change of the files.
 *
 *   name ──lookup──► exact pair ──► wildcard pair (*.parent) ──► none: the handshake is refused
 *
 * A name nobody has a certificate for is never given another tenant's certificate: `contextFor` returns undefined
 * and the listener aborts the handshake (the client sees an alert, see https-listener.ts).
 */
import {statSync, readFileSync, type Stats} from 'node:fs';
import {join} from 'node:path';
import {createSecureContext, type SecureContext} from 'node:tls';
import {X509Certificate} from 'node:crypto';
import type {Logger} from '../../log/logger.js';
import {formatError} from '../../errors.js';

/** What the TLS settings of every context are (the listener's modern defaults). */
export interface ContextSettings {
  readonly minVersion: 'TLSv1.2' | 'TLSv1.3';
  readonly ciphers: string;
  readonly ecdhCurve?: string;
  /** Session ticket keys shared by every context and process (https-listener.ts `ticketKeys`). */
  readonly ticketKeys?: Buffer;
}

/** One loaded pair. */
interface LoadedPair {
  readonly stamp: string;
  readonly context: SecureContext;
  readonly notAfterMs: number;
}

/** What is known of one file name stem (`a.example.test`, `*.example.test`). */
interface PairEntry {
  /** When the files were last looked at (ms, monotonic). */
  checkedAt: number;
  /** The files' identity at that look, or '' when they do not both exist. */
  stamp: string;
  /** The last pair that loaded, kept while a newer one fails. */
  good: LoadedPair | undefined;
  /** The stamp whose failure was logged, so it is logged once. */
  reportedStamp: string | undefined;
}

/** A host name that may be a file name in the sni-dir: letters, digits, `-`, `_`, dots between labels. */
const SAFE_NAME = /^(?:\*\.)?[a-z0-9_](?:[a-z0-9_-]*[a-z0-9_])?(?:\.[a-z0-9_](?:[a-z0-9_-]*[a-z0-9_])?)*$/;

export interface SniStoreOptions {
  readonly dir: string;
  readonly settings: ContextSettings;
  readonly log: Logger;
  /** How long a look at a pair's files is trusted (default 1 s). */
  readonly recheckMs?: number;
  /** Monotonic clock (tests). */
  readonly now?: () => number;
}

/** Name → SecureContext from the files of an sni-dir. */
export class SniStore {
  readonly #dir: string;
  readonly #settings: ContextSettings;
  readonly #log: Logger;
  readonly #recheckMs: number;
  readonly #now: () => number;
  readonly #entries = new Map<string, PairEntry>();

  constructor(options: SniStoreOptions) {
    this.#dir = options.dir;
    this.#settings = options.settings;
    this.#log = options.log;
    this.#recheckMs = options.recheckMs ?? 1_000;
    this.#now = options.now ?? (() => performance.now());
  }

  /** The directory the pairs are read from. */
  get dir(): string {
    return this.#dir;
  }

  /** The context for an SNI name (exact, then a one-label wildcard), or undefined when there is none. */
  contextFor(servername: string): SecureContext | undefined {
    return this.pairFor(servername)?.context;
  }

  /** When the certificate that `servername` would get expires (ms since the epoch), or undefined without one. */
  notAfterOf(servername: string): number | undefined {
    return this.pairFor(servername)?.notAfterMs;
  }

  /** Whether the name has a certificate of its own (not a wildcard's), for ACME: it orders only what is missing. */
  hasOwnPair(name: string): boolean {
    return this.#current(normalizeName(name)) !== undefined;
  }

  /** The loaded pair for a name, exact first. */
  pairFor(servername: string): LoadedPair | undefined {
    const name = normalizeName(servername);
    if (!SAFE_NAME.test(name) || name.startsWith('*.')) return undefined;
    const exact = this.#current(name);
    if (exact !== undefined) return exact;
    const dot = name.indexOf('.');
    if (dot === -1) return undefined;
    return this.#current(`*${name.slice(dot)}`);
  }

  /** Forgets what was read (the next handshake reads the files again). */
  clear(): void {
    this.#entries.clear();
  }

  #current(stem: string): LoadedPair | undefined {
    const now = this.#now();
    let entry = this.#entries.get(stem);
    if (entry !== undefined && now - entry.checkedAt < this.#recheckMs) return entry.good;
    if (entry === undefined) {
      // Unknown names are remembered briefly too (a scan of random names costs one look per name per interval),
      // but the map stays bounded.
      if (this.#entries.size > 50_000) this.#entries.clear();
      entry = {checkedAt: now, stamp: '', good: undefined, reportedStamp: undefined};
      this.#entries.set(stem, entry);
    }
    entry.checkedAt = now;
    const files = this.#filesOf(stem);
    if (files === undefined) {
      entry.stamp = '';
      entry.good = undefined;
      return undefined;
    }
    if (files.stamp === entry.stamp) return entry.good;
    entry.stamp = files.stamp;
    if (entry.good?.stamp === files.stamp) return entry.good;
    const loaded = this.#load(stem, files);
    if (loaded !== undefined) {
      entry.good = loaded;
      this.#log.info('certificate loaded', {uwsgi: `[https] certificate for ${stem} loaded from ${files.crt}`, name: stem, file: files.crt, notAfter: new Date(loaded.notAfterMs).toISOString()});
    }
    return entry.good;
  }

  /** The crt/key paths of a stem and their identity, under either wildcard spelling; undefined if one is missing. */
  #filesOf(stem: string): {crt: string; key: string; stamp: string} | undefined {
    const spellings = stem.startsWith('*.') ? [stem, `_wildcard${stem.slice(1)}`] : [stem];
    for (const spelling of spellings) {
      const crt = join(this.#dir, `${spelling}.crt`);
      const key = join(this.#dir, `${spelling}.key`);
      const crtStat = statOrUndefined(crt);
      if (crtStat === undefined) continue;
      const keyStat = statOrUndefined(key);
      if (keyStat === undefined) continue;
      return {crt, key, stamp: `${stampOf(crtStat)}/${stampOf(keyStat)}`};
    }
    return undefined;
  }

  #load(stem: string, files: {crt: string; key: string; stamp: string}): LoadedPair | undefined {
    try {
      const cert = readFileSync(files.crt);
      const key = readFileSync(files.key);
      const context = createSecureContext({cert, key, ...this.#settings});
      const notAfterMs = Date.parse(new X509Certificate(cert).validTo);
      return {stamp: files.stamp, context, notAfterMs};
    } catch (error) {
      const entry = this.#entries.get(stem);
      if (entry !== undefined && entry.reportedStamp !== files.stamp) {
        entry.reportedStamp = files.stamp;
        const cause = error instanceof Error ? error.message : String(error);
        this.#log.warn('certificate not loaded', {
          uwsgi: `[https] ${formatError('KAISER_TLS_BAD_CERTIFICATE', {file: files.crt, key: files.key, cause})}${entry.good ? ' (the previous one is still served)' : ''}`,
          code: 'KAISER_TLS_BAD_CERTIFICATE',
          name: stem,
          file: files.crt,
          cause,
        });
      }
      return undefined;
    }
  }
}

/** An SNI name as a file stem: lower case, no trailing dot. */
export function normalizeName(name: string): string {
  const lower = name.toLowerCase();
  return lower.endsWith('.') ? lower.slice(0, -1) : lower;
}

/** Whether a name can be a pair in the sni-dir (no path separators, no `..`). */
export function isSafeName(name: string): boolean {
  return SAFE_NAME.test(normalizeName(name));
}

function statOrUndefined(path: string): Stats | undefined {
  try {
    const stats = statSync(path);
    return stats.isFile() ? stats : undefined;
  } catch {
    return undefined;
  }
}

function stampOf(stats: Stats): string {
  return `${stats.ino}:${stats.size}:${stats.mtimeMs}`;
}
