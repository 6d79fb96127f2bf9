/**
 * TOML vassal files, through the `toml` package: keys sit at the top level (`processes = 4`), and a `[uwsgi]` table
 * is accepted too, for uWSGI users who copy their ini layout. Owns turning the parsed document into `ConfigEntry`s
 * and finding each key's line by scanning the text (the parser does not report where values were), and turning
 * the package's two error shapes (grammar errors with `location`, semantic errors with `line`/`column`) into a
 * `KAISER_CONFIG_PARSE` diagnostic with the line.
 */
import toml from 'toml';
import {err, ok, type Result} from '../result.js';
import {isRawTable, type ConfigEntry, type RawTable, type RawValue} from './config-entry.js';
import {configError, type Diagnostic} from './diagnostic.js';

/** The table uWSGI users put their options in; its keys count as top-level keys. */
export const UWSGI_TABLE = 'uwsgi';

/** Entries of a TOML vassal file, in document order, or the parse error with its line. */
export function parseToml(file: string, text: string): Result<ConfigEntry[], Diagnostic[]> {
  let document: RawTable;
  try {
    document = toRaw(toml.parse(text)) as RawTable;
  } catch (error) {
    return err([parseDiagnostic(file, error)]);
  }
  const entries: ConfigEntry[] = [];
  for (const [key, value] of Object.entries(document)) {
    if (key === UWSGI_TABLE && isRawTable(value)) {
      for (const [innerKey, innerValue] of Object.entries(value)) {
        entries.push(entryAt(file, text, innerKey, innerValue, UWSGI_TABLE));
      }
    } else {
      entries.push(entryAt(file, text, key, value, undefined));
    }
  }
  return ok(entries);
}

function entryAt(file: string, text: string, key: string, value: RawValue, section: string | undefined): ConfigEntry {
  const line = findTomlKeyLine(text, key, section);
  return {key, value, file, ...(line === undefined ? {} : {line}), ...(section === undefined ? {} : {section})};
}

/**
 * The 1-based line where `key` is set in `text` (`key = …`, `"key" = …`, `key.sub = …`, or a `[key]` table
 * header), inside `table` when given, else at the top level. Undefined if not found (e.g. an exotic quoting).
 */
export function findTomlKeyLine(text: string, key: string, table?: string): number | undefined {
  const name = `(?:${escapeRegExp(key)}|"${escapeRegExp(key)}"|'${escapeRegExp(key)}')`;
  const assignment = new RegExp(`^\\s*${name}\\s*[.=]`);
  const prefix = table === undefined ? '' : `${escapeRegExp(table)}\\s*\\.\\s*`;
  const header = new RegExp(`^\\s*\\[\\[?\\s*${prefix}${name}\\s*[.\\]]`);
  let current: string | undefined; // the table the following lines belong to; undefined = top level
  const lines = text.split(/\r?\n/);
  for (const [index, line] of lines.entries()) {
    if (header.test(line)) return index + 1;
    const tableHeader = /^\s*\[\[?\s*([^\]]*?)\s*\]/.exec(line);
    if (tableHeader !== null) {
      current = tableHeader[1];
      continue;
    }
    if (current === table && assignment.test(line)) return index + 1;
  }
  return undefined;
}

// The toml package throws a peggy SyntaxError ({location: {start: {line, column}}}) for grammar errors, and a
// plain Error with {line, column} for semantic ones such as a redefined key.
function parseDiagnostic(file: string, error: unknown): Diagnostic {
  const shaped = error as {message?: unknown; line?: unknown; location?: {start?: {line?: unknown}}};
  const lineValue = shaped.location?.start?.line ?? shaped.line;
  const line = typeof lineValue === 'number' ? lineValue : undefined;
  const reason = typeof shaped.message === 'string' ? shaped.message : String(error);
  return configError({file, ...(line === undefined ? {} : {line})}, 'KAISER_CONFIG_PARSE', {format: 'TOML', reason});
}

// Dates become ISO strings, so every value is plain data (no option takes a date).
function toRaw(value: unknown): RawValue {
  if (value instanceof Date) return value.toISOString();
  if (Array.isArray(value)) return value.map(toRaw);
  if (typeof value === 'object' && value !== null) {
    const table: Record<string, RawValue> = {};
    for (const [k, v] of Object.entries(value)) table[k] = toRaw(v);
    return table;
  }
  if (typeof value === 'bigint') return Number(value);
  if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') return value;
  return String(value);
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
