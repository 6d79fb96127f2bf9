/**
 * The control commands of the CLI: `kaiser ls|status|reload|restart|stop|start|logs|top`. Parses each command's flags,
 * talks to the emperor through client.ts (or, for `top ADDR`, to any uWSGI-style stats server), and prints: results
 * to stdout, errors to stderr. Returns the exit code instead of exiting (only cli.ts exits): see CONTROL_EXIT_HELP.
 * The actions (reload, restart, stop, start) are vassal-actions.ts.
 *
 * The socket is `--control PATH`, else `$KAISER_CONTROL`, else `defaultControlPath()`.
 */
import {EXIT} from '../exit-codes.js';
import {err, ok, type Result} from '../result.js';
import {requestControl, DEFAULT_CONTROL_TIMEOUT_MS, type ControlAnswer} from './client.js';
import {CONTROL_ENV, resolveControlPath, untrustedControlSocket} from './control-path.js';
import {formatStatus, formatVassalTable} from './format.js';
import type {ControlRequest, EmperorStatus, VassalRow} from './protocol.js';
import {parseStatsAddress, readStatsDocument} from './stats-reader.js';
import {TopView, renderTopFrame, type TopSample} from './top.js';
import {runVassalAction} from './vassal-actions.js';
import {parseArgs, report, USAGE, type ControlCommand, type ControlCommandEnv, type ParsedArgs} from './command-line.js';

export {CONTROL_EXIT_HELP, USAGE, type ControlCommand, type ControlCommandEnv} from './command-line.js';

export {defaultControlPath} from './control-path.js';

const TOP_INTERVAL_MS = 1_000;
const CLEAR_SCREEN = '\x1b[H\x1b[2J';

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
  const flag = parsed.value.values.get('control');
  const path = resolveControlPath(flag, {env: io.env});
  const untrusted = flag === undefined && !io.env[CONTROL_ENV] ? untrustedControlSocket(path) : undefined;
  if (untrusted !== undefined) {
    io.stderr.write(`kaiser ${name}: KAISER_CONTROL_SOCKET_FOREIGN ${untrusted}\n`);
    return EXIT.FAILURE;
  }
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
  reload: (args, path, io) => runVassalAction('reload', args, path, io),
  restart: (args, path, io) => runVassalAction('restart', args, path, io),
  stop: (args, path, io) => runVassalAction('stop', args, path, io),
  start: (args, path, io) => runVassalAction('start', args, path, io),
  logs: async (args, path, io) => {
    const name = args.positionals[0];
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
export async function ask(path: string, request: ControlRequest, io: ControlCommandEnv): Promise<Result<ControlAnswer, number>> {
  const reply = await requestControl(path, request, {timeoutMs: io.timeoutMs ?? DEFAULT_CONTROL_TIMEOUT_MS});
  if (!reply.ok) return err(report(io, reply.error));
  return ok(reply.value.answer);
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

