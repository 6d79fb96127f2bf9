/**
 * The `logto` files of every vassal: opened when a spec names one, kept across reloads while the path and the user
 * stay, written line by line with the vassal's output, reopened on SIGUSR2 or when logrotate moved them. A tenant's vassal
 * (tyrant mode) has its file opened and rotated as the tenant (user-actions.ts): a tenant cannot make
 * the emperor create, append to or replace a file it could not touch itself. A write error is reported once per
 * file and affects no other vassal.
 */
import type {VassalSpec} from '../config/vassal-spec.js';
import {formatError} from '../errors.js';
import type {Logger} from '../log/logger.js';
import {EMPEROR_ACCESS, VassalLogFile, type LogFileAccess} from '../log/vassal-log-file.js';
import {identityFor, type Identity} from './identity.js';
import {compressAs, openAppendAs, rotateAs} from './user-actions.js';

/** Opening and rotating as `user` (a helper per call). */
function accessAs(user: Identity): LogFileAccess {
  return {kind: 'user', open: (path) => openAppendAs(user, path), rotate: (path, backups, backupName) => rotateAs(user, path, backups, backupName), compress: (file) => compressAs(user, file)};
}

/** `logfile-chown`: the vassal's uid/gid (its `uid`/`gid` keys; a user alone brings its primary group), if any. */
function ownerOf(spec: VassalSpec): {uid: number; gid: number} | undefined {
  const identity = identityFor({name: spec.name, ...(spec.uid === undefined ? {} : {uid: spec.uid}), ...(spec.gid === undefined ? {} : {gid: spec.gid})}, undefined, false);
  return identity.ok ? identity.value : undefined;
}

/** Log files by vassal name (only vassals with `logto` have one). */
export class VassalLogs {
  readonly #log: Logger;
  readonly #files = new Map<string, {file: VassalLogFile; user: string}>();

  constructor(log: Logger) {
    this.#log = log;
  }

  /**
   * Opens the file `spec` names for vassal `name` (keeping it if the path and user are the same), or closes it if
   * none. `user`: who the vassal runs as (undefined: as the emperor, which then opens the file itself).
   */
  follow(name: string, spec: VassalSpec, user?: Identity): void {
    const current = this.#files.get(name);
    const userKey = user === undefined ? '' : `${user.uid}:${user.gid}`;
    const rotation = {
      maxBytes: spec.logMaxBytes, backups: spec.logBackups, every: spec.logRotate, compress: spec.logCompress,
      backupName: spec.logBackupName, mode: spec.logMode, owner: spec.logChown === true ? ownerOf(spec) : undefined,
    };
    if (current !== undefined && current.file.path === spec.logto && current.user === userKey && current.file.rotatesLike(rotation)) return;
    current?.file.close();
    if (spec.logto === undefined) {
      this.#files.delete(name);
      return;
    }
    const logto = spec.logto;
    const file = new VassalLogFile(
      {path: logto, ...rotation},
      (error) => this.#log.error('cannot write vassal log', {uwsgi: `[emperor] KAISER_VASSAL_LOGTO ${formatError('KAISER_VASSAL_LOGTO', {vassal: name, cause: error.message})}`, vassal: name, logto, error: error.message}),
      user === undefined ? EMPEROR_ACCESS : accessAs(user),
    );
    this.#files.set(name, {file, user: userKey});
  }

  /** Appends one output line of vassal `name` to its file, if it has one. */
  write(name: string, line: string): void {
    this.#files.get(name)?.file.write(line);
  }

  /** Reopens every file (SIGUSR2: logrotate's postrotate). */
  reopen(): void {
    for (const {file} of this.#files.values()) file.reopen();
  }

  /** Follows files that logrotate moved away (create mode, no signal). */
  reopenMoved(): void {
    for (const {file} of this.#files.values()) file.reopenIfMoved();
  }

  /** Closes the file of a vassal that is gone. */
  close(name: string): void {
    this.#files.get(name)?.file.close();
    this.#files.delete(name);
  }

  closeAll(): void {
    for (const {file} of this.#files.values()) file.close();
    this.#files.clear();
  }
}
