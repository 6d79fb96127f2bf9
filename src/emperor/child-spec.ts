/**
 * What the emperor runs for a vassal spec, as a typed launch request: a command vassal's program, with the sockets
 * the emperor holds for it (systemd socket activation: fds from 3, LISTEN_FDS, LISTEN_FDNAMES, LISTEN_PID); an
 * app-server vassal's Python master with its complete KAISER_CONFIG (runtime-protocol.md §1) and the on-demand
 * sockets it adopts. Pure: the emperor passes how to find a socket it owns.
 */
import {fileURLToPath} from 'node:url';
import {completeServerConfig} from '../config/server-config.js';
import type {VassalSpec} from '../config/vassal-spec.js';
import {err, ok, type Result} from '../result.js';
import type {OwnedSocket} from './socket-store.js';

const NODE_WORKER = fileURLToPath(new URL('../workers/node/worker.js', import.meta.url));

/** A socket the emperor holds: `key` is its canonical address, `written` the address as the vassal file gives it. */
export interface EmperorSocket {
  key: string;
  written: string;
}

/**
 * The sockets the emperor holds for a vassal: a command vassal's `socket` entries (socket activation), and the
 * addresses of an on-demand app-server vassal (the master looks each up by its written form when it adopts it).
 */
export function emperorSocketsOf(spec: VassalSpec): Result<EmperorSocket[], string> {
  if (spec.kind === 'command') {
    if (spec.onDemand && spec.sockets.length === 0) return err('KAISER_CONFIG_NO_SOCKET an on-demand command vassal needs a socket = "tcp://HOST:PORT" to wait on');
    return ok(spec.sockets.map((key) => ({key, written: key})));
  }
  if (!spec.onDemand) return ok([]);
  const written = ['http', 'http-socket', 'socket'].flatMap((option) => (spec.serverConfig[option] as readonly string[] | undefined) ?? []);
  const sockets: EmperorSocket[] = [];
  for (const address of written) {
    if (address.startsWith('@')) return err(`KAISER_CONFIG_BAD_VALUE on-demand cannot hold the abstract socket ${address}: use a path or host:port`);
    const at = address.lastIndexOf(':');
    const key = address.startsWith('/') || at < 0 ? `unix:${address}` : `tcp://${address.slice(0, at) || '0.0.0.0'}:${address.slice(at + 1)}`;
    sockets.push({key, written: address});
  }
  return ok(sockets);
}

/** What an app-server master gets as KAISER_CONFIG, at spawn and with every reload. */
export function serverConfigFor(spec: VassalSpec & {kind: 'app-server'}): Record<string, unknown> {
  return {...completeServerConfig(spec.serverConfig), idle: spec.idleSeconds, _on_demand: spec.onDemand, _name: spec.name, _node: process.execPath, _node_worker: NODE_WORKER};
}

/**
 * What to start for a vassal, typed by what it is: any program (a command vassal), or kaiser's app-server master
 * with its config as an object. The spawner (spawner.ts) adds where it runs (user, cgroup) and decides how: the
 * runtime host forks a master, everything else is exec'd.
 */
export type LaunchRequest =
  | {
      kind: 'program';
      file: string;
      args: readonly string[];
      cwd: string;
      env: Record<string, string>;
      /** Listening socket fds passed as fds 3, 4, … (socket activation). */
      listenFds: readonly number[];
    }
  | {
      kind: 'master';
      /** The interpreter that runs the master (the runtime host can fork it only if it runs the same one). */
      python: string;
      /** KAISER_CONFIG (runtime-protocol.md §1). */
      config: Record<string, unknown>;
      cwd: string;
      /** The environment, without KAISER_CONFIG. */
      env: Record<string, string>;
      /** Sockets the runtime host holds that the master adopts instead of binding (address as written → key). */
      inherit?: Record<string, string>;
    };

/**
 * The process to start for `spec`; `owned` finds a socket the emperor holds (it must have been acquired). `env` is
 * the environment it starts from: a tenant's pass-list (tenant-env.ts), or by default the emperor's own.
 */
export function launchRequestFor(spec: VassalSpec, owned: (address: string) => OwnedSocket, env: Readonly<Record<string, string | undefined>> = process.env): LaunchRequest {
  const base: Record<string, string> = {};
  for (const [key, value] of Object.entries(env)) if (value !== undefined) base[key] = value;
  delete base['NOTIFY_SOCKET'];
  delete base['UWSGI_EMPEROR_FD'];
  base['KAISER_VASSAL'] = spec.name;
  switch (spec.kind) {
    case 'command': {
      const [file, ...args] = spec.argv;
      if (file === undefined) throw new Error(`Internal error: empty argv for ${spec.name}`);
      if (spec.sockets.length === 0) return {kind: 'program', file, args, cwd: spec.cwd, env: {...base, ...spec.env}, listenFds: []};
      // systemd socket activation: fds from 3, LISTEN_FDS/LISTEN_FDNAMES, and LISTEN_PID set to the program's own
      // pid by a /bin/sh that then execs it (the pid is not known before the fork).
      const sockets = spec.sockets.map(owned);
      const env = {
        ...base,
        ...spec.env,
        LISTEN_FDS: String(sockets.length),
        LISTEN_FDNAMES: sockets.map((socket) => socket.name).join(':'),
      };
      return {
        kind: 'program',
        file: '/bin/sh',
        args: ['-c', 'LISTEN_PID=$$; export LISTEN_PID; exec "$0" "$@"', file, ...args],
        cwd: spec.cwd,
        env,
        listenFds: sockets.map((socket) => socket.fd),
      };
    }
    case 'app-server': {
      const inherit = emperorSocketsOf(spec);
      const adopted = inherit.ok && inherit.value.length > 0 ? {inherit: Object.fromEntries(inherit.value.map((s) => [s.written, s.key]))} : {};
      return {kind: 'master', python: spec.python, config: serverConfigFor(spec), cwd: spec.dir, env: base, ...adopted};
    }
    default: {
      const never: never = spec;
      throw new Error(`Internal error: unknown vassal kind ${JSON.stringify(never)}`);
    }
  }
}
