/**
 * The command line of the control commands: their names, usage texts (`kaiser COMMAND --help`, `kaiser help
 * COMMAND`), exit codes, flags (`--flag`, `--flag=value`, `--flag value`, `-n 5`, `-n5`, `-f`, optional values such
 * as `--wait[=SECONDS]`; `--` ends flags), and how a failed request is reported.
 */
import {EXIT} from '../exit-codes.js';
import {err, ok, type Result} from '../result.js';
import type {ControlError} from './protocol.js';

/** The control commands, as `kaiser <name>`. */
export type ControlCommand = 'ls' | 'top' | 'reload' | 'restart' | 'stop' | 'start' | 'logs' | 'status';

/** Everything a command touches outside its arguments; cli.ts passes the real process. */
export interface ControlCommandEnv {
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly stdout: {write(text: string): unknown; readonly isTTY?: boolean};
  readonly stderr: {write(text: string): unknown};
  /** Ends `top` and `logs -f`; without it they run until the process is interrupted. */
  readonly signal?: AbortSignal;
  /** Unix milliseconds; default `Date.now`. */
  readonly now?: () => number;
  /** Deadline for each answer; default 5 s. */
  readonly timeoutMs?: number;
}

/** The exit codes of the control commands, for their help and the README. */
export const CONTROL_EXIT_HELP = `exit codes:
  0  done (with --wait: every vassal serves again, or is down after stop)
  1  a vassal failed (its load error is printed), the wait ran out, or the
     emperor refused or cannot be reached
  2  usage error, or a name no vassal has (then nothing was done)`;

const ACTION_FLAGS = '[--wait[=SECONDS] | --no-wait]\n         [--json] [--control PATH]';
const WAIT_HELP = `  --wait[=SECONDS]  return once each vassal serves again (reload, restart,
                    start) or is down (stop), or failed, with its error;
                    SECONDS bounds the wait (default: the vassal's start-timeout
                    plus stop-timeout). The default when stdout is a terminal.
  --no-wait         return as soon as the emperor took the request
  --all             every vassal (those the action does not apply to are
                    skipped: held, asleep on demand, invalid…)`;

/** `kaiser help COMMAND` and `kaiser COMMAND --help`. */
export const USAGE: Record<ControlCommand, string> = {
  ls: `kaiser ls [--json] [--control PATH]
  one row per vassal: NAME KIND STATE PID CPU% RSS UPTIME RESTARTS SOCKETS
  LAST-ERROR WARNINGS (LAST-ERROR: the last line of the error, e.g. of a Python
  traceback; --json has it whole)`,
  status: 'kaiser status [--json] [--control PATH]\n  the emperor: pid, uptime, memory, vassal counts',
  reload: `kaiser reload NAME… | --all ${ACTION_FLAGS}
  reload vassals with their current files (like touching them): app-server
  vassals load new workers while the old ones serve; if the new ones fail to
  load, the old ones keep serving and the vassal is reload-failed
${WAIT_HELP}
${CONTROL_EXIT_HELP}`,
  restart: `kaiser restart NAME… | --all ${ACTION_FLAGS}
  stop vassals and start them afresh (a new master and new workers); a vassal
  stopped by \`kaiser stop\` just starts
${WAIT_HELP}
${CONTROL_EXIT_HELP}`,
  stop: `kaiser stop NAME… | --all ${ACTION_FLAGS}
  stop vassals; they stay down until \`kaiser start NAME\` or a change to their
  file
${WAIT_HELP}
${CONTROL_EXIT_HELP}`,
  start: `kaiser start NAME… | --all ${ACTION_FLAGS}
  start vassals stopped by \`kaiser stop\` (or retry ones backing off now)
${WAIT_HELP}
${CONTROL_EXIT_HELP}`,
  logs: `kaiser logs [NAME] [-n LINES] [-f] [--control PATH]
  the last LINES (default 10) output lines of a vassal; without NAME, of every
  vassal, interleaved as they came and prefixed with [NAME]; -f keeps following`,
  top: `kaiser top [--json] [--once] [--control PATH] [ADDR]
  live view, refreshed every second: the emperor's vassals, or any uWSGI
  --stats / --emperor-stats server at ADDR (HOST:PORT or a UNIX socket path)`,
};

/** Which flags each command takes: booleans, flags with a value, flags with an optional value. */
const FLAGS: Record<ControlCommand, {bools: readonly string[]; valued: readonly string[]; optional?: readonly string[]; positionals: [min: number, max: number]}> = {
  ls: {bools: ['json'], valued: ['control'], positionals: [0, 0]},
  status: {bools: ['json'], valued: ['control'], positionals: [0, 0]},
  reload: {bools: ['json', 'all', 'no-wait'], valued: ['control'], optional: ['wait'], positionals: [0, Infinity]},
  restart: {bools: ['json', 'all', 'no-wait'], valued: ['control'], optional: ['wait'], positionals: [0, Infinity]},
  stop: {bools: ['json', 'all', 'no-wait'], valued: ['control'], optional: ['wait'], positionals: [0, Infinity]},
  start: {bools: ['json', 'all', 'no-wait'], valued: ['control'], optional: ['wait'], positionals: [0, Infinity]},
  logs: {bools: ['follow'], valued: ['control', 'lines'], positionals: [0, 1]},
  top: {bools: ['json', 'once'], valued: ['control'], positionals: [0, 1]},
};
const ALIASES: Record<string, string> = {'-n': 'lines', '-f': 'follow', '-h': 'help'};

/** A command's arguments, parsed. */
export interface ParsedArgs {
  readonly bools: ReadonlySet<string>;
  readonly values: ReadonlyMap<string, string>;
  readonly positionals: readonly string[];
}

/** Prints a failed request; the exit code: 2 for a name no vassal has (nothing was done), else 1. */
export function report(io: ControlCommandEnv, error: ControlError): number {
  io.stderr.write(`kaiser: error ${error.code} ${error.error}\n`);
  return error.code === 'KAISER_CONTROL_UNKNOWN_VASSAL' ? EXIT.USAGE : EXIT.FAILURE;
}

/** Flags of `name`: `--flag`, `--flag=value`, `--flag value`, `-n 5`, `-n5`, `-f`; `--` ends flags. */
export function parseArgs(name: ControlCommand, args: readonly string[]): Result<ParsedArgs, string> {
  const spec = FLAGS[name];
  const bools = new Set<string>();
  const values = new Map<string, string>();
  const positionals: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i] ?? '';
    if (arg === '--') {
      positionals.push(...args.slice(i + 1));
      break;
    }
    if (!arg.startsWith('-') || arg === '-') {
      positionals.push(arg);
      continue;
    }
    let flag: string;
    let inline: string | undefined;
    if (arg.startsWith('--')) {
      const eq = arg.indexOf('=');
      flag = eq === -1 ? arg.slice(2) : arg.slice(2, eq);
      inline = eq === -1 ? undefined : arg.slice(eq + 1);
    } else {
      flag = ALIASES[arg.slice(0, 2)] ?? arg;
      inline = arg.length > 2 ? arg.slice(2) : undefined;
    }
    if (flag === 'help') return err('help');
    if (spec.optional?.includes(flag)) {
      // `--wait`, `--wait=30`, or `--wait 30` (a vassal name is a file name, never a bare number).
      const next = args[i + 1];
      values.set(flag, inline ?? (next !== undefined && /^\d+(\.\d+)?$/.test(next) ? (i++, next) : ''));
      continue;
    }
    if (spec.bools.includes(flag)) {
      if (inline !== undefined) return err(`option --${flag} takes no value`);
      bools.add(flag);
    } else if (spec.valued.includes(flag)) {
      const value = inline ?? args[++i];
      if (value === undefined || value === '') return err(`option ${arg} needs a value`);
      values.set(flag, value);
    } else {
      return err(`unknown option "${arg}"`);
    }
  }
  const [min, max] = spec.positionals;
  if (positionals.length < min) return err(min === 1 ? 'which vassal? give its name, e.g. shop.ini' : 'missing argument');
  if (positionals.length > max) return err(`unexpected argument "${positionals[max] ?? ''}"`);
  const wait = values.get('wait');
  if (wait !== undefined && wait !== '' && !(Number(wait) > 0)) return err(`--wait takes a number of seconds, got "${wait}"`);
  const lines = values.get('lines');
  if (lines !== undefined && !/^\d+$/.test(lines)) return err(`-n needs a number of lines, got "${lines}"`);
  return ok({bools, values, positionals});
}
