/**
 * One config file's text → expanded `ConfigEntry`s. Owns what every file goes through before its options are
 * checked: the size limit, picking the format by extension (`.ini`, `.toml`), and uWSGI's expansion order (magic
 * `%x` vars in this file's context, then `$(ENV)`, then `%(name)` placeholders, §14). It also works out which keys
 * are placeholders rather than options: those some value refers to as `%(name)`, and those set with
 * `set-placeholder`/`set-ph = name=value`. No I/O: the caller reads the file.
 */
import {basename, dirname, extname, resolve} from 'node:path';
import {err, ok, type Result} from '../result.js';
import {isRawTable, type ConfigEntry, type RawValue} from './config-entry.js';
import {configError, type Diagnostic} from './diagnostic.js';
import {DEFAULT_INI_SECTION, parseIni} from './ini.js';
import {expandEnvRefs, expandMagicVars, expandPlaceholders, magicTable, placeholderRefs, type HostFacts} from './magic-vars.js';
import {parseToml} from './toml.js';
import {findOption} from '../options.js';

/** Larger config files are refused: a vassal file is a few lines, a huge one is a mistake or an attack. */
export const MAX_CONFIG_BYTES = 1024 * 1024;

/** The formats kaiser reads, by file extension. */
export type ConfigFormat = 'ini' | 'toml';

/** Keys that define a placeholder instead of setting an option (uWSGI's `set-placeholder`). */
const PLACEHOLDER_SETTERS = new Set(['set-placeholder', 'set-ph']);

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
}

/** A parsed, expanded config file. */
export interface ConfigFile {
  /** Absolute path. */
  readonly path: string;
  readonly format: ConfigFormat;
  /** Every key occurrence except placeholder setters, values fully expanded. */
  readonly entries: readonly ConfigEntry[];
  /** Keys that are placeholders, so unknown-key errors skip them. */
  readonly placeholders: ReadonlySet<string>;
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
  const section = ctx.section ?? DEFAULT_INI_SECTION;
  const parsed = format === 'ini' ? parseIniEntries(file, source, section) : parseToml(file, source);
  if (!parsed.ok) return parsed;

  const path = resolve(ctx.cwd, file);
  const magicPath = ctx.magicFile === undefined ? path : resolve(ctx.cwd, ctx.magicFile);
  const table = magicTable({
    file: magicPath,
    givenName: ctx.magicFile ?? file,
    section: format === 'ini' ? section : '',
    vassalsDir: ctx.vassalsDir ?? dirname(magicPath),
    nowMs: ctx.nowMs,
    host: ctx.host,
    ...(ctx.inode === undefined ? {} : {inode: ctx.inode}),
  });
  const early = (value: string): string => expandEnvRefs(expandMagicVars(value, table), ctx.env);
  const expanded = parsed.value.map((entry) => ({...entry, value: mapStrings(entry.value, early)}));
  return ok(resolvePlaceholders(path, format, expanded));
}

function parseIniEntries(file: string, text: string, section: string): Result<ConfigEntry[], Diagnostic[]> {
  const parsed = parseIni(file, text, section);
  if (!parsed.ok) return parsed;
  return ok(parsed.value.map((entry) => ({key: entry.key, value: entry.value, line: entry.line, section, file})));
}

function resolvePlaceholders(path: string, format: ConfigFormat, entries: readonly ConfigEntry[]): ConfigFile {
  const known = new Map<string, string>();
  const referenced = new Set<string>();
  const options: ConfigEntry[] = [];
  for (const entry of entries) {
    if (PLACEHOLDER_SETTERS.has(entry.key) && typeof entry.value === 'string') {
      const eq = entry.value.indexOf('=');
      if (eq > 0) known.set(entry.value.slice(0, eq).trim(), entry.value.slice(eq + 1).trim());
      continue;
    }
    options.push(entry);
    forEachString(entry.value, (s) => placeholderRefs(s).forEach((name) => referenced.add(name)));
  }
  // A key's value is reachable by the name written and by the canonical option name; the last occurrence wins.
  for (const entry of options) {
    const text = scalarText(entry.value);
    if (text === undefined) continue;
    known.set(entry.key, text);
    const canonical = findOption(entry.key)?.name;
    if (canonical !== undefined) known.set(canonical, text);
  }
  const lookup = (name: string): string | undefined => known.get(name);
  const expanded = options.map((entry) => ({...entry, value: mapStrings(entry.value, (s) => expandPlaceholders(s, lookup))}));
  return {path, format, entries: expanded, placeholders: referenced};
}

function scalarText(value: RawValue): string | undefined {
  return typeof value === 'object' ? undefined : String(value);
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

function forEachString(value: RawValue, fn: (s: string) => void): void {
  mapStrings(value, (s) => {
    fn(s);
    return s;
  });
}
