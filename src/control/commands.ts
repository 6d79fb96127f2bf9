/**
 * The control commands of the CLI: `kaiser ls|status|reload|stop|start|logs|top`. Parses each command's flags, talks
 * to the emperor through client.ts (or, for `top ADDR`, to any uWSGI-style stats server), and prints: results to
 * stdout, errors to stderr. Returns the exit code instead of exiting (only cli.ts exits): 0 done, 1 the emperor could
 * not be reached or refused, 2 usage error.
 *
 * The socket is `--control PATH`, else `$KAISER_CONTROL`, else `defaultControlPath()`.
 */
import {EXIT} from '../exit-codes.js';
import {err, ok, type Result} from '../result.js';
import {requestControl, DEFAULT_CONTROL_TIMEOUT_MS, type ControlAnswer} from './client.js';
import {resolveControlPath} from './control-path.js';
import {formatStatus, formatVassalTable} from './format.js';
import type {ControlError, ControlRequest, EmperorStatus, VassalRow} from './protocol.js';
import {parseStatsAddress, readStatsDocument} from './stats-reader.js';
import {TopView, renderTopFrame, type TopSample} from './top.js';

export {defaultControlPath} from './control-path.js';

/** The control commands, as `kaiser <name>`. */
export type ControlCommand = 'ls' | 'top' | 'reload' | 'stop' | 'start' | 'logs' | 'status';

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

const TOP_INTERVAL_MS = 1_000;
const CLEAR_SCREEN = '\x1b[H\x1b[2J';

const USAGE: Record<ControlCommand, string> = {
  ls: 'kaiser ls [--json] [--control PATH]\n  one row per vassal: NAME KIND STATE PID CPU% RSS UPTIME RESTARTS SOCKETS LAST-ERROR WARNINGS',
  status: 'kaiser status [--json] [--control PATH]\n  the emperor: pid, uptime, memory, vassal counts',
  reload: 'kaiser reload NAME [--json] [--control PATH]\n  reload one vassal with its current file (like touching it)',
  stop: 'kaiser stop NAME [--json] [--control PATH]\n  stop one vassal; it stays down until `kaiser start NAME` or a change to its file',
  start: 'kaiser start NAME [--json] [--control PATH]\n  start a vassal stopped by `kaiser stop` (or retry one backing off now)',
  logs: 'kaiser logs NAME [-n LINES] [-f] [--control PATH]\n  the last LINES (default 10) output lines of a vassal; -f keeps following',
  top: 'kaiser top [--json] [--once] [--control PATH] [ADDR]\n  live view, refreshed every second: the emperor\'s vassals, or any uWSGI --stats / --emperor-stats\n  server at ADDR (HOST:PORT or a UNIX socket path)',
};

/** Which flags each command takes: booleans, and flags with a value. Aliases map to the canonical name. */
const FLAGS: Record<ControlCommand, {bools: readonly string[]; valued: readonly string[]; positionals: [min: number, max: number]}> = {
  ls: {bools: ['json'], valued: ['control'], positionals: [0, 0]},
  status: {bools: ['json'], valued: ['control'], positionals: [0, 0]},
  reload: {bools: ['json'], valued: ['control'], positionals: [1, 1]},
  stop: {bools: ['json'], valued: ['control'], positionals: [1, 1]},
  start: {bools: ['json'], valued: ['control'], positionals: [1, 1]},
  logs: {bools: ['follow'], valued: ['control', 'lines'], positionals: [1, 1]},
  top: {bools: ['json', 'once'], valued: ['control'], positionals: [0, 1]},
};
const ALIASES: Record<string, string> = {'-n': 'lines', '-f': 'follow', '-h': 'help'};

interface ParsedArgs {
  readonly bools: ReadonlySet<string>;
  readonly values: ReadonlyMap<string, string>;
  readonly positionals: readonly string[];
}

/** Runs `kaiser <name> <args…>` and resolves with the exit code. Never rejects. */
export async function runControlCommand(name: ControlCommand, args: readonly string[], io: ControlCommandEnv): Promise<number> {
  const parsed = parseArgs(name, args);
  if (!parsed.ok) {
    if (parsed.error === 'help') {
      io.stdout.write(`usage: ${USAGE[name]}\n`);
      return EXIT.OK;
    }
    io.stderr.write(`kaiser ${name}: ${parsed.error}\nusage: ${USAGE[name]}\n`);
    return EXIT.USAGE;
  }
  const path = resolveControlPath(parsed.value.values.get('control'), {env: io.env});
  try {
    return await COMMANDS[name](parsed.value, path, io);
  } catch (cause) {
    io.stderr.write(`kaiser ${name}: Internal error: ${String(cause)}\n`);
    return EXIT.FAILURE;
  }
}

type CommandRunner = (args: ParsedArgs, path: string, io: ControlCommandEnv) => Promise<number>;

const COMMANDS: Record<ControlCommand, CommandRunner> = {
  ls: async (args, path, io) => {
    const reply = await ask(path, {cmd: 'ls'}, io);
    if (!reply.ok) return reply.error;
    const rows = reply.value['vassals'] as VassalRow[];
    io.stdout.write(args.bools.has('json') ? `${JSON.stringify(rows, null, 2)}\n` : formatVassalTable(rows));
    return EXIT.OK;
  },
  status: async (args, path, io) => {
    const reply = await ask(path, {cmd: 'status'}, io);
    if (!reply.ok) return reply.error;
    const status = reply.value['status'] as EmperorStatus;
    io.stdout.write(args.bools.has('json') ? `${JSON.stringify(status, null, 2)}\n` : formatStatus(status));
    return EXIT.OK;
  },
  reload: (args, path, io) => vassalAction('reload', args, path, io),
  stop: (args, path, io) => vassalAction('stop', args, path, io),
  start: (args, path, io) => vassalAction('start', args, path, io),
  logs: async (args, path, io) => {
    const name = args.positionals[0] ?? '';
    const lines = Number(args.values.get('lines') ?? '10');
    const follow = args.bools.has('follow');
    const request: ControlRequest = {cmd: 'logs', name, lines, follow};
    const reply = await requestControl(path, request, {timeoutMs: io.timeoutMs ?? DEFAULT_CONTROL_TIMEOUT_MS, stream: follow});
    if (!reply.ok) return report(io, reply.error);
    for (const line of (reply.value.answer['lines'] as string[] | undefined) ?? []) io.stdout.write(`${line}\n`);
    if (!follow) return EXIT.OK;
    reply.value.onLine((line) => io.stdout.write(`${line}\n`));
    const aborted = new Promise<'aborted'>((resolve) => onAbort(io.signal, () => resolve('aborted')));
    const outcome = await Promise.race([reply.value.ended.then(() => 'ended' as const), aborted]);
    reply.value.close();
    if (outcome === 'aborted') return EXIT.OK;
    io.stderr.write(`kaiser logs: the emperor on ${path} ended the stream\n`);
    return EXIT.FAILURE;
  },
  top: (args, path, io) => runTop(args, path, io),
};

async function vassalAction(cmd: 'reload' | 'stop' | 'start', args: ParsedArgs, path: string, io: ControlCommandEnv): Promise<number> {
  const name = args.positionals[0] ?? '';
  const reply = await ask(path, {cmd, name}, io);
  if (!reply.ok) return reply.error;
  if (args.bools.has('json')) {
    io.stdout.write(`${JSON.stringify(reply.value)}\n`);
    return EXIT.OK;
  }
  const said = {
    reload: `${name}: reload requested`,
    stop: `${name}: stopping; it stays down until \`kaiser start ${name}\` or a change to its file`,
    start: `${name}: start requested`,
  }[cmd];
  io.stdout.write(`${said}\n`);
  return EXIT.OK;
}

async function runTop(args: ParsedArgs, path: string, io: ControlCommandEnv): Promise<number> {
  const target = args.positionals[0];
  const timeoutMs = io.timeoutMs ?? DEFAULT_CONTROL_TIMEOUT_MS;
  let fetchSample: () => Promise<Result<TopSample, string>>;
  let source: string;
  if (target === undefined) {
    source = `emperor on ${path}`;
    fetchSample = async () => {
      const reply = await requestControl(path, {cmd: 'ls'}, {timeoutMs});
      if (!reply.ok) return err(`error ${reply.error.code} ${reply.error.error}`);
      return ok({kind: 'emperor', rows: reply.value.answer['vassals'] as VassalRow[]});
    };
  } else {
    const address = parseStatsAddress(target);
    if (!address.ok) {
      io.stderr.write(`kaiser top: ${address.error}\nusage: ${USAGE.top}\n`);
      return EXIT.USAGE;
    }
    source = target;
    fetchSample = async () => {
      const document = await readStatsDocument(address.value, timeoutMs);
      return document.ok ? ok({kind: 'stats', document: document.value}) : document;
    };
  }

  const now = io.now ?? Date.now;
  const json = args.bools.has('json');
  const once = args.bools.has('once');
  const clear = !json && io.stdout.isTTY === true;
  const view = new TopView();
  for (let frameNumber = 0; ; frameNumber++) {
    const sample = await fetchSample();
    const atMs = now();
    if (!sample.ok) {
      io.stderr.write(`kaiser top: ${sample.error}\n`);
      // The first failure is most likely a wrong address; later ones a restart worth waiting out.
      if (once || frameNumber === 0) return EXIT.FAILURE;
    } else {
      const frame = view.frame(sample.value, atMs);
      if (json) io.stdout.write(`${JSON.stringify({at: Math.floor(atMs / 1000), source, ...frame})}\n`);
      else io.stdout.write(`${clear ? CLEAR_SCREEN : frameNumber > 0 ? '\n' : ''}${renderTopFrame(frame, source, atMs)}`);
    }
    if (once) return EXIT.OK;
    if (await pause(TOP_INTERVAL_MS, io.signal)) return EXIT.OK;
  }
}

/** Sends a request; on failure prints it and yields the exit code as the error. */
async function ask(path: string, request: ControlRequest, io: ControlCommandEnv): Promise<Result<ControlAnswer, number>> {
  const reply = await requestControl(path, request, {timeoutMs: io.timeoutMs ?? DEFAULT_CONTROL_TIMEOUT_MS});
  if (!reply.ok) return err(report(io, reply.error));
  return ok(reply.value.answer);
}

function report(io: ControlCommandEnv, error: ControlError): number {
  io.stderr.write(`kaiser: error ${error.code} ${error.error}\n`);
  return EXIT.FAILURE;
}

/** Resolves true if `signal` aborted during the pause, false when the time is up. */
function pause(ms: number, signal: AbortSignal | undefined): Promise<boolean> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', aborted);
      resolve(false);
    }, ms);
    const aborted = () => {
      clearTimeout(timer);
      resolve(true);
    };
    onAbort(signal, aborted);
  });
}

function onAbort(signal: AbortSignal | undefined, fn: () => void): void {
  if (signal === undefined) return;
  if (signal.aborted) fn();
  else signal.addEventListener('abort', fn, {once: true});
}

/** Flags of `name`: `--flag`, `--flag=value`, `--flag value`, `-n 5`, `-n5`, `-f`; `--` ends flags. */
function parseArgs(name: ControlCommand, args: readonly string[]): Result<ParsedArgs, string> {
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
  const lines = values.get('lines');
  if (lines !== undefined && !/^\d+$/.test(lines)) return err(`-n needs a number of lines, got "${lines}"`);
  return ok({bools, values, positionals});
}
