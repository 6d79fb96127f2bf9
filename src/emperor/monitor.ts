/**
 * Turns the vassal directory into `changed(name)` / `removed(name)` calls. chokidar (inotify) reports events at
 * once; each path then settles for a few milliseconds (bursts from editors and `mv` storms coalesce into one call,
 * and an unlink followed by a re-create becomes a change). A periodic rescan (`emperor-freq`) is the safety net for
 * missed events (inotify overflow, network filesystems). The monitor never throws: a bad directory is a logged retry.
 *
 * Only `.toml` and `.ini` files count; dotfiles, `*~`, `*.swp`, `*.tmp` and other names are ignored, and so are
 * names with control characters (a newline in a name would forge a line of the emperor's log): said once, escaped.
 * With a `pattern` (uWSGI's glob monitor: `--emperor 'DIR/*.ini'`), only the file names that also match it count.
 */
import {join} from 'node:path';
import pLimit from 'p-limit';
import picomatch from 'picomatch';
import type {Logger} from '../log/logger.js';
import type {DirWatch, System} from '../system/system.js';
import {escapeControls} from '../util/escape-controls.js';

/** Events after which a quiet second triggers a rescan (see #noteBurst). */
const BURST_EVENTS = 256;
const BURST_QUIET_MS = 1_000;
/**
 * Files read and handed to the emperor at once. Unbounded, a drop of 10,000 files started 10,000 reads and
 * definitions together, and the emperor kept the memory of that peak (measured: RSS 172 MB for 10,000 on-demand
 * vassals; see bench/README.md); a few at a time are as fast, as the work is on one thread anyway.
 */
const REPORTS_IN_FLIGHT = 16;

/** The directory's vassal defaults file (applied to every vassal, not a vassal itself). */
export const DEFAULTS_FILE_NAMES = ['_defaults.toml', '_defaults.ini'] as const;

/** C0 controls and DEL: a name with one would forge or garble lines of the emperor's log. */
// eslint-disable-next-line no-control-regex
const CONTROL_CHARACTER = /[\u0000-\u001f\u007f]/;

/** True for names the emperor treats as vassal files. */
export function isVassalFileName(name: string): boolean {
  if (name.startsWith('.') || name.endsWith('~')) return false;
  if (CONTROL_CHARACTER.test(name)) return false;
  if ((DEFAULTS_FILE_NAMES as readonly string[]).includes(name)) return false;
  return name.endsWith('.toml') || name.endsWith('.ini');
}

const isDefaultsName = (name: string) => (DEFAULTS_FILE_NAMES as readonly string[]).includes(name);

/** `--emperor VALUE` as a directory and an optional glob of file names in it. */
export interface VassalSource {
  readonly dir: string;
  readonly pattern: string | undefined;
}

/**
 * Reads `--emperor VALUE` like uWSGI: a directory is watched whole; anything else is a glob (`'DIR/*.ini'`,
 * `'DIR/shop-*.{ini,toml}'`), whose directory part must be a plain path and whose pattern applies to the names of
 * the files in it (kaiser watches one directory: a glob over directories is refused). `isDirectory` decides what exists.
 */
export function parseVassalSource(value: string, isDirectory: (path: string) => boolean): VassalSource | {error: string} {
  if (isDirectory(value)) return {dir: value, pattern: undefined};
  const scanned = picomatch.scan(value);
  if (!scanned.isGlob) return {error: `${value}: no such directory (and not a glob such as '${value.replace(/\/+$/, '')}/*.ini')`};
  if (scanned.glob.includes('/')) return {error: `${value}: only the file name part may be a glob (kaiser watches one directory): '${scanned.base}/PATTERN'`};
  const dir = scanned.base === '' ? '.' : scanned.base;
  if (!isDirectory(dir)) return {error: `${value}: ${dir} is not a directory`};
  return {dir, pattern: scanned.glob};
}

export interface MonitorListener {
  /** The file exists (new, changed, touched or re-created): decide what to do after reading it. */
  onPresent(name: string, path: string): Promise<void>;
  /** The file is gone. */
  onAbsent(name: string): void;
  /** The defaults file appeared, changed (path) or disappeared (undefined). */
  onDefaults(path: string | undefined): Promise<void>;
}

export interface MonitorOptions {
  dir: string;
  sys: System;
  /** A glob the file names must match as well (`*.ini`, `shop-*.{ini,toml}`); none: every vassal file. */
  pattern?: string;
  settleMs: number;
  rescanMs: number;
  log: Logger;
  /** Called after each full scan with its duration. */
  onScan?: (seconds: number) => void;
}

/** Watches one directory. */
export class DirectoryMonitor {
  readonly #options: MonitorOptions;
  readonly #listener: MonitorListener;
  readonly #sys: System;
  /** Cancels the settle timer of each name with one running. */
  readonly #settling = new Map<string, () => void>();
  readonly #known = new Set<string>();
  /** Names with control characters already reported. */
  readonly #controlNames = new Set<string>();
  #watch: DirWatch | undefined;
  #cancelRescan: (() => void) | undefined;
  #burstEvents = 0;
  #cancelBurst: (() => void) | undefined;
  #closed = false;
  readonly #limit = pLimit(REPORTS_IN_FLIGHT);
  readonly #matchesPattern: (name: string) => boolean;

  constructor(options: MonitorOptions, listener: MonitorListener) {
    this.#options = options;
    this.#sys = options.sys;
    this.#listener = listener;
    this.#matchesPattern = options.pattern === undefined ? () => true : picomatch(options.pattern, {dot: false});
  }

  /** A vassal file of this monitor: a vassal file name that matches the pattern, if any. */
  #isVassal(name: string): boolean {
    return isVassalFileName(name) && this.#matchesPattern(name);
  }

  /** Scans once (reporting every vassal file present) and starts watching. Resolves after the first scan. */
  async start(): Promise<void> {
    // The watcher reports every file by name; `#settle` then stats the file, so the outcome never depends on the
    // event's kind.
    this.#watch = await this.#sys.watchDir(
      this.#options.dir,
      (name) => (name === undefined ? this.#scheduleRescan() : this.#settle(name)), // no name: e.g. inotify overflow
      (error) => this.#options.log.warn('watcher error; relying on rescans', {error: String(error)}),
    );
    await this.rescan();
    if (this.#options.rescanMs > 0) this.#periodicRescan();
  }

  #periodicRescan(): void {
    this.#cancelRescan = this.#sys.setTimer(
      this.#options.rescanMs,
      () => {
        if (this.#closed) return;
        this.#periodicRescan();
        void this.rescan();
      },
      {background: true},
    );
  }

  /** One pass over the directory: reports every file present, and the absence of known ones that vanished. */
  async rescan(): Promise<void> {
    let names: string[];
    try {
      const all = await this.#sys.readDir(this.#options.dir);
      const defaults = DEFAULTS_FILE_NAMES.find((name) => all.includes(name));
      await this.#listener.onDefaults(defaults === undefined ? undefined : join(this.#options.dir, defaults));
      names = all.filter((name) => this.#isVassal(name));
      for (const name of all) this.#noteControlName(name);
    } catch (error) {
      this.#options.log.warn('cannot read vassals (retrying at the next rescan)', {dir: this.#options.dir, error: String(error)});
      return;
    }
    const started = this.#sys.now();
    const present = new Set(names);
    for (const name of names) this.#known.add(name);
    await Promise.all(names.map((name) => this.#limit(() => this.#listener.onPresent(name, join(this.#options.dir, name)))));
    for (const name of [...this.#known]) {
      if (!present.has(name)) {
        this.#known.delete(name);
        this.#listener.onAbsent(name);
      }
    }
    this.#options.onScan?.((this.#sys.now() - started) / 1000);
  }

  /** Says once per name that a would-be vassal file with control characters in its name is ignored. */
  #noteControlName(name: string): void {
    if (!CONTROL_CHARACTER.test(name) || !/\.(toml|ini)$/.test(name) || this.#controlNames.has(name)) return;
    if (this.#controlNames.size < 1_000) this.#controlNames.add(name);
    this.#options.log.warn('vassal file name with control characters ignored', {
      uwsgi: `[emperor] ignoring ${escapeControls(name)} in ${this.#options.dir}: control characters in a vassal file name would forge lines of this log`,
    });
  }

  /** Stops watching. */
  async close(): Promise<void> {
    this.#closed = true;
    this.#cancelRescan?.();
    this.#cancelBurst?.();
    for (const cancel of this.#settling.values()) cancel();
    this.#settling.clear();
    await this.#watch?.close();
  }

  #settle(name: string): void {
    if (!this.#isVassal(name) && !isDefaultsName(name)) {
      this.#noteControlName(name);
      return;
    }
    this.#noteBurst();
    this.#settling.get(name)?.();
    this.#settling.set(
      name,
      this.#sys.setTimer(this.#options.settleMs, () => {
        this.#settling.delete(name);
        void this.#limit(() => this.#report(name));
      }),
    );
  }

  /**
   * A mass drop (thousands of files moved in at once) can overflow the kernel's inotify queue, and the lost events
   * would wait for the periodic rescan (measured: 6000 of 10000 files seen only after 60 s). After a burst of events,
   * one rescan follows as soon as the directory is quiet for a second.
   */
  #noteBurst(): void {
    this.#burstEvents += 1;
    if (this.#burstEvents >= BURST_EVENTS) this.#scheduleRescan();
  }

  /** One rescan once the directory has been quiet for a second. */
  #scheduleRescan(): void {
    this.#cancelBurst?.();
    this.#cancelBurst = this.#sys.setTimer(BURST_QUIET_MS, () => {
      this.#cancelBurst = undefined;
      this.#burstEvents = 0;
      void this.rescan();
    });
  }

  async #report(name: string): Promise<void> {
    const path = join(this.#options.dir, name);
    // Anything at the name counts (a FIFO or a device too: reading it says why it is not a vassal file), as the
    // rescan's listing does; a symlink to nothing does not, as in uWSGI.
    const exists = await this.#sys.stat(path).then(
      () => true,
      () => false,
    );
    if (isDefaultsName(name)) {
      await this.#listener.onDefaults(exists ? path : undefined);
      return;
    }
    if (exists) {
      this.#known.add(name);
      await this.#listener.onPresent(name, path);
    } else if (this.#known.delete(name)) {
      this.#listener.onAbsent(name);
    }
  }
}
