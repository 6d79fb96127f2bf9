/**
 * How much work one vassal's config may ask for (issue 14, "bounded work"). uWSGI expands `%(…)`, `$(…)`, `@(…)`
 * and includes without limits: a 600-byte placeholder chain grows exponentially, a file that includes itself
 * recurses until the stack ends. kaiser reads hostile tenants' files inside the emperor, so every step that can
 * multiply work has a ceiling, and passing one is a config error naming the file, the key and the limit, never a
 * hang, an out-of-memory or an uncaught RangeError. The figures are far above what real files use (the corpus in
 * test/corpus/: the largest expanded value is a few hundred bytes, the deepest include chain 2).
 */

/** The ceilings; one object so tests and docs/errors.md quote the same numbers. */
export const CONFIG_LIMITS = {
  /** A config file (vassal, included, inherited, defaults) larger than this is refused. */
  fileBytes: 1024 * 1024,
  /** `@(file)` contents larger than this are refused. */
  atFileBytes: 64 * 1024,
  /** An expanded value longer than this (in UTF-16 units, about bytes for ASCII) stops the expansion. */
  valueBytes: 64 * 1024,
  /** Substitutions of `$(…)`, `@(…)` and `%(…)` in one config, all values together. */
  substitutions: 10_000,
  /** Characters the expansion passes may scan in one config (each substitution rescans its value). */
  scannedChars: 8_000_000,
  /** `ini =` / `include =` / `inherit =` nesting. */
  includeDepth: 16,
  /** Files one config may read through includes and inherits. */
  includedFiles: 64,
  /** Entries one config may hold after includes and `for` blocks. */
  entries: 10_000,
} as const;
