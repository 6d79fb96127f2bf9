/**
 * `man kaiser`: the kaiser(1) page in roff (man macros), generated at build time (`scripts/man-page.js` writes
 * `man/kaiser.1`, which package.json's `man` field installs with `npm install -g`) from the same tables as `--help`:
 * the option table (config/help.ts groups it), the commands' usage texts, the exit codes and the error catalogue.
 * Lives beside cli.ts because it gathers every command's help; nothing imports it but the build script.
 */
import {CONTROL_EXIT_HELP, USAGE as CONTROL_USAGE} from './control/commands.js';
import {CONTROL_ERRORS} from './control/protocol.js';
import {SUBCOMMAND_SUMMARIES} from './config/argv.js';
import {helpEntries, optionArgument, optionDescription, optionNames, type HelpGroup} from './config/help.js';
import {ERRORS} from './errors.js';
import {EXIT_CODE_HELP} from './exit-codes.js';
import {FLEET_USAGE} from './fleet/commands.js';
import {INSTALL_SERVICE_USAGE} from './systemd/install-service.js';

/**
 * Text as roff reads it: backslashes and hyphens escaped, other characters than ASCII as `\[uXXXX]` (the page is
 * plain printable ASCII, whatever the reader's locale), no line starting with a control character.
 */
export function roffText(text: string): string {
  return text
    .replace(/\\/g, '\\e')
    .replace(/-/g, '\\-')
    .replace(/[^\t\n\x20-\x7e]/gu, (char) => `\\[u${(char.codePointAt(0) ?? 0).toString(16).toUpperCase().padStart(4, '0')}]`)
    .split('\n')
    .map((line) => (/^[.']/.test(line) ? `\\&${line}` : line))
    .join('\n');
}

/** A verbatim block (usage texts): no filling, no adjusting. */
function verbatim(text: string): string[] {
  return ['.PP', '.nf', roffText(text.replace(/^usage: /, '')), '.fi'];
}

/** The environment variables kaiser reads, for ENVIRONMENT. */
const ENVIRONMENT: readonly (readonly [string, string])[] = [
  ['KAISER_CONTROL', 'the control socket of kaiser ls|status|top|reload|restart|stop|start|logs (and of the emperor, when --control is not given)'],
  ['KAISER_ETCD', 'etcd endpoints of a fleet (kaiser fleet, and the emperor with --etcd)'],
  ['KAISER_FLEET_PREFIX', 'the etcd key prefix of a fleet (default /kaiser)'],
  ['KAISER_NO_CGROUPS', 'set to 1: never use cgroups for memory-limit and cpu-limit (they are then sampled)'],
  ['NOTIFY_SOCKET, WATCHDOG_USEC', 'set by systemd: readiness, status and watchdog messages (sd_notify)'],
  ['JOURNAL_STREAM', 'set by systemd: log lines go without timestamps (journald adds them)'],
];

/** The emperor's signals, for SIGNALS. */
const SIGNALS: readonly (readonly [string, string])[] = [
  ['SIGHUP', 'reload every vassal (systemctl reload)'],
  ['SIGTERM, SIGINT, SIGQUIT', 'stop every vassal gracefully, then exit 0'],
  ['SIGUSR1', 'log one status line per vassal'],
  ['SIGUSR2', 'reopen every vassal log file (logrotate: postrotate kill \\-USR2 $(pidof kaiser)); the standalone app server reopens its logto file'],
];

/** The whole page. */
export function manPage(version: string): string {
  const out: string[] = [
    `.TH KAISER 1 "" "kaiser ${version}" "User Commands"`,
    '.SH NAME',
    'kaiser \\- run many web apps the way the uWSGI Emperor does: a vassal file per app',
    '.SH SYNOPSIS',
    '.B kaiser',
    '\\-\\-emperor \\fIDIR\\fR|\\fI\'DIR/*.ini\'\\fR [\\fIoptions\\fR]',
    '.br',
    '.B kaiser',
    '[\\-\\-ini|\\-\\-toml] \\fIFILE\\fR [\\fIoptions\\fR]',
    '.br',
    '.B kaiser',
    '\\-\\-http \\fIADDR\\fR \\-\\-wsgi\\-file \\fIapp.py\\fR [\\fIoptions\\fR]',
    '.br',
    '.B kaiser',
    '\\fICOMMAND\\fR [\\fIargs\\fR]',
    '.br',
    '.B kaiser',
    'help [\\fICOMMAND\\fR] | \\-\\-help | \\-\\-version',
    '.SH DESCRIPTION',
    roffText(
      'kaiser watches a directory of vassal files (.ini or .toml). Dropping a file in deploys an app, editing or touching it reloads the app, deleting it stops the app. ' +
        'One long-running process, the emperor, spawns, reloads and kills the vassals, accounts for their CPU and memory, restarts crashed ones with backoff, and runs as a systemd service (kaiser install-service). ' +
        'kaiser also ships its own uWSGI-compatible app server, so a uWSGI vassal file runs unchanged for every option kaiser implements; the others are refused by name.',
    ),
    '.PP',
    roffText('In ps and top the emperor is "kaiser emperor DIR" (its short name is kaiser, so pidof kaiser finds it), app servers are "kaiser master NAME" and "kaiser worker N NAME".'),
    '.SH COMMANDS',
  ];
  for (const [name, summary] of SUBCOMMAND_SUMMARIES) out.push('.TP 18', `.B ${roffText(name)}`, roffText(summary));
  out.push('.SS Command usage');
  for (const usage of [...Object.values(CONTROL_USAGE), FLEET_USAGE, INSTALL_SERVICE_USAGE]) out.push(...verbatim(usage.replace(/\n?exit codes:[\s\S]*$/, '').trimEnd()));
  out.push('.SH OPTIONS', roffText('Flags take uWSGI forms: --name value, --name=value, --flag, -p 4, -M; list options repeat. The same names are keys in vassal files: processes = 4 ([uwsgi] section in .ini; top level or [uwsgi] in .toml).'));
  let current: HelpGroup | undefined;
  for (const entry of helpEntries()) {
    if (entry.group !== current) {
      current = entry.group;
      out.push(`.SS ${roffText(current.title)}`);
    }
    const names = optionNames(entry).map((name) => `\\fB${roffText(name)}\\fR`).join(', ');
    const argument = optionArgument(entry);
    out.push('.TP', `${names}${argument === '' ? '' : `\\fI${roffText(argument)}\\fR`}`, roffText(optionDescription(entry)));
  }
  out.push('.SH EXIT STATUS');
  for (const [code, meaning] of EXIT_CODE_HELP) out.push('.TP', `.B ${code}`, roffText(meaning));
  out.push('.PP', roffText('The control commands (reload, restart, stop, start, ls, status, logs, top):'), ...verbatim(CONTROL_EXIT_HELP.replace(/^exit codes:\n/, '')));
  out.push('.SH ENVIRONMENT');
  for (const [name, meaning] of ENVIRONMENT) out.push('.TP', `.B ${roffText(name)}`, roffText(meaning));
  out.push('.SH SIGNALS', roffText('The emperor:'));
  for (const [name, meaning] of SIGNALS) out.push('.TP', `.B ${roffText(name)}`, roffText(meaning).replace(/\\e-/g, '\\-'));
  out.push(
    '.SH FILES',
    '.TP',
    '.I /etc/kaiser/vassals',
    roffText('the vassal directory of the systemd unit (kaiser install-service writes /etc/systemd/system/kaiser.service)'),
    '.TP',
    '.I /run/kaiser/control.sock',
    roffText('the control socket of a root emperor; otherwise $XDG_RUNTIME_DIR/kaiser/control.sock, else /tmp/kaiser-$UID/control.sock'),
    '.SH DIAGNOSTICS',
    roffText('Every error names a code; docs/errors.md (shipped with the package) explains each one. The codes:'),
  );
  for (const [code, text] of [...Object.entries(ERRORS), ...Object.entries(CONTROL_ERRORS)]) out.push('.TP', `.B ${roffText(code)}`, roffText(text));
  out.push('.SH SEE ALSO', '.BR uwsgi (1),', '.BR systemctl (1),', '.BR systemd.exec (5),', '.BR logrotate (8)');
  return `${out.join('\n')}\n`;
}
