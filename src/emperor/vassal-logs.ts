/**
 * The `logto` files of every vassal: opened when a spec names one, kept across reloads while the path stays, written
 * line by line with the vassal's output, reopened on SIGUSR2 or when logrotate moved them. A write error is reported
 * once per file and affects no other vassal.
 */
import type {VassalSpec} from '../config/vassal-spec.js';
import type {Logger} from '../log/logger.js';
import {VassalLogFile} from '../log/vassal-log-file.js';
import {identityFor} from './identity.js';

/** `logfile-chown`: the vassal's uid/gid (its `uid`/`gid` keys; a user alone brings its primary group), if any. */
function ownerOf(spec: VassalSpec): {uid: number; gid: number} | undefined {
  const identity = identityFor({name: spec.name, ...(spec.uid === undefined ? {} : {uid: spec.uid}), ...(spec.gid === undefined ? {} : {gid: spec.gid})}, undefined, false);
  return identity.ok ? identity.value : undefined;
}

/** Log files by vassal name (only vassals with `logto` have one). */
export class VassalLogs {
  readonly #log: Logger;
  readonly #files = new Map<string, VassalLogFile>();

  constructor(log: Logger) {
    this.#log = log;
  }

  /** Opens the file `spec` names for vassal `name` (keeping it if the path is the same), or closes it if none. */
  follow(name: string, spec: VassalSpec): void {
    const current = this.#files.get(name);
    const rotation = {
      maxBytes: spec.logMaxBytes, backups: spec.logBackups, every: spec.logRotate, compress: spec.logCompress,
      backupName: spec.logBackupName, mode: spec.logMode, owner: spec.logChown === true ? ownerOf(spec) : undefined,
    };
    if (current !== undefined && current.path === spec.logto && current.rotatesLike(rotation)) return;
    current?.close();
    if (spec.logto === undefined) {
      this.#files.delete(name);
      return;
    }
    const file = new VassalLogFile({path: spec.logto, ...rotation}, (error) =>
      this.#log.error('cannot write vassal log', {vassal: name, logto: spec.logto, error: String(error)}),
    );
    this.#files.set(name, file);
  }

  /** Appends one output line of vassal `name` to its file, if it has one. */
  write(name: string, line: string): void {
    this.#files.get(name)?.write(line);
  }

  /** Reopens every file (SIGUSR2: logrotate's postrotate). */
  reopen(): void {
    for (const file of this.#files.values()) file.reopen();
  }

  /** Follows files that logrotate moved away (create mode, no signal). */
  reopenMoved(): void {
    for (const file of this.#files.values()) file.reopenIfMoved();
  }

  /** Closes the file of a vassal that is gone. */
  close(name: string): void {
    this.#files.get(name)?.close();
    this.#files.delete(name);
  }

  closeAll(): void {
    for (const file of this.#files.values()) file.close();
    this.#files.clear();
  }
}
