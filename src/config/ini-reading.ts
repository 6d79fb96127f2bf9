/**
 * Reads an ini config the way uWSGI 2.0 does (core/ini.c, core/config.c `add_exported_option_do`, core/uwsgi.c),
 * producing the ordered list of every key it met. Owns the keys uWSGI acts on while reading ("immediate"):
 *   - `ini = file[:section]`, `include = file.ini`: read that file now and put its entries here, so later lines
 *     override it; `ini = :section` reads another section of the file read last;
 *   - `inherit = file`: read after the expansion passes, its entries appended (and so applied) after everything
 *     else, with its own magic variables but no `$()`, `@()` or `%()` expansion;
 *   - `set = name=value` (an option or a placeholder), `set-placeholder`/`set-ph = name=value` (a placeholder only;
 *     naming an option is an error, as in uWSGI);
 *   - logic blocks (`logic-blocks.ts`), `strict`.
 * Each file's text first goes through the magic-variable substitution in its own context, with the vassal's
 * upper-case letters. Every include, entry and block is counted against `config-limits.ts`; the first error stops
 * reading (uWSGI exits at its first one too).
 */
import {isAbsolute, join} from 'node:path';
import type {ConfigEntry} from './config-entry.js';
import type {ConfigFs} from './config-fs.js';
import {CONFIG_LIMITS} from './config-limits.js';
import {configError, configWarning, type Diagnostic, type DiagnosticLocation} from './diagnostic.js';
import {DEFAULT_INI_SECTION, readIniSection, splitIniSelector} from './ini.js';
import {LOGIC_CLOSERS, logicOpener, type LogicContext} from './logic-blocks.js';
import {magicTable, substituteMagic, withVassalLetters, type HostFacts} from './magic-vars.js';
import {isUwsgiOptionName} from '../uwsgi-option-names.js';

/**
 * One key met while reading: `option` = an option or an unknown key (a placeholder in uWSGI's eyes), expanded by
 * the passes; `placeholder` = set with `set-placeholder`, never an option; `consumed` = acted on while reading
 * (`ini`, `if-env`, `endif`…). All three answer `%(name)` lookups, the first of a name winning.
 */
export interface ReadEntry extends ConfigEntry {
  value: string;
  readonly role: 'option' | 'placeholder' | 'consumed';
  /** Came through `inherit`: applied after the passes, never expanded. */
  readonly inherited?: boolean;
}

/** What reading needs beyond the text. */
export interface IniReadContext {
  /** Relative include paths resolve against this (uWSGI's cwd: the vassal directory). */
  readonly cwd: string;
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly host: HostFacts;
  readonly nowMs: number;
  /** The emperor's vassal directory (`%v`). */
  readonly vassalsDir: string;
  readonly fs: ConfigFs;
  /** Inode of the top file (`%i`), when known. */
  readonly inode?: number;
  /** The file the top file's magic letters describe, when not itself (vassal defaults take the vassal's). */
  readonly magicFile?: string;
}

/** What one ini config holds once read. */
export interface IniReading {
  /** Every key in reading order (placeholders and consumed keys included), values after magic variables. */
  readonly entries: ReadEntry[];
  /** `inherit =` targets, in order, to read after the passes (`readInherited`). */
  readonly inherits: {target: string; where: DiagnosticLocation}[];
  /** Warnings (a section missing from an included file) and the error that stopped reading, if any. */
  readonly diagnostics: Diagnostic[];
}

interface OpenBlock {
  readonly key: string;
  readonly arg: string;
  readonly where: DiagnosticLocation;
}

/**
 * Reads `file` (as the operator named it; `path` is where it is) and everything it includes. `section` is the
 * one named with `file.ini:section`, if any.
 */
export function readIniConfig(file: string, path: string, text: string, section: string | undefined, ctx: IniReadContext): IniReading {
  const reader = new IniReader(ctx, magicTable(topMagic(ctx, file, path, section)));
  reader.readText(file, path, text, section, 0);
  return reader.result();
}

/**
 * Reads the `inherit =` templates of `reading` (and theirs), appending their entries marked `inherited`. Call after
 * the expansion passes: their values are not expanded, as in uWSGI.
 */
export function readInherited(reading: IniReading, file: string, path: string, ctx: IniReadContext): void {
  const reader = new IniReader(ctx, magicTable(topMagic(ctx, file, path, undefined)), reading, true);
  reader.readInherits();
}

function topMagic(ctx: IniReadContext, file: string, path: string, section: string | undefined) {
  const magicPath = ctx.magicFile === undefined ? path : isAbsolute(ctx.magicFile) ? ctx.magicFile : join(ctx.cwd, ctx.magicFile);
  return {
    file: magicPath,
    // uWSGI cuts the `:section` off the name while the file is read, so %o is the name alone.
    givenName: ctx.magicFile ?? file,
    section: section ?? '',
    vassalsDir: ctx.vassalsDir,
    nowMs: ctx.nowMs,
    host: ctx.host,
    ...(ctx.inode === undefined ? {} : {inode: ctx.inode}),
  };
}

class IniReader {
  readonly #ctx: IniReadContext;
  readonly #vassalLetters: ReadonlyMap<string, string>;
  readonly #reading: IniReading;
  readonly #inheriting: boolean;
  #block: OpenBlock | undefined;
  #running = false;
  #lastFile: string | undefined;
  #files = 0;
  #failed = false;

  constructor(ctx: IniReadContext, vassalLetters: ReadonlyMap<string, string>, reading?: IniReading, inheriting = false) {
    this.#ctx = ctx;
    this.#vassalLetters = vassalLetters;
    this.#reading = reading ?? {entries: [], inherits: [], diagnostics: []};
    this.#inheriting = inheriting;
  }

  result(): IniReading {
    return this.#reading;
  }

  /** Reads one file's text: magic variables in its own context, then its section's entries in order. */
  readText(label: string, path: string, text: string, section: string | undefined, depth: number, letters?: ReadonlyMap<string, string>): void {
    const magic = substituteMagic(text, letters ?? this.#vassalLetters);
    const read = readIniSection(label, magic.text, section ?? DEFAULT_INI_SECTION);
    if (read.problems.length > 0) return this.#fail(...read.problems);
    this.#lastFile = path;
    if (!read.found) {
      // uWSGI warns and reads nothing; for the vassal file itself kaiser stops, as nothing would run.
      const missing = {section: section ?? DEFAULT_INI_SECTION};
      if (depth === 0 && !this.#inheriting) return this.#fail(configError({file: label}, 'KAISER_CONFIG_NO_SECTION', missing));
      this.#reading.diagnostics.push(configWarning({file: label}, 'KAISER_CONFIG_NO_SECTION', missing));
    }
    const sectionName = section ?? DEFAULT_INI_SECTION;
    for (const entry of read.entries) {
      if (this.#failed) return;
      const line = magic.lineOf[entry.line - 1] ?? entry.line;
      this.#add({key: entry.key, value: entry.value, file: label, line, section: sectionName}, depth);
    }
  }

  /** Reads the queued `inherit =` templates, including those they queue themselves. */
  readInherits(): void {
    for (let i = 0; i < this.#reading.inherits.length && !this.#failed; i++) {
      const item = this.#reading.inherits[i];
      if (item !== undefined) this.#include(item.target, 'inherit', 1, item.where);
    }
  }

  #add(entry: Omit<ReadEntry, 'role'>, depth: number): void {
    const {key, value} = entry;
    const where = locationOf(entry);
    if (!this.#running) {
      if (LOGIC_CLOSERS.has(key)) {
        this.#block = undefined;
        return this.#push({...entry, role: 'consumed'});
      }
      if (this.#block !== undefined) return this.#runBlock(this.#block, entry, depth);
    }
    if (logicOpener(key) !== undefined) {
      if (this.#block !== undefined) {
        return this.#fail(configError(where, 'KAISER_CONFIG_LOGIC', {reason: `"${key}" inside the "${this.#block.key}" block of line ${this.#block.where.line ?? '?'}: uWSGI has no nested blocks`}));
      }
      this.#block = {key, arg: value, where};
      return this.#push({...entry, role: 'consumed'});
    }
    switch (key) {
      case 'ini':
      case 'include':
        this.#push({...entry, role: 'consumed'});
        return this.#include(value, key, depth + 1, where);
      case 'inherit':
        this.#push({...entry, role: 'consumed'});
        this.#reading.inherits.push({target: value, where});
        return;
      case 'set':
      case 'set-placeholder':
      case 'set-ph':
        this.#push({...entry, role: 'consumed'});
        return this.#set(entry, key !== 'set');
      default:
        return this.#push({...entry, role: 'option'});
    }
  }

  #set(entry: Omit<ReadEntry, 'role'>, placeholderOnly: boolean): void {
    const where = locationOf(entry);
    const eq = entry.value.indexOf('=');
    if (eq === -1) return this.#fail(configError(where, 'KAISER_CONFIG_BAD_VALUE', {key: entry.key, reason: 'expected name=value'}));
    const name = entry.value.slice(0, eq);
    if (placeholderOnly && isUwsgiOptionName(name)) {
      return this.#fail(configError(where, 'KAISER_CONFIG_BAD_VALUE', {key: entry.key, reason: `"${name}" is an option, so it cannot be a placeholder (use set = ${name}=…)`}));
    }
    this.#push({...entry, key: name, value: entry.value.slice(eq + 1), role: placeholderOnly ? 'placeholder' : 'option'});
  }

  #runBlock(block: OpenBlock, entry: Omit<ReadEntry, 'role'>, depth: number): void {
    const rule = logicOpener(block.key);
    if (rule === undefined) throw new Error(`Internal error: ${block.key} opens no block`);
    const outcome = rule(block.arg, this.#logicContext());
    if ('error' in outcome) return this.#fail(configError(block.where, 'KAISER_CONFIG_LOGIC', {reason: outcome.error}));
    this.#running = true;
    try {
      for (const datum of outcome.datums) {
        if (this.#failed) return;
        this.#add({...entry, value: datum === null ? entry.value : entry.value.split('%(_)').join(datum)}, depth);
      }
    } finally {
      this.#running = false;
    }
  }

  #logicContext(): LogicContext {
    return {
      env: this.#ctx.env,
      fs: this.#ctx.fs,
      cwd: this.#ctx.cwd,
      hostname: this.#ctx.host.hostname,
      optionValue: (key) => this.#reading.entries.find((e) => e.key === key)?.value,
    };
  }

  /** `ini =`, `include =` or `inherit =`: read the named file's section here. */
  #include(spec: string, how: 'ini' | 'include' | 'inherit', depth: number, where: DiagnosticLocation): void {
    const fail = (reason: string) => this.#fail(configError(where, 'KAISER_CONFIG_INCLUDE', {target: spec, reason}));
    if (depth > CONFIG_LIMITS.includeDepth) return fail(`includes nest deeper than ${CONFIG_LIMITS.includeDepth} (does a file include itself?)`);
    if (++this.#files > CONFIG_LIMITS.includedFiles) return fail(`more than ${CONFIG_LIMITS.includedFiles} included files`);
    const {path: written, section} = splitIniSelector(spec);
    if (written !== '' && !/\.ini$/i.test(written) && how !== 'ini') {
      return fail('kaiser includes ini files only (xml, yaml and json configs are not supported)');
    }
    const path = written === '' ? this.#lastFile : isAbsolute(written) ? written : join(this.#ctx.cwd, written);
    if (path === undefined) return fail('no file was read before, so ":section" names nothing');
    const read = this.#ctx.fs.readFile(path, CONFIG_LIMITS.fileBytes);
    if (!read.ok) return fail(read.error);
    const letters = withVassalLetters(
      magicTable({file: path, givenName: written, section: section ?? '', vassalsDir: this.#ctx.vassalsDir, nowMs: this.#ctx.nowMs, host: this.#ctx.host}),
      this.#vassalLetters,
    );
    const label = written === '' ? (this.#lastFile ?? spec) : written;
    this.readText(label, path, read.value.toString('utf8').replace(/^\uFEFF/, ''), section, depth, letters);
  }

  #push(entry: ReadEntry): void {
    const entries = this.#reading.entries;
    if (entries.length >= CONFIG_LIMITS.entries) {
      return this.#fail(configError(locationOf(entry), 'KAISER_CONFIG_EXPANSION', {key: entry.key, reason: `the config holds more than ${CONFIG_LIMITS.entries} entries`}));
    }
    entries.push(this.#inheriting ? {...entry, inherited: true} : entry);
  }

  #fail(...problems: Diagnostic[]): void {
    this.#failed = true;
    this.#reading.diagnostics.push(...problems);
  }
}

function locationOf(entry: {file: string; line?: number; section?: string; key: string}): DiagnosticLocation {
  return {file: entry.file, key: entry.key, ...(entry.line === undefined ? {} : {line: entry.line}), ...(entry.section === undefined ? {} : {section: entry.section})};
}
