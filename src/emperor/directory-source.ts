/**
 * The vassal directory as a source of definitions: the monitor (monitor.ts) says which files are present or gone,
 * and this module reads them, skips the files a rescan finds unchanged (same inode, size, mtime and owner), spots renames, reads the directory's `_defaults.toml`, and
 * hands the emperor definitions through the same narrow `VassalSink` a fleet store uses. The emperor never learns
 * that files exist.
 *
 * Rename: a new file with exactly the content of a vassal whose file is gone (`mv a.ini b.ini`) names that vassal in
 * `replaces`, so the emperor stops the old name before the new one starts, once the new one holds its sockets (uWSGI
 * starts both and lets them race for the port). The unlink of the old file may still be on its way, so whether it is
 * gone is checked on disk.
 *
 * Reading is bounded (issue 14): each file is opened once and type, size, owner and content all come from that one
 * descriptor (system/read-once.ts), so a FIFO, a device or a directory is an invalid vassal and never read, a file
 * over 1 MiB is never read, and a symlink swap cannot pair one tenant's content with another's uid. A symlink is
 * followed (as uWSGI does); under tyrant mode only when the link's owner owns the target or is root.
 *
 * A file that does not parse right after it changed may be half-written: its definition carries `recheck`, which
 * reads it again whatever its stat says (definition.ts decides when to use it).
 */
import {createHash} from 'node:crypto';
import {join} from 'node:path';
import {CONFIG_LIMITS} from '../config/config-limits.js';
import {formatError, type ErrorCode, type ErrorFields} from '../errors.js';
import type {Logger} from '../log/logger.js';
import type {FileStat, FileType, ReadOnce, System} from '../system/system.js';
import type {Containment} from './containment.js';
import type {DefaultsFile, VassalDefinition, VassalSink, VassalSource} from './definition.js';
import type {Identity} from './identity.js';
import {DirectoryMonitor} from './monitor.js';

/** Larger vassal files are refused unread. */
const MAX_FILE_BYTES = CONFIG_LIMITS.fileBytes;
/** Events of one path settle this long: bursts from editors and `mv` storms coalesce into one read. */
const SETTLE_MS = 15;

/** What the source remembers of a file it has read. */
interface KnownFile {
  /** inode:size:mtime:uid:gid when last read, so rescans skip unchanged files. */
  statKey: string;
  /** Of the content and owner, to recognise a renamed file. */
  contentDigest: string;
  /** Set once the file is gone: resolves when the emperor has stopped its vassal. */
  stopped: Promise<void> | undefined;
}

export interface DirectorySourceOptions {
  dir: string;
  /** `--emperor 'DIR/*.ini'`: only the files of `dir` matching this glob are vassals (monitor.ts). */
  pattern?: string;
  sys: System;
  log: Logger;
  /** `emperor-freq`: a full rescan this often (0: never), the safety net for missed watcher events. */
  rescanMs: number;
  /** Called after each full scan with its duration (metrics). */
  onScan?: (seconds: number) => void;
  /** `--emperor-tyrant`: a symlinked vassal counts only if the link's owner owns its target (or is root). */
  tyrant?: boolean;
  /** The emperor's boundaries: a throw while reading a file becomes that vassal's error. */
  containment?: Containment;
}

/** What the source compares to skip a file a rescan finds unchanged. */
function statKeyOf(st: FileStat): string {
  return `${st.ino}:${st.size}:${st.mtimeMs}:${st.uid}:${st.gid}`;
}

/** "a FIFO", "a character device"… for KAISER_CONFIG_NOT_A_FILE. */
function describeFileType(type: FileType): string {
  const names: Record<FileType, string> = {
    file: 'a file', directory: 'a directory', fifo: 'a FIFO', 'character-device': 'a character device', 'block-device': 'a block device',
    socket: 'a socket', symlink: 'a symlink', other: 'not a file',
  };
  return names[type];
}

/** `path: error CODE message`, the one-line form operators see for problems that have no line number. */
function operatorError<C extends ErrorCode>(path: string, code: C, fields: ErrorFields<C>): string {
  return `${path}: error ${code} ${formatError(code, fields)}`;
}

/** The watched vassal directory. */
export class DirectorySource implements VassalSource {
  readonly #o: DirectorySourceOptions;
  readonly #sys: System;
  readonly #monitor: DirectoryMonitor;
  readonly #files = new Map<string, KnownFile>();
  /** File names by content digest, to find the old name of a renamed file without looking at every file. */
  readonly #byDigest = new Map<string, string[]>();
  #sink: VassalSink | undefined;
  /** The last problem reported with the defaults file (reported once per change). */
  #defaultsProblem: string | undefined;

  constructor(options: DirectorySourceOptions) {
    this.#o = options;
    this.#sys = options.sys;
    this.#monitor = new DirectoryMonitor(
      {
        dir: options.dir,
        sys: options.sys,
        settleMs: SETTLE_MS,
        rescanMs: options.rescanMs,
        log: options.log,
        ...(options.onScan ? {onScan: options.onScan} : {}),
        ...(options.pattern === undefined ? {} : {pattern: options.pattern}),
      },
      {
        onPresent: (name, path) => this.#read(name, path, false),
        onAbsent: (name) => this.#onAbsent(name),
        onDefaults: (path) => this.#readDefaults(path),
      },
    );
  }

  /** Registers the directory, reads every file in it, then follows changes. */
  async start(sink: VassalSink): Promise<void> {
    this.#sink = sink;
    sink.registerSource(this.#o.dir);
    await this.#monitor.start();
  }

  /** Stops watching. */
  close(): Promise<void> {
    return this.#monitor.close();
  }

  /**
   * Reads `name` and hands its definition on; `force` reads it even if its stat is unchanged (a recheck). Never
   * rejects: a throw while reading (a kaiser bug) becomes this vassal's error.
   */
  async #read(name: string, path: string, force: boolean): Promise<void> {
    const sink = this.#sink;
    if (!sink) return;
    let definition: VassalDefinition | undefined;
    try {
      this.#o.containment?.checkpoint('read', name);
      definition = await this.#definitionOf(name, path, force);
    } catch (error) {
      const message = this.#o.containment?.report({component: 'directory', vassal: name, step: 'read'}, error) ?? String(error);
      const now = this.#sys.now();
      definition = {source: this.#o.dir, path, dir: this.#o.dir, text: Buffer.alloc(0), version: now, changedAt: now, error: `${path}: error ${message}`};
    }
    if (definition !== undefined) await sink.define(name, definition);
  }

  /** What `name` defines now, or undefined when it is gone or unchanged since it was last read. */
  async #definitionOf(name: string, path: string, force: boolean): Promise<VassalDefinition | undefined> {
    const dir = this.#o.dir;
    const known = this.#files.get(name);
    const unchanged = (key: string) => !force && known?.stopped === undefined && known?.statKey === key;
    // Rescans report every file: a stat first, so a file whose inode, size, mtime and owner are unchanged is not
    // opened again. What is used comes from the descriptor read below, never from this stat.
    const before = await this.#sys.stat(path).catch(() => undefined);
    if (before !== undefined && unchanged(statKeyOf(before))) return undefined;
    const read = await this.#sys.readOnce(path, MAX_FILE_BYTES);
    if (read.kind === 'missing') return undefined; // gone again: the unlink event follows
    let text: Buffer = Buffer.alloc(0);
    let error: string | undefined;
    let owner: Identity | undefined;
    let statKey: string | undefined;
    let mtimeMs = this.#sys.now();
    if (read.kind === 'failed') {
      error = operatorError(path, 'KAISER_CONFIG_UNREADABLE', {file: path, cause: read.code});
    } else {
      const st = read.stat;
      mtimeMs = st.mtimeMs;
      owner = {uid: st.uid, gid: st.gid};
      statKey = statKeyOf(st);
      if (unchanged(statKey)) return undefined;
      error = this.#refusal(name, path, read);
      if (error === undefined) text = read.text ?? text;
    }
    const replaces = statKey === undefined ? [] : await this.#remember(name, statKey, text, owner);
    return {
      source: dir,
      path,
      dir,
      text,
      version: mtimeMs,
      changedAt: mtimeMs,
      ...(error === undefined ? {} : {error}),
      ...(owner === undefined ? {} : {owner}),
      ...(replaces.length > 0 ? {replaces} : {}),
      recheck: () => void this.#read(name, path, true),
    };
  }

  /** Why an opened file is not a vassal file (not a regular file, too large, a tenant's link to another's file). */
  #refusal(name: string, path: string, read: ReadOnce & {kind: 'opened'}): string | undefined {
    const st = read.stat;
    if (st.type !== 'file') return operatorError(path, 'KAISER_CONFIG_NOT_A_FILE', {file: path, what: describeFileType(st.type)});
    if (st.size > MAX_FILE_BYTES || read.text === undefined) {
      return operatorError(path, 'KAISER_CONFIG_TOO_LARGE', {sizeBytes: st.size, limitBytes: MAX_FILE_BYTES});
    }
    // Tyrant mode runs a vassal as its file's owner: a tenant's link to someone else's file would run that file as
    // them (or root's as root). As Apache's SymLinksIfOwnerMatch: the link's owner must own the target, or be root.
    const link = read.link;
    if (this.#o.tyrant === true && link !== undefined && link.uid !== 0 && link.uid !== st.uid) {
      return operatorError(path, 'KAISER_TYRANT_FOREIGN_SYMLINK', {vassal: name, linkUid: link.uid, uid: st.uid});
    }
    return undefined;
  }

  /**
   * Notes what was read of `name`. A file seen for the first time whose content matches a vassal whose file is gone
   * is a rename: returns the names it replaces.
   */
  async #remember(name: string, statKey: string, text: Buffer, owner: Identity | undefined): Promise<string[]> {
    const ownerMark = owner === undefined ? '' : `${owner.uid}:${owner.gid}`;
    const contentDigest = createHash('sha1').update(text).update(ownerMark).digest('base64');
    const known = this.#files.get(name);
    const isNew = known === undefined || known.stopped !== undefined;
    if (known && !isNew) {
      known.statKey = statKey;
      if (known.contentDigest === contentDigest) return [];
      this.#unindex(name, known.contentDigest);
      known.contentDigest = contentDigest;
    } else {
      if (known) this.#unindex(name, known.contentDigest); // re-created while its old vassal stops
      this.#files.set(name, {statKey, contentDigest, stopped: undefined});
    }
    const renamedFrom = isNew ? (this.#byDigest.get(contentDigest) ?? []).filter((other) => other !== name) : [];
    this.#index(name, contentDigest);
    const replaces: string[] = [];
    for (const other of renamedFrom) {
      const file = this.#files.get(other);
      if (file === undefined) continue;
      if (file.stopped !== undefined || !this.#sys.exists(join(this.#o.dir, other))) replaces.push(other);
    }
    return replaces;
  }

  #onAbsent(name: string): void {
    const known = this.#files.get(name);
    const stopped = this.#sink?.undefine(name) ?? Promise.resolve();
    if (!known) return;
    known.stopped = stopped;
    // The index keeps the vanished name until its vassal is stopped: a rename arriving meanwhile waits for it.
    void stopped.then(() => {
      if (this.#files.get(name) !== known) return;
      this.#files.delete(name);
      this.#unindex(name, known.contentDigest);
    });
  }

  async #readDefaults(path: string | undefined): Promise<void> {
    let file: DefaultsFile | undefined;
    if (path !== undefined) {
      const read = await this.#sys.readOnce(path, MAX_FILE_BYTES);
      let problem: string | undefined;
      if (read.kind === 'failed') problem = operatorError(path, 'KAISER_CONFIG_UNREADABLE', {file: path, cause: read.code});
      else if (read.kind === 'opened') {
        problem = this.#refusal('_defaults', path, read);
        if (problem === undefined && read.text !== undefined) file = {file: path, text: read.text, owner: {uid: read.stat.uid, gid: read.stat.gid}};
      }
      if (problem !== undefined && problem !== this.#defaultsProblem) this.#o.log.error('vassal defaults ignored', {uwsgi: `[emperor] ${problem}: no defaults apply`});
      this.#defaultsProblem = problem;
    }
    await this.#sink?.defineDefaults(file, this.#o.dir);
  }

  #index(name: string, digest: string): void {
    const names = this.#byDigest.get(digest);
    if (names === undefined) this.#byDigest.set(digest, [name]);
    else if (!names.includes(name)) names.push(name);
  }

  #unindex(name: string, digest: string): void {
    const names = this.#byDigest.get(digest);
    const at = names ? names.indexOf(name) : -1;
    if (!names || at < 0) return;
    names.splice(at, 1);
    if (names.length === 0) this.#byDigest.delete(digest);
  }
}
