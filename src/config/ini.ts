/**
 * The uWSGI ini format, tokenized as uWSGI 2.0's `core/ini.c` does: entries of one section (`[uwsgi]` unless
 * another is picked with `file.ini:section`), each with its 1-based line. Lines split on `\n`; spaces, tabs and
 * `\r` are stripped at both ends of lines, keys and values (nothing else: a form feed is text); lines starting
 * with `;` or `#` are comments; there are no inline comments (everything after the first `=` is the value); a key
 * without `=` has the empty value (the option decides what that means: a flag reads it as true); a repeated key
 * yields one entry per line, in order; sections of the same name are concatenated. Knows nothing of options or
 * includes: `ini-reading.ts` does those.
 */
import {configError, type Diagnostic} from './diagnostic.js';

/** One `key = value` line of the chosen section. */
export interface IniEntry {
  readonly key: string;
  readonly value: string;
  /** 1-based line number in the file. */
  readonly line: number;
}

/** What one section of an ini text holds. */
export interface IniSection {
  readonly entries: IniEntry[];
  /** Whether a `[section]` header of that name appeared (uWSGI warns when not, and reads nothing). */
  readonly found: boolean;
  /** Malformed lines (a section header without `]`). */
  readonly problems: Diagnostic[];
}

/** The section uWSGI reads when none is named. */
export const DEFAULT_INI_SECTION = 'uwsgi';

/** uWSGI's ini_lstrip/ini_rstrip set: space, tab, carriage return. */
const INI_BLANKS = /^[ \t\r]+|[ \t\r]+$/g;

/** `text` without uWSGI's ini blanks at either end. */
export function iniStrip(text: string): string {
  return text.replace(INI_BLANKS, '');
}

/** The entries of `section` in `text` (the file's text after magic variables, as uWSGI reads it). */
export function readIniSection(file: string, text: string, section: string = DEFAULT_INI_SECTION): IniSection {
  const entries: IniEntry[] = [];
  const problems: Diagnostic[] = [];
  let current: string | undefined;
  let found = false;
  const lines = text.split('\n');
  for (const [index, rawLine] of lines.entries()) {
    const line = index + 1;
    const trimmed = iniStrip(rawLine);
    if (trimmed === '' || trimmed.startsWith(';') || trimmed.startsWith('#')) continue;
    if (trimmed.startsWith('[')) {
      // uWSGI drops the last character whatever it is; kaiser says so rather than read a section nobody named.
      if (!trimmed.endsWith(']')) {
        problems.push(configError({file, line}, 'KAISER_CONFIG_PARSE', {format: 'ini', reason: `section header without "]": ${trimmed}`}));
        current = undefined;
        continue;
      }
      current = trimmed.slice(1, -1);
      if (current === section) found = true;
      continue;
    }
    // Lines before the first header, and other sections, are not read (uWSGI skips them too).
    if (current !== section) continue;
    const eq = trimmed.indexOf('=');
    const key = iniStrip(eq === -1 ? trimmed : trimmed.slice(0, eq));
    const value = eq === -1 ? '' : iniStrip(trimmed.slice(eq + 1));
    entries.push({key, value, line});
  }
  return {entries, found, problems};
}

/**
 * Splits uWSGI's `file.ini:section` selector at the last colon, as uWSGI does, when what follows is a plain
 * section name (a colon inside a directory name followed by more path is part of the path). `:section` alone
 * (an empty path) means "another section of the file read last" inside an ini file.
 */
export function splitIniSelector(spec: string): {path: string; section: string | undefined} {
  const match = /^(.*):([^/:]+)$/.exec(spec);
  return match?.[1] === undefined || match[2] === undefined ? {path: spec, section: undefined} : {path: match[1], section: match[2]};
}
