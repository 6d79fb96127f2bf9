/**
 * `kaiser --help`, the README's option reference and the man page's option sections, all generated from the option
 * table (`src/options.ts`), the config-file flags and the subcommand list (`argv.ts`) and the exit codes
 * (`src/exit-codes.ts`), so none of them can drift from what the parser accepts.
 *
 * Each option is listed once, in the group where it applies first (general, emperor, app server, command vassal,
 * any vassal file), with a note naming the other places it applies. What the command line accepts is shown as a flag
 * (`--processes N`); keys that only vassal files accept are shown as keys (`stop-timeout = S`), because the command
 * line refuses them. Terminal text is wrapped to the given width (the terminal's, or 80 when not a terminal).
 */
import {EXIT_CODE_HELP} from '../exit-codes.js';
import {OPTIONS, type OptionScope, type OptionSpec} from '../options.js';
import {CONFIG_FILE_OPTIONS, SUBCOMMAND_SUMMARIES} from './argv.js';

/** Where a group's entries are written: on the command line (`--name`) or in a vassal file (`name = …`). */
type Spelling = 'flag' | 'key';

/** One group of the help, in print order. */
export interface HelpGroup {
  readonly id: OptionScope | 'general';
  readonly title: string;
  readonly spelling: Spelling;
}

/** One printed entry: the option, the group it is listed in and how it is spelled there. */
export interface HelpEntry {
  readonly spec: OptionSpec;
  readonly group: HelpGroup;
}

/** Group titles, in the order they are printed. An option goes to the first group of its scopes. */
export const HELP_GROUPS: readonly HelpGroup[] = [
  {id: 'general', title: 'General', spelling: 'flag'},
  {id: 'emperor', title: 'Emperor (kaiser --emperor DIR …)', spelling: 'flag'},
  {id: 'server', title: 'App server (flags of kaiser --http …, or keys of an app-server vassal file)', spelling: 'flag'},
  {id: 'command', title: 'Command vassal (keys of a vassal file with exec = …)', spelling: 'key'},
  {id: 'vassal', title: 'Any vassal file (keys; the command line refuses them)', spelling: 'key'},
];

/** Options that are about kaiser itself, not about what it runs. */
const GENERAL_NAMES: ReadonlySet<string> = new Set(['help', 'version']);

/** Words for the "also" note of an option that applies in several places. */
const ALSO_WORDS: Readonly<Record<OptionScope, string>> = {
  emperor: 'the emperor',
  server: 'app servers',
  command: 'command vassal files',
  vassal: 'any vassal file',
};

/** Width of help text when the output is not a terminal. */
export const DEFAULT_HELP_WIDTH = 80;
const MIN_WIDTH = 40;
/** The flag column: wider flags put their description on the next line. */
const FLAG_COLUMN = 30;
/** Narrower than this, a right column is stacked under its left cell (a long word would overflow it otherwise). */
const MIN_RIGHT_COLUMN = 36;

/** Every option once, in group order, with its group. */
export function helpEntries(): HelpEntry[] {
  const all = [...CONFIG_FILE_OPTIONS, ...(OPTIONS as readonly OptionSpec[])];
  const entries: HelpEntry[] = [];
  for (const group of HELP_GROUPS) {
    for (const spec of all) if (groupOf(spec) === group) entries.push({spec, group});
  }
  return entries;
}

function groupOf(spec: OptionSpec): HelpGroup {
  const id = GENERAL_NAMES.has(spec.name) || CONFIG_FILE_OPTIONS.includes(spec) ? 'general' : HELP_GROUPS.find((g) => g.id !== 'general' && spec.scopes.includes(g.id as OptionScope))?.id;
  const group = HELP_GROUPS.find((g) => g.id === id);
  if (group === undefined) throw new Error(`Internal error: option ${spec.name} has no help group`);
  return group;
}

/** The names of an entry as written where its group applies: `--processes`, `-p`, or `stop-timeout`. */
export function optionNames({spec, group}: HelpEntry): string[] {
  const names = [spec.name, ...(spec.aliases ?? [])];
  return group.spelling === 'key' ? names : names.map((name) => (name.length === 1 ? `-${name}` : `--${name}`));
}

/** The value an entry takes as written: ` N`, ` = S`, or for a key that is a flag ` = true`. */
export function optionArgument({spec, group}: HelpEntry): string {
  if (group.spelling === 'key') return spec.arg === undefined ? ' = true' : ` = ${spec.arg}`;
  return spec.arg === undefined ? '' : ` ${spec.arg}`;
}

/** `--processes, --workers, -p N` or `stop-timeout = S`. */
export function optionLabel(entry: HelpEntry): string {
  return `${optionNames(entry).join(', ')}${optionArgument(entry)}`;
}

/** The help sentence with its notes: repeatable, default, where else it applies. */
export function optionDescription({spec, group}: HelpEntry): string {
  const others = group.id === 'general' ? [] : spec.scopes.filter((scope) => scope !== group.id).map((scope) => ALSO_WORDS[scope]);
  const notes = [
    spec.multi === true ? 'repeatable' : undefined,
    spec.default === undefined ? undefined : `default: ${String(spec.default)}`,
    others.length === 0 ? undefined : `also ${others.join(', ')}`,
  ].filter((note) => note !== undefined);
  return notes.length === 0 ? spec.help : `${spec.help} (${notes.join('; ')})`;
}

/** Options for `helpText`. */
export interface HelpOptions {
  /** Columns to fit in; default 80. */
  readonly width?: number;
}

/** The whole help text, ending in a newline, no line wider than `width` (except unbreakable words). */
export function helpText(version: string, options: HelpOptions = {}): string {
  const width = Math.max(MIN_WIDTH, Math.floor(options.width ?? DEFAULT_HELP_WIDTH));
  const out: string[] = [...wrap(`kaiser ${version}: an Emperor-style orchestrator speaking uWSGI's options`, width), '', 'Usage:'];
  out.push(
    ...twoColumns(
      [
        ['kaiser --emperor DIR [options]', 'govern a directory of vassal files (.ini, .toml)'],
        ["kaiser --emperor 'DIR/*.ini'", 'govern only the files of DIR matching a glob'],
        ['kaiser [--ini|--toml] FILE [options]', 'run one app server from a vassal file (FILE.ini:section picks a section)'],
        ['kaiser --http :9090 --wsgi-file app.py', 'run one app server from flags'],
        ['kaiser COMMAND [args]', 'talk to a running emperor, or manage a fleet (commands below)'],
        ['kaiser help [COMMAND]', 'this help, or the help of one command (also: kaiser COMMAND --help)'],
      ],
      width,
      0,
    ),
  );
  out.push('', 'Commands:', ...twoColumns(SUBCOMMAND_SUMMARIES.map(([name, summary]) => [name, summary]), width, 16));
  out.push(
    '',
    ...wrap('Flags take uWSGI forms: --name value, --name=value, --flag, -p 4, -M; list options repeat. The same names are keys in vassal files: processes = 4 ([uwsgi] section in .ini; top level or [uwsgi] in .toml).', width),
  );
  let current: HelpGroup | undefined;
  for (const entry of helpEntries()) {
    if (entry.group !== current) {
      current = entry.group;
      out.push('', ...wrap(`${current.title}:`, width));
    }
    out.push(...twoColumns([[optionLabel(entry), optionDescription(entry)]], width, FLAG_COLUMN));
  }
  out.push('', 'Exit codes:');
  out.push(...twoColumns(EXIT_CODE_HELP.map(([code, meaning]) => [String(code).padStart(3), meaning]), width, 5));
  out.push('', ...wrap('Errors print a KAISER_… code; docs/errors.md (and man kaiser) explains each one.', width));
  return `${out.join('\n')}\n`;
}

/**
 * Rows of `  left  right…`, the right column starting at `column` + 2 and wrapped to `width`; a left cell too wide
 * for the column puts its right cell on the next lines. A right cell that does not fit beside its left one (a narrow
 * terminal, or a word longer than the column) goes under it, indented by 6.
 */
export function twoColumns(rows: readonly (readonly [string, string])[], width: number, column: number): string[] {
  const lines: string[] = [];
  for (const [left, right] of rows) {
    const room = width - (column + 4);
    const beside = column > 0 && room >= MIN_RIGHT_COLUMN && right.split(/\s+/).every((word) => word.length <= room);
    const indent = ' '.repeat(beside ? column + 4 : 6);
    const wrapped = wrap(right, Math.max(20, width - indent.length));
    if (beside && left.length <= column) {
      lines.push(`  ${left.padEnd(column)}  ${wrapped[0] ?? ''}`.trimEnd());
      for (const more of wrapped.slice(1)) lines.push(`${indent}${more}`);
    } else {
      lines.push(...wrap(left, width - 2).map((part) => `  ${part}`));
      for (const more of wrapped) lines.push(`${indent}${more}`);
    }
  }
  return lines;
}

/** Greedy word wrap; a word longer than `width` is broken after a `/` or `|` if it has one, else stays whole. */
export function wrap(text: string, width: number): string[] {
  const lines: string[] = [];
  let line = '';
  const words = text.split(/\s+/).filter((w) => w !== '').flatMap((word) => (word.length > width ? splitAtSlashes(word, width) : [word]));
  for (const word of words) {
    if (line === '') line = word;
    else if (line.length + 1 + word.length <= width) line += ` ${word}`;
    else {
      lines.push(line);
      line = word;
    }
  }
  if (line !== '') lines.push(line);
  return lines;
}

/** `a/b|c` in pieces of at most `width` (a piece ends in its `/` or `|`); a piece with nowhere to break stays whole. */
function splitAtSlashes(word: string, width: number): string[] {
  const pieces: string[] = [];
  let piece = '';
  for (const part of word.split(/(?<=[/|])/)) {
    if (piece !== '' && piece.length + part.length > width) {
      pieces.push(piece);
      piece = '';
    }
    piece += part;
  }
  if (piece !== '') pieces.push(piece);
  return pieces;
}

/** The README's option reference: one markdown table per group, generated from the same entries as `--help`. */
export function optionsMarkdown(): string {
  const out: string[] = [];
  let current: HelpGroup | undefined;
  const cell = (text: string) => text.replace(/\|/g, '\\|');
  for (const entry of helpEntries()) {
    if (entry.group !== current) {
      if (current !== undefined) out.push('');
      current = entry.group;
      out.push(`#### ${current.title}`, '', '| Option | Default | Meaning |', '|---|---|---|');
    }
    const {spec} = entry;
    const names = `${optionNames(entry).map((name) => `\`${name}\``).join(', ')}${optionArgument(entry)}`;
    const description = optionDescription({spec: {...spec, default: undefined}, group: entry.group});
    out.push(`| ${cell(names)} | ${spec.default === undefined ? '' : `\`${String(spec.default)}\``} | ${cell(description)} |`);
  }
  out.push('');
  return out.join('\n');
}
