/**
 * The defaults every vassal inherits: `--vassals-include` files, then the watched directory's `_defaults.toml`
 * (lowest precedence first; the vassal file itself wins over both, see `VassalSpecContext.defaults`). A broken
 * defaults file is reported and skipped (includes) or the previous one kept (`_defaults.toml`), as a running vassal
 * keeps its last good config. `hash` changes whenever the effective defaults do, so the emperor can re-evaluate
 * every vassal against them. Under tyrant mode the directory's file counts only when root or the emperor's user owns
 * it, never a tenant (issue 14).
 */
import {createHash} from 'node:crypto';
import {formatDiagnostic} from '../config/diagnostic.js';
import {formatError} from '../errors.js';
import {CONFIG_LIMITS} from '../config/config-limits.js';
import {checkDefaults} from '../config/vassal-spec.js';
import type {Logger} from '../log/logger.js';
import type {System} from '../system/system.js';
import type {DefaultsFile} from './definition.js';

/** The current defaults of one emperor. */
export class VassalDefaults {
  readonly #log: Logger;
  readonly #sys: System;
  readonly #includeFiles: readonly string[];
  readonly #vassalDir: string;
  #includes: DefaultsFile[] = [];
  #directory: DefaultsFile | undefined;
  #hash = '';
  /** The last refused directory file (tyrant mode), so it is reported once per change. */
  #refused: string | undefined;

  /** `vassalDir` resolves the relative paths of the include files. */
  constructor(log: Logger, sys: System, includeFiles: readonly string[], vassalDir: string) {
    this.#log = log;
    this.#sys = sys;
    this.#includeFiles = includeFiles;
    this.#vassalDir = vassalDir;
  }

  /** Lowest precedence first. */
  get files(): DefaultsFile[] {
    return this.#directory ? [...this.#includes, this.#directory] : this.#includes;
  }

  /** Changes whenever the effective defaults do ('' for none). */
  get hash(): string {
    return this.#hash;
  }

  /** (Re)reads the --vassals-include files; true when the defaults changed. */
  async readIncludes(): Promise<boolean> {
    const read: DefaultsFile[] = [];
    for (const file of this.#includeFiles) {
      // Bounded like a vassal file: a FIFO or a device named here must not hang or fill the emperor.
      const once = await this.#sys.readOnce(file, CONFIG_LIMITS.fileBytes);
      const text = once.kind === 'opened' && once.stat.type === 'file' ? once.text : undefined;
      if (text === undefined) {
        const cause = once.kind === 'failed' ? once.code : once.kind === 'missing' ? 'ENOENT' : once.stat.type === 'file' ? `larger than ${CONFIG_LIMITS.fileBytes} bytes` : `not a regular file (${once.stat.type})`;
        this.#log.error('cannot read vassals-include file', {file, error: cause});
        continue;
      }
      if (this.#problems(file, text, this.#vassalDir, 'invalid vassals-include file; ignoring it')) continue;
      read.push({file, text});
    }
    this.#includes = read;
    return this.#rehash();
  }

  /**
   * The directory's defaults file appeared, changed or vanished (undefined); true when the defaults changed. A
   * broken one is reported and the previous one kept.
   */
  /**
   * The directory offers its defaults file: under tyrant mode one a tenant owns is refused (reported once) and no
   * directory defaults apply. Returns what `setDirectoryFile` returns.
   */
  offerDirectoryFile(offered: DefaultsFile | undefined, vassalDir: string, tyrant: boolean): boolean {
    return this.setDirectoryFile(this.#trusted(offered, tyrant), vassalDir);
  }

  #trusted(file: DefaultsFile | undefined, tyrant: boolean): DefaultsFile | undefined {
    const emperorUid = process.getuid?.() ?? 0;
    const owner = file?.owner;
    if (!tyrant || file === undefined || owner === undefined || owner.uid === 0 || owner.uid === emperorUid) {
      this.#refused = undefined;
      return file;
    }
    const problem = `KAISER_DEFAULTS_FOREIGN_OWNER ${formatError('KAISER_DEFAULTS_FOREIGN_OWNER', {file: file.file, uid: owner.uid, emperorUid})}`;
    if (problem !== this.#refused) this.#log.error('vassal defaults ignored', {uwsgi: `[emperor] ${problem}`});
    this.#refused = problem;
    return undefined;
  }

  /** The directory's defaults file in effect. */
  get directoryFile(): DefaultsFile | undefined {
    return this.#directory;
  }

  setDirectoryFile(file: DefaultsFile | undefined, vassalDir: string): boolean {
    if (file && this.#problems(file.file, file.text, vassalDir, 'invalid vassal defaults; keeping the previous ones')) return false;
    this.#directory = file;
    return this.#rehash();
  }

  #problems(file: string, text: Buffer, vassalDir: string, message: string): boolean {
    const problems = checkDefaults(file, text, {vassalDir});
    if (problems.length === 0) return false;
    this.#log.error(message, {uwsgi: `[emperor] ${problems.map(formatDiagnostic).join('\n')}`});
    return true;
  }

  #rehash(): boolean {
    const before = this.#hash;
    const files = this.files;
    const hash = createHash('sha1');
    for (const {file, text} of files) hash.update(file).update('\0').update(text).update('\0');
    this.#hash = files.length === 0 ? '' : hash.digest('hex');
    return before !== this.#hash;
  }
}
