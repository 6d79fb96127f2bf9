/**
 * The uWSGI ini format, as uWSGI reads it: entries of one section (`[uwsgi]` unless another is picked with
 * `file.ini:section`), each with its 1-based line. Lines starting with `;` or `#` are comments; there are no
 * inline comments (everything after `=` is the value); keys and values are trimmed; a key without `=` or without
 * a value means `true`; a repeated key yields one entry per line, in order (the caller decides whether it appends
 * or the last one wins). Knows nothing of options: that is `collect-options.ts`'s job.
 */
import {err, ok, type Result} from '../result.js';
import {configError, type Diagnostic} from './diagnostic.js';

/** One `key = value` line of the chosen section. */
export interface IniEntry {
  readonly key: string;
  readonly value: string;
  /** 1-based line number in the file. */
  readonly line: number;
}

/** The section uWSGI reads when none is named. */
export const DEFAULT_INI_SECTION = 'uwsgi';

/**
 * Entries of `section` in `text`, or a diagnostic if the file has no such section or a malformed section header.
 * Sections with the same name are concatenated, like uWSGI's line-by-line reader.
 */
export function parseIni(file: string, text: string, section: string = DEFAULT_INI_SECTION): Result<IniEntry[], Diagnostic[]> {
  const entries: IniEntry[] = [];
  const problems: Diagnostic[] = [];
  let current: string | undefined;
  let sawSection = false;
  const lines = text.split(/\r?\n/);
  for (const [index, rawLine] of lines.entries()) {
    const line = index + 1;
    const trimmed = rawLine.trim();
    if (trimmed === '' || trimmed.startsWith(';') || trimmed.startsWith('#')) continue;
    if (trimmed.startsWith('[')) {
      if (!trimmed.endsWith(']')) {
        problems.push(configError({file, line}, 'KAISER_CONFIG_PARSE', {format: 'ini', reason: `section header without "]": ${trimmed}`}));
        current = undefined;
        continue;
      }
      current = trimmed.slice(1, -1).trim();
      if (current === section) sawSection = true;
      continue;
    }
    // Lines before the first header, and other sections, are not ours (uWSGI skips them too).
    if (current !== section) continue;
    const eq = trimmed.indexOf('=');
    const key = (eq === -1 ? trimmed : trimmed.slice(0, eq)).trim();
    const value = eq === -1 ? '' : trimmed.slice(eq + 1).trim();
    if (key === '') {
      problems.push(configError({file, line, section}, 'KAISER_CONFIG_PARSE', {format: 'ini', reason: `a line with a value but no key: ${trimmed}`}));
      continue;
    }
    // uWSGI: "a key without = or value means true".
    entries.push({key, value: value === '' ? 'true' : value, line});
  }
  if (!sawSection && problems.length === 0) {
    return err([configError({file}, 'KAISER_CONFIG_NO_SECTION', {section})]);
  }
  return problems.length > 0 ? err(problems) : ok(entries);
}

/**
 * Splits uWSGI's `file.ini:section` selector. A colon inside a directory name, or one not followed by a plain
 * section name, is part of the path.
 */
export function splitIniSelector(spec: string): {path: string; section: string | undefined} {
  const match = /^(.*\.ini):([\w.-]+)$/.exec(spec);
  return match?.[1] !== undefined && match[2] !== undefined
    ? {path: match[1], section: match[2]}
    : {path: spec, section: undefined};
}
