/**
 * The standalone app server (`kaiser --http :9090 --wsgi-file hitme.py`, `kaiser --ini app.ini`): runs the bundled
 * Python master and acts as a one-vassal emperor for it over the same pipe the real emperor uses. On SIGHUP (or when
 * the master asks for its config after a touch-reload or FIFO `r`) it re-reads the command line and config file, so a
 * reload applies the edited file. SIGINT/SIGTERM/SIGQUIT are passed to the master, whose exit code becomes ours.
 * SIGUSR2 reopens the `logto` file (logrotate's postrotate), as it does in the emperor.
 */
import {spawn} from 'node:child_process';
import {createWriteStream} from 'node:fs';
import {fileURLToPath} from 'node:url';
import type {Duplex} from 'node:stream';
import {FROM_VASSAL, TO_VASSAL, VassalStreamDecoder, encodeConfigPacket} from '../protocol/emperor-pipe.js';
import type {Logger} from '../log/logger.js';
import {masterArgs} from '../config/master-command.js';

const NODE_WORKER = fileURLToPath(new URL('../workers/node/worker.js', import.meta.url));

/** What the launcher needs: the interpreter, the normalized config, and a way to re-read it on reload. */
export interface ServerLaunch {
  python: string;
  serverConfig: Record<string, unknown>;
  logto: string | undefined;
  /** Re-reads argv and files; undefined when the new config is invalid (the diagnostics are logged by it). */
  reread(): Record<string, unknown> | undefined;
  log: Logger;
}

function withInternals(config: Record<string, unknown>): Record<string, unknown> {
  // _standalone: the master's emperor pipe leads to this launcher, not to an emperor (it then says nothing of one).
  return {...config, _name: config['_name'] ?? 'kaiser', _node: process.execPath, _node_worker: NODE_WORKER, _standalone: true};
}

/** Runs the master until it exits; resolves with its exit code. */
export function runServer(launch: ServerLaunch): Promise<number> {
  const env: Record<string, string | undefined> = {...process.env, UWSGI_EMPEROR_FD: '3', KAISER_CONFIG: JSON.stringify(withInternals(launch.serverConfig))};
  let out = launch.logto ? createWriteStream(launch.logto, {flags: 'a'}) : undefined;
  const child = spawn(launch.python, masterArgs(launch.serverConfig), {
    env,
    stdio: ['inherit', out ? 'pipe' : 'inherit', out ? 'pipe' : 'inherit', 'pipe'],
  });
  if (out) {
    child.stdout?.on('data', (chunk: Buffer) => out?.write(chunk));
    child.stderr?.on('data', (chunk: Buffer) => out?.write(chunk));
  }
  const reopenLog = () => {
    if (launch.logto === undefined || out === undefined) return;
    const old = out;
    out = createWriteStream(launch.logto, {flags: 'a'});
    old.end();
  };
  const pipe = child.stdio[3] as Duplex | null;
  const decoder = new VassalStreamDecoder();
  pipe?.on('error', () => undefined);
  pipe?.on('data', (chunk: Buffer) => {
    for (const message of decoder.push(chunk)) {
      if (message.kind === 'byte' && message.byte === FROM_VASSAL.CONFIG_REQUEST) {
        const config = launch.reread() ?? launch.serverConfig;
        launch.serverConfig = config;
        pipe.write(encodeConfigPacket(withInternals(config)));
        pipe.write(Buffer.from([TO_VASSAL.RELOAD]));
      }
    }
  });
  const forward = (signal: NodeJS.Signals) => () => {
    if (child.pid !== undefined) {
      try {
        process.kill(child.pid, signal);
      } catch {
        // already gone
      }
    }
  };
  const signals: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGQUIT', 'SIGHUP', 'SIGUSR1'];
  const handlers = [...signals.map((signal) => [signal, forward(signal)] as const), ['SIGUSR2', reopenLog] as const];
  for (const [signal, handler] of handlers) process.on(signal, handler);
  return new Promise((resolve) => {
    child.on('error', (error) => {
      launch.log.error('cannot start the python master', {python: launch.python, error: String(error)});
      resolve(1);
    });
    child.on('exit', (code, signal) => {
      for (const [sig, handler] of handlers) process.off(sig, handler);
      out?.end();
      resolve(code ?? (signal ? 128 + (signalNumber(signal) ?? 0) : 1));
    });
  });
}

function signalNumber(signal: NodeJS.Signals): number | undefined {
  const numbers: Partial<Record<NodeJS.Signals, number>> = {SIGHUP: 1, SIGINT: 2, SIGQUIT: 3, SIGKILL: 9, SIGTERM: 15};
  return numbers[signal];
}
