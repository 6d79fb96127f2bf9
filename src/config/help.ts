/**
 * `kaiser --help`: usage lines, every option of `src/options.ts` grouped by where it applies (an option usable in
 * several places is listed in each group, so each group is complete), and the exit codes of `src/exit-codes.ts`.
 * Generated from the tables, so it cannot drift from what the parser accepts.
 */
import {EXIT_CODE_HELP} from '../exit-codes.js';
import {OPTIONS, type OptionScope, type OptionSpec} from '../options.js';
import {SUBCOMMANDS} from './argv.js';

/** Group titles, in the order they are printed. */
export const HELP_GROUPS: readonly (readonly [OptionScope, string])[] = [
  ['emperor', 'Emperor (kaiser --emperor DIR …)'],
  ['server', 'App server (command line, or keys of an app-server vassal file)'],
  ['command', 'Command vassal (keys of a vassal file with exec = …)'],
  ['vassal', 'Any vassal file'],
];

const WIDTH = 34;

/** The whole help text, ending in a newline. */
export function helpText(version: string): string {
  const lines = [
    `kaiser ${version}: an Emperor-style orchestrator speaking uWSGI's options`,
    '',
    'Usage:',
    '  kaiser --emperor DIR [options]                      govern a directory of vassal files (.ini, .toml)',
    '  kaiser [--ini|--toml] FILE [options]                run one app server from a vassal file (FILE.ini:section picks a section)',
    '  kaiser --http :9090 --wsgi-file app.py [options]    run one app server from flags',
    `  kaiser ${SUBCOMMANDS.join('|')} [args]   control a running emperor`,
    '  kaiser --help | --version',
    '',
    'Flags take uWSGI forms: --name value, --name=value, --flag, -p 4, -M. List options repeat.',
    'The same names are keys in vassal files: processes = 4 ([uwsgi] section in .ini; top level or [uwsgi] in .toml).',
  ];
  for (const [scope, title] of HELP_GROUPS) {
    lines.push('', `${title}:`);
    for (const spec of (OPTIONS as readonly OptionSpec[]).filter((s) => s.scopes.includes(scope))) lines.push(optionLine(spec));
  }
  lines.push('', 'Exit codes:');
  for (const [code, meaning] of EXIT_CODE_HELP) lines.push(`  ${String(code).padStart(3)}  ${meaning}`);
  lines.push('', 'Errors print a KAISER_… code; docs/errors.md explains each one.');
  return `${lines.join('\n')}\n`;
}

/** `  --processes, --workers, -p N    number of worker processes (default: 1)` */
export function optionLine(spec: OptionSpec): string {
  const names = [spec.name, ...(spec.aliases ?? [])].map((name) => (name.length === 1 ? `-${name}` : `--${name}`));
  const flag = `${names.join(', ')}${spec.arg === undefined ? '' : ` ${spec.arg}`}`;
  const notes = [spec.multi === true ? 'repeatable' : undefined, spec.default === undefined ? undefined : `default: ${String(spec.default)}`]
    .filter((note) => note !== undefined);
  const help = notes.length === 0 ? spec.help : `${spec.help} (${notes.join('; ')})`;
  return flag.length + 2 < WIDTH ? `  ${flag.padEnd(WIDTH - 2)}  ${help}` : `  ${flag}\n  ${' '.repeat(WIDTH)}${help}`;
}

/** The README's option reference: one markdown table per group, generated from the same table as `--help`. */
export function optionsMarkdown(): string {
  const out: string[] = [];
  for (const [scope, title] of HELP_GROUPS) {
    out.push(`#### ${title}`, '', '| Option | Default | Meaning |', '|---|---|---|');
    for (const spec of (OPTIONS as readonly OptionSpec[]).filter((s) => s.scopes.includes(scope))) {
      const names = [spec.name, ...(spec.aliases ?? [])].map((name) => `\`${name.length === 1 ? `-${name}` : `--${name}`}\``).join(', ');
      const arg = spec.arg === undefined ? '' : ` ${spec.arg}`;
      const help = (spec.multi === true ? `${spec.help} (repeatable)` : spec.help).replace(/\|/g, '\\|');
      out.push(`| ${names}${arg.replace(/\|/g, '\\|')} | ${spec.default === undefined ? '' : `\`${String(spec.default)}\``} | ${help} |`);
    }
    out.push('');
  }
  return out.join('\n');
}
