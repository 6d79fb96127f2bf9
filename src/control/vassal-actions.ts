/**
 * `kaiser reload|restart|stop|start NAME… | --all [--wait[=SECONDS] | --no-wait]`: sends one action request for every
 * named vassal (or all), prints one line per vassal, and turns the results into the exit code (CONTROL_EXIT_HELP).
 *
 * `--wait` is the default when stdout is a terminal, as `systemctl` waits for its jobs: an operator typing the
 * command learns at once whether the reload worked. Scripts get the quick answer unless they pass `--wait`, which a
 * deploy script should (`kaiser reload shop.ini --wait || rollback`).
 */
import {EXIT} from '../exit-codes.js';
import {requestControl, DEFAULT_CONTROL_TIMEOUT_MS} from './client.js';
import {report, USAGE, type ControlCommandEnv, type ParsedArgs} from './command-line.js';
import {MAX_WAIT_SECONDS, type ActionResult, type ControlRequest, type VassalAction} from './protocol.js';

/** Slack over the emperor's own deadline, so the emperor's answer (with the vassal's state) comes first. */
const ANSWER_SLACK_MS = 10_000;

/** What each action says when it was requested without waiting, and when it is done. */
const SAID: Record<VassalAction, {requested: string; done: string}> = {
  reload: {requested: 'reload requested', done: 'reloaded'},
  restart: {requested: 'restart requested', done: 'restarted'},
  stop: {requested: 'stopping; it stays down until `kaiser start NAME` or a change to its file', done: 'stopped'},
  start: {requested: 'start requested', done: 'started'},
};

/** Runs one action command; resolves with the exit code. */
export async function runVassalAction(cmd: VassalAction, args: ParsedArgs, path: string, io: ControlCommandEnv): Promise<number> {
  const all = args.bools.has('all');
  if (all === (args.positionals.length > 0)) {
    io.stderr.write(`kaiser ${cmd}: ${all ? 'give vassal names or --all, not both' : 'which vassal? give its name (e.g. shop.ini), several, or --all'}\nusage: ${USAGE[cmd]}\n`);
    return EXIT.USAGE;
  }
  const waitText = args.values.get('wait');
  const waits = args.bools.has('no-wait') ? false : waitText !== undefined || io.stdout.isTTY === true;
  const seconds = waitText === undefined || waitText === '' ? undefined : Math.min(Number(waitText), MAX_WAIT_SECONDS);
  const request: ControlRequest = {cmd, names: all ? 'all' : args.positionals, wait: waits ? (seconds === undefined ? 'vassal-default' : {seconds}) : undefined};
  const timeoutMs = waits ? (seconds ?? MAX_WAIT_SECONDS) * 1000 + ANSWER_SLACK_MS : (io.timeoutMs ?? DEFAULT_CONTROL_TIMEOUT_MS);
  if (waits && io.stdout.isTTY === true && !args.bools.has('json')) io.stdout.write(`${cmd}: waiting for ${all ? 'every vassal' : args.positionals.join(', ')}…\n`);
  const reply = await requestControl(path, request, {timeoutMs});
  if (!reply.ok) return report(io, reply.error);
  const results = (reply.value.answer['results'] as ActionResult[] | undefined) ?? [];
  if (args.bools.has('json')) io.stdout.write(`${JSON.stringify(reply.value.answer)}\n`);
  else for (const result of results) printResult(cmd, result, waits, io);
  return results.every((result) => result.ok) ? EXIT.OK : EXIT.FAILURE;
}

function printResult(cmd: VassalAction, result: ActionResult, waited: boolean, io: ControlCommandEnv): void {
  if (!result.ok) {
    io.stderr.write(`kaiser ${cmd}: ${result.name}: error ${result.code} ${result.error}\n`);
    return;
  }
  if (result.skipped !== undefined) {
    io.stdout.write(`${result.name}: skipped: ${result.skipped}\n`);
    return;
  }
  const said = SAID[cmd];
  if (!waited) {
    io.stdout.write(`${result.name}: ${said.requested.replace('NAME', result.name)}\n`);
    return;
  }
  const state = result.state === 'on-demand' ? 'on-demand (it starts on its next connection)' : result.state === 'ready' ? 'serving' : result.state;
  io.stdout.write(`${result.name}: ${said.done}${cmd === 'stop' ? '' : `, ${state ?? 'done'}`}\n`);
}
