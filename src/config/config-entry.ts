/**
 * The shape every config source is reduced to before options are checked: one `ConfigEntry` per key occurrence,
 * carrying where it came from (file, line, section) so any later diagnostic can point at it. ini values are
 * strings; TOML values keep their TOML type (numbers, booleans, arrays, tables).
 */

/** A value as a config source gave it, before coercion to the option's type. */
export type RawValue = string | number | boolean | readonly RawValue[] | RawTable;

/** A TOML table (or inline table). */
export interface RawTable {
  readonly [key: string]: RawValue;
}

/** One occurrence of a key in a config source. */
export interface ConfigEntry {
  readonly key: string;
  readonly value: RawValue;
  /** The file as the operator named it, or `kaiser` for the command line. */
  readonly file: string;
  readonly line?: number;
  readonly section?: string;
  /** How diagnostics show the key, when not as `key` (the command line shows `--processes` or `-p`). */
  readonly label?: string;
}

/** Whether `value` is a table (not an array, not a scalar). */
export function isRawTable(value: RawValue): value is RawTable {
  return typeof value === 'object' && !Array.isArray(value);
}
