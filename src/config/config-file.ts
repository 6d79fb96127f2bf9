/**
 * One config file's text → expanded `ConfigEntry`s. Owns what every file goes through before its options are
 * checked: the size limit, picking the format by extension (`.ini`, `.toml`), and the expansion:
 *   - ini, uWSGI's format, as uWSGI 2.0 reads it (`ini-reading.ts`: magic variables per file, includes, logic
 *     blocks, `set-placeholder`), then its three passes over every value (`expansion.ts`: `$(ENV)`, `@(file)`,
 *     `%(name)`), then the `inherit =` templates, unexpanded;
 *   - TOML, kaiser's own format: magic variables and `$(ENV)` per string value, then the `%(name)` pass.
 * It also works out which unknown keys are placeholders (looked up as `%(name)`, or set with `set-placeholder`) and
 * whether the file is strict: an ini file is lenient unless it sets `strict = true` (uWSGI accepts unknown keys
 * silently; kaiser warns); a TOML file is always strict. Every step is bounded (`config-limits.ts`). Reading other
 * files goes through an injectable `ConfigFs`: the caller passes the file's own text.
 */
import {basename, dirname, extname, isAbsolute, join, resolve} from 'node:path';
import {err, ok, type Result} from '../result.js';
import {isRawTable, type ConfigEntry, type RawValue} from './config-entry.js';
import {REAL_CONFIG_FS, type ConfigFs} from './config-fs.js';
import {CONFIG_LIMITS} from './config-limits.js';
import {configError, hasErrors, type Diagnostic} from './diagnostic.js';
import {applyExpansionPass, expansionBudget, resolvePlaceholder, type ExpansionBudget, type ExpansionSlot, type Resolution} from './expansion.js';
import {readIniConfig, readInherited, type IniReadContext, type ReadEntry} from './ini-reading.js';
import {expandEnvRefs, expandMagicVars, magicTable, type HostFacts} from './magic-vars.js';
import {parseToml} from './toml.js';

/** Larger config files are refused: a vassal file is a few lines, a huge one is a mistake or an attack. */
export const MAX_CONFIG_BYTES = CONFIG_LIMITS.fileBytes;

/** The formats kaiser reads, by file extension. */
export type ConfigFormat = 'ini' | 'toml';

/** What expansion needs to know beyond the text. */
export interface ConfigFileContext {
  /** Directory relative file names are resolved against. */
  readonly cwd: string;
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly host: HostFacts;
  /** Wall-clock ms since the epoch, for `%t`/`%T`. */
  readonly nowMs: number;
  /** The emperor's vassal directory (`%v`); default: the file's directory. */
  readonly vassalsDir?: string;
  /** Inode of the file (`%i`), if the caller stat'ed it. */
  readonly inode?: number;
  /** The ini section to read (`file.ini:section`); default `uwsgi`. */
  readonly section?: string;
  /**
   * The file magic variables describe, when not `file` itself: vassal defaults are expanded in the context of the
   * vassal they apply to, so `%n` in `_defaults.toml` is the vassal's name (uwsgi-docs #471).
   */
  readonly magicFile?: string;
  /** Reads included files and answers `if-exists`; default the real filesystem, bounded. */
  readonly fs?: ConfigFs;
}

/** A parsed, expanded config file. */
export interface ConfigFile {
  /** Absolute path. */
  readonly path: string;
  readonly format: ConfigFormat;
  /** Every option occurrence in the order uWSGI applies them, values fully expanded. */
  readonly entries: readonly ConfigEntry[];
  /** Unknown keys that are placeholders (looked up as `%(name)` or set with `set-placeholder`): not even a warning. */
  readonly placeholders: ReadonlySet<string>;
  /** Unknown keys are errors (TOML, or an ini file with `strict = true`), not warnings. */
  readonly strict: boolean;
  /** Problems that do not stop the file (a section missing from an included file). */
  readonly warnings: readonly Diagnostic[];
  /**
   * ini only: every key read, in uWSGI's order, with its final value, as `uwsgi --show-config` lists them
   * (included files' keys, consumed keys such as `ini` and `endif`, placeholders, then inherited keys).
   */
  readonly exported?: readonly {readonly key: string; readonly value: string}[];
}

/**
 * How strict option checks are for `file`: an ini file without `strict = true` treats unknown keys as uWSGI does
 * (accepted; kaiser warns), and its keys looked up as `%(name)` are placeholders; under `strict` every unknown key
 * is an error, as uWSGI's "[strict-mode] unknown config directive" (set-placeholder names are not entries at all).
 * TOML files are strict but keep their placeholders.
 */
export function collectRulesOf(file: ConfigFile): {placeholders: ReadonlySet<string>; unknownKeys: 'error' | 'warning'; lenientNumbers: boolean} {
  if (file.format === 'toml') return {placeholders: file.placeholders, unknownKeys: 'error', lenientNumbers: false};
  // uWSGI's strict mode is about unknown keys only: numbers are still read with atoi.
  return file.strict
    ? {placeholders: new Set(), unknownKeys: 'error', lenientNumbers: true}
    : {placeholders: file.placeholders, unknownKeys: 'warning', lenientNumbers: true};
}

/**
 * The `_opt` extra of `KAISER_CONFIG`: every key the file set, in order, as a flat [key, value, …] list (the Python
 * `uwsgi.opt` is built from it): for ini files what `uwsgi --show-config` would list, for TOML its string, number
 * and flag values.
 */
export function optionList(file: ConfigFile): string[] {
  const pairs = file.exported ?? file.entries.filter((e) => typeof e.value !== 'object').map((e) => ({key: e.key, value: String(e.value)}));
  return pairs.flatMap(({key, value}) => [key, value]);
}

/** The format of `file` by its extension, or undefined. */
export function configFormatOf(file: string): ConfigFormat | undefined {
  const ext = extname(file).toLowerCase();
  return ext === '.ini' ? 'ini' : ext === '.toml' ? 'toml' : undefined;
}

/** Parses and expands `text`, the content of `file` (as the operator named it: diagnostics show it so). */
export function parseConfigFile(file: string, text: string | Buffer, ctx: ConfigFileContext): Result<ConfigFile, Diagnostic[]> {
  const sizeBytes = typeof text === 'string' ? Buffer.byteLength(text, 'utf8') : text.length;
  if (sizeBytes > MAX_CONFIG_BYTES) {
    return err([configError({file}, 'KAISER_CONFIG_TOO_LARGE', {sizeBytes, limitBytes: MAX_CONFIG_BYTES})]);
  }
  const format = configFormatOf(file);
  if (format === undefined) return err([configError({file}, 'KAISER_CONFIG_FORMAT', {extension: extname(file) || basename(file)})]);
  const source = (typeof text === 'string' ? text : text.toString('utf8')).replace(/^\uFEFF/, '');
  const path = resolve(ctx.cwd, file);
  return format === 'ini' ? parseIniFile(file, path, source, ctx) : parseTomlFile(file, path, source, ctx);
}

function parseIniFile(file: string, path: string, text: string, ctx: ConfigFileContext): Result<ConfigFile, Diagnostic[]> {
  const fs = ctx.fs ?? REAL_CONFIG_FS;
  const readCtx: IniReadContext = {
    cwd: ctx.cwd,
    env: ctx.env,
    host: ctx.host,
    nowMs: ctx.nowMs,
    vassalsDir: ctx.vassalsDir ?? dirname(path),
    fs,
    ...(ctx.inode === undefined ? {} : {inode: ctx.inode}),
    ...(ctx.magicFile === undefined ? {} : {magicFile: ctx.magicFile}),
  };
  const reading = readIniConfig(file, path, text, ctx.section, readCtx);
  if (hasErrors(reading.diagnostics)) return err(reading.diagnostics);

  const entries = reading.entries;
  const slots: ReadEntry[] = entries.filter((entry) => entry.role === 'option');
  // The first entry of each name answers lookups (uwsgi_get_exported_opt); its value changes as the passes go.
  const firstOf = new Map<string, ReadEntry>();
  for (const entry of entries) if (!firstOf.has(entry.key)) firstOf.set(entry.key, entry);
  const referenced = new Set<string>();
  const lookup = (name: string): string | undefined => {
    referenced.add(name);
    return firstOf.get(name)?.value;
  };
  const failure = runPasses(slots, ctx, fs, lookup);
  if (failure !== undefined) return err([failure]);

  if (reading.inherits.length > 0) {
    readInherited(reading, file, path, readCtx);
    if (hasErrors(reading.diagnostics)) return err(reading.diagnostics);
  }
  const options = entries.filter((entry) => entry.role === 'option').map(toConfigEntry);
  for (const entry of entries) if (entry.role === 'placeholder') referenced.add(entry.key);
  const strictEntry = [...options].reverse().find((entry) => entry.key === 'strict');
  return ok({
    path,
    format: 'ini',
    entries: options,
    placeholders: referenced,
    strict: strictEntry !== undefined && isTrue(String(strictEntry.value)),
    warnings: reading.diagnostics,
    exported: entries.map((entry) => ({key: entry.key, value: entry.value})),
  });
}

/** `$(ENV)`, then `@(file)`, then `%(name)` over the option values, as uWSGI runs its passes. */
function runPasses(slots: ReadEntry[], ctx: ConfigFileContext, fs: ConfigFs, lookup: (name: string) => string | undefined): Diagnostic | undefined {
  const budget = expansionBudget();
  const passes: [symbol: '$' | '@' | '%', resolve: (name: string) => Resolution][] = [
    ['$', (name) => ctx.env[name]],
    ['@', (name) => readAtFile(name, ctx.cwd, fs)],
    ['%', (name) => resolvePlaceholder(name, lookup)],
  ];
  for (const [symbol, resolveRef] of passes) {
    const failed = applyExpansionPass(slots, symbol, resolveRef, budget);
    if (failed !== undefined) return expansionError(failed.slot as ReadEntry, failed.reason);
  }
  return undefined;
}

/** uWSGI's `@(file)`: the file's content, one trailing newline removed. URLs and `exec://` are not read. */
function readAtFile(name: string, cwd: string, fs: ConfigFs): Resolution {
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(name)) return {error: `@(${name}): kaiser reads plain files only (no URLs, exec:// or other schemes)`};
  const read = fs.readFile(isAbsolute(name) ? name : join(cwd, name), CONFIG_LIMITS.atFileBytes);
  if (!read.ok) return {error: `@(${name}): ${read.error}`};
  return read.value.toString('utf8').replace(/[\r\n]$/, '');
}

function expansionError(entry: ConfigEntry, reason: string): Diagnostic {
  return configError(
    {file: entry.file, key: entry.key, ...(entry.line === undefined ? {} : {line: entry.line}), ...(entry.section === undefined ? {} : {section: entry.section})},
    'KAISER_CONFIG_EXPANSION',
    {key: entry.key, reason},
  );
}

function toConfigEntry(entry: ReadEntry): ConfigEntry {
  return {
    key: entry.key,
    value: entry.value,
    file: entry.file,
    ...(entry.line === undefined ? {} : {line: entry.line}),
    ...(entry.section === undefined ? {} : {section: entry.section}),
  };
}

/** uWSGI's flag reading: `false`, `off`, `no` (any case) and `0` are false, anything else true. */
export function isTrue(value: string): boolean {
  return !/^(false|off|no)$/i.test(value) && value !== '0';
}

function parseTomlFile(file: string, path: string, text: string, ctx: ConfigFileContext): Result<ConfigFile, Diagnostic[]> {
  const parsed = parseToml(file, text);
  if (!parsed.ok) return parsed;
  const magicPath = ctx.magicFile === undefined ? path : resolve(ctx.cwd, ctx.magicFile);
  const table = magicTable({
    file: magicPath,
    givenName: ctx.magicFile ?? file,
    section: '',
    vassalsDir: ctx.vassalsDir ?? dirname(magicPath),
    nowMs: ctx.nowMs,
    host: ctx.host,
    ...(ctx.inode === undefined ? {} : {inode: ctx.inode}),
  });
  const early = (value: string): string => expandEnvRefs(expandMagicVars(value, table), ctx.env);
  const entries: ConfigEntry[] = parsed.value.map((entry) => ({...entry, value: mapStrings(entry.value, early)}));

  // Each string inside each value is a slot of the `%(name)` pass; lookups see scalar values only.
  const slots: TomlSlot[] = [];
  entries.forEach((entry, index) => collectSlots(entry.value, entry.key, `${index}`, slots));
  const byPath = new Map(slots.map((slot) => [slot.path, slot]));
  const referenced = new Set<string>();
  const lookup = (name: string): string | undefined => {
    referenced.add(name);
    const index = entries.findIndex((entry) => entry.key === name && typeof entry.value !== 'object');
    const found = entries[index];
    return found === undefined ? undefined : (byPath.get(`${index}`)?.value ?? String(found.value));
  };
  const budget: ExpansionBudget = expansionBudget();
  const failed = applyExpansionPass(slots, '%', (name) => resolvePlaceholder(name, lookup), budget);
  if (failed !== undefined) {
    const entry = entries[Number((failed.slot as TomlSlot).path.split('.')[0])];
    if (entry === undefined) throw new Error('Internal error: expansion slot without its entry');
    return err([expansionError(entry, failed.reason)]);
  }
  const expanded = entries.map((entry, index) => ({...entry, value: rebuild(entry.value, `${index}`, byPath)}));
  return ok({path, format: 'toml', entries: expanded, placeholders: referenced, strict: true, warnings: []});
}

/** A string inside a TOML value; `path` is the entry index, then the index at each level: `3.0.2`. */
type TomlSlot = ExpansionSlot & {readonly path: string};

function collectSlots(value: RawValue, key: string, path: string, out: TomlSlot[]): void {
  if (typeof value === 'string') out.push({key, value, path});
  else if (Array.isArray(value)) (value as readonly RawValue[]).forEach((item, i) => collectSlots(item, key, `${path}.${i}`, out));
  else if (typeof value === 'object' && isRawTable(value)) Object.values(value).forEach((item, i) => collectSlots(item, key, `${path}.${i}`, out));
}

function rebuild(value: RawValue, path: string, byPath: ReadonlyMap<string, TomlSlot>): RawValue {
  if (typeof value === 'string') return byPath.get(path)?.value ?? value;
  if (Array.isArray(value)) return (value as readonly RawValue[]).map((item, i) => rebuild(item, `${path}.${i}`, byPath));
  if (typeof value === 'object' && isRawTable(value)) {
    const table: Record<string, RawValue> = {};
    Object.entries(value).forEach(([k, v], i) => (table[k] = rebuild(v, `${path}.${i}`, byPath)));
    return table;
  }
  return value;
}

function mapStrings(value: RawValue, fn: (s: string) => string): RawValue {
  if (typeof value === 'string') return fn(value);
  if (Array.isArray(value)) return (value as readonly RawValue[]).map((item) => mapStrings(item, fn));
  if (typeof value === 'object' && isRawTable(value)) {
    const table: Record<string, RawValue> = {};
    for (const [k, v] of Object.entries(value)) table[k] = mapStrings(v, fn);
    return table;
  }
  return value;
}
