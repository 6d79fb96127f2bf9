/**
 * How a vassal is launched, once its definition is good: where it runs (placement: the user, from identity.ts, and
 * the cgroup of its limits, from limits.ts), what it needs before it can start (the runtime host, the sockets the
 * emperor holds for it, execa for any program), and the launch itself from a typed `LaunchRequest` (child-spec.ts):
 * the runtime host forks app-server masters when it is up, everything else is exec'd (child.ts).
 *
 * Each step answers for one vassal only: a refusal or a bind failure is a value naming that vassal's problem, never
 * a throw that could reach another vassal. The emperor decides what the answer means for the vassal's state.
 */
import type {VassalSpec} from '../config/vassal-spec.js';
import {formatError} from '../errors.js';
import type {Logger} from '../log/logger.js';
import {err, ok, type Result} from '../result.js';
import type {System} from '../system/system.js';
import {sharedLineBucket, type TokenBucket} from '../util/output-budget.js';
import {spawnChild, type Child, type ChildSpec} from './child.js';
import {emperorSocketsOf, launchRequestFor, type LaunchRequest} from './child-spec.js';
import {masterArgs} from '../config/master-command.js';
import {identityFor, type Identity} from './identity.js';
import type {VassalLimits} from './limits.js';
import {checkPrivilegedPorts, type PrivilegedPorts} from './privileged-ports.js';
import {RuntimeHost} from './runtime-host.js';
import {SocketStore} from './socket-store.js';
import {passedEnvironment, tenantEnvironment} from './tenant-env.js';

/** The runtime host starts when this many app-server vassals exist (or with the first on-demand one). */
const HOST_FROM_VASSALS = 2;

/** Who a vassal runs as and whether it has a cgroup: a change needs a restart, not a reload in place. */
export interface Placement {
  identity: Identity | undefined;
  /** Compared with what the running instance was launched with. */
  key: string;
}

/** Why a vassal cannot be prepared for launch. */
export type PrepareFailure =
  /** Its definition asks for something impossible here (`CODE message`): the vassal is invalid until it changes. */
  | {kind: 'refused'; error: string}
  /** Its sockets cannot be bound now (port in use): worth retrying. `error`: `KAISER_SOCKET_BIND_FAILED message`. */
  | {kind: 'bind-failed'; error: string};

/** What the spawner remembers per vassal. */
interface Launchable {
  /** Its last placed spec is an app-server vassal (they decide when the runtime host starts). */
  appServer: boolean;
  identity: Identity | undefined;
  /** The placement key of the instance last launched. */
  launchedAs: string | undefined;
  /** Addresses of emperor-owned sockets this vassal holds (socket activation, on-demand). */
  sockets: string[];
}

export interface SpawnerOptions {
  sys: System;
  log: Logger;
  limits: VassalLimits;
  /** `--emperor-tyrant`: every vassal runs as the owner of its file. */
  tyrant: boolean;
  /** The python of the socket store's listen helper and of the runtime host. */
  python: string;
  /** The runtime host's script; undefined: no runtime host (`emperor-zygote = false`). */
  hostPy: string | undefined;
  /** Tyrant mode: privileged ports allowed per user (none when undefined). */
  privilegedPorts?: PrivilegedPorts | undefined;
  /** Tyrant mode: names of the emperor's environment passed to tenants besides PATH, LANG, LC_*, TZ (`NAME*`: a prefix). */
  passEnv?: readonly string[] | undefined;
}

/** Places, prepares and launches the vassals of one emperor. */
export class Spawner {
  readonly #o: SpawnerOptions;
  readonly #log: Logger;
  readonly #vassals = new Map<string, Launchable>();
  readonly #sockets: SocketStore;
  /** The runtime host that forks app-server masters; undefined with `emperor-zygote = false`. */
  readonly #host: RuntimeHost | undefined;
  /** The host is started lazily: one vassal is cheaper without it (~6 MB), from the second one on it saves memory. */
  #hostStart: Promise<void> | undefined;
  #hostFallbackLogged = false;
  /** Tyrant mode: the emperor's variables tenants may see (their `$(VAR)` and environment); else undefined. */
  readonly tenantEnv: Readonly<Record<string, string>> | undefined;
  /** The output line budget all vassals share (util/output-budget.ts). */
  readonly #sharedLines: TokenBucket;

  constructor(options: SpawnerOptions) {
    this.#o = options;
    this.#log = options.log;
    this.tenantEnv = options.tyrant ? passedEnvironment(process.env, options.passEnv ?? []) : undefined;
    this.#host = options.hostPy === undefined ? undefined : new RuntimeHost({python: options.python, hostPy: options.hostPy, log: options.log});
    this.#sockets = new SocketStore(options.python, this.#host);
    this.#sharedLines = sharedLineBucket(options.sys);
  }

  /** Calls `listener` with the vassals holding `key` when a connection is pending on it (on-demand wake-up). */
  onWake(listener: (vassal: string) => void): void {
    this.#host?.onWake((key) => {
      for (const [name, launchable] of this.#vassals) if (launchable.sockets.includes(key)) listener(name);
    });
  }

  /**
   * Decides who the vassal runs as and applies its limits. An error (`CODE message`) refuses the vassal. `owner`
   * is its file's owner (tyrant mode runs the vassal as it).
   */
  place(name: string, spec: VassalSpec, owner: Identity | undefined): Result<Placement, string> {
    const request = {name, ...(spec.uid === undefined ? {} : {uid: spec.uid}), ...(spec.gid === undefined ? {} : {gid: spec.gid})};
    const identity = identityFor(request, owner, this.#o.tyrant);
    if (!identity.ok) return identity;
    const limited = this.#o.limits.apply(name, spec, identity.value !== undefined);
    if (!limited.ok) return limited;
    const launchable = this.#launchable(name);
    launchable.identity = identity.value;
    launchable.appServer = spec.kind === 'app-server';
    return ok({identity: identity.value, key: this.#placementKey(name, identity.value)});
  }

  /** True when a running instance of `name` was launched elsewhere than `placement` (another user or cgroup). */
  movesInstance(name: string, placement: Placement): boolean {
    const launchedAs = this.#vassals.get(name)?.launchedAs;
    return launchedAs !== undefined && launchedAs !== placement.key;
  }

  /** Who `name` runs as (undefined: as the emperor). */
  identityOf(name: string): Identity | undefined {
    return this.#vassals.get(name)?.identity;
  }

  /**
   * Gets what `spec` needs before it can start: the runtime host (app-server vassals from the second one on, and
   * every on-demand one), the sockets the emperor holds for it, execa for a program. Call after `place`.
   */
  async prepare(name: string, spec: VassalSpec): Promise<Result<void, PrepareFailure>> {
    // The host is the on-demand waker too: start it before binding the sockets it must watch. Counting the app-server
    // vassals is needed only until the host has been started once.
    if (spec.onDemand || (spec.kind === 'app-server' && (this.#hostStart !== undefined || this.#countAppServers() >= HOST_FROM_VASSALS))) {
      await this.#ensureHost();
    }
    const wanted =
      spec.onDemand && !this.#host?.available
        ? err('KAISER_CONFIG_CONFLICT "on-demand" needs the runtime host, which watches the sockets: do not run the emperor with --emperor-zygote=false')
        : emperorSocketsOf(spec);
    if (!wanted.ok) return err({kind: 'refused', error: wanted.error});
    if (wanted.value.length > 0) {
      const keys = wanted.value.map((socket) => socket.key);
      const user = this.#launchable(name).identity;
      if (this.#o.tyrant) {
        const allowed = checkPrivilegedPorts(name, keys, user, this.#o.privilegedPorts ?? {unprivilegedFrom: 1024, allowed: new Map()});
        if (!allowed.ok) return err({kind: 'refused', error: allowed.error});
      }
      // An on-demand app-server vassal's sockets live in the runtime host only (it watches them and forks the master).
      const claim = {vassal: name, user, hostOnly: spec.kind === 'app-server', ...chmodOf(spec)};
      const bound = await this.#sockets.acquire(claim, keys);
      if (!bound.ok) {
        const failure = bound.error;
        const error =
          failure.kind === 'taken'
            ? `KAISER_SOCKET_TAKEN ${formatError('KAISER_SOCKET_TAKEN', {vassal: name, address: failure.address, holder: failure.holder})}`
            : `KAISER_SOCKET_BIND_FAILED ${formatError('KAISER_SOCKET_BIND_FAILED', {address: keys.join(', '), cause: failure.message})}`;
        return err({kind: 'bind-failed', error});
      }
      const held = this.#launchable(name).sockets;
      for (const key of keys) if (!held.includes(key)) held.push(key);
    }
    if (spec.kind === 'command') await this.#o.sys.prepareExec();
    return ok(undefined);
  }

  /** Starts an instance of vassal `name` running `spec`. */
  launch(name: string, spec: VassalSpec): Child & {readonly pidReady?: Promise<number>} {
    const launchable = this.#launchable(name);
    const identity = launchable.identity;
    const base = this.tenantEnv === undefined ? undefined : tenantEnvironment(this.tenantEnv, identity);
    const request = launchRequestFor(spec, (address) => this.#sockets.owned(address), base);
    const cgroup = this.#o.limits.cgroupOf(name);
    launchable.launchedAs = this.#placementKey(name, identity);
    if (identity) {
      const uwsgi = this.#o.tyrant
        ? `[emperor-tyrant] dropping privileges to ${identity.uid} ${identity.gid} for instance ${name}`
        : `[emperor] running vassal ${name} as uid ${identity.uid} gid ${identity.gid}`;
      this.#log.info('dropping privileges', {uwsgi, vassal: name, uid: identity.uid, gid: identity.gid});
    }
    const placed = {...(identity ? {uid: identity.uid, gid: identity.gid} : {}), ...(cgroup ? {cgroupProcs: cgroup.procsFiles} : {})};
    const host = this.#host;
    if (request.kind === 'master' && host && request.python === host.python) {
      if (host.available) {
        return host.spawn({config: request.config, env: request.env, cwd: request.cwd, ...(request.inherit ? {inherit: request.inherit} : {}), ...placed, sharedLines: this.#sharedLines});
      }
      // Not started yet (a single app-server vassal runs without it) is normal; stopped after a start is not.
      if (this.#hostStart !== undefined) this.#hostUnavailable('it is not running');
    }
    return spawnChild({...execSpecOf(request), ...placed}, this.#o.sys, {sharedLines: this.#sharedLines});
  }

  /** The vassal changed state: on-demand sockets are watched only while it sleeps; stale ones close once it is ready. */
  onTransition(name: string, from: string, to: string, spec: VassalSpec | undefined): void {
    const launchable = this.#vassals.get(name);
    if (!launchable || launchable.sockets.length === 0) return;
    if (this.#host && (from === 'on-demand') !== (to === 'on-demand')) {
      for (const key of launchable.sockets) {
        if (to === 'on-demand') this.#host.arm(key);
        else this.#host.disarm(key);
      }
    }
    // After a reload to new socket addresses, the old ones close only once the new instance is ready.
    if (to !== 'ready') return;
    const current = spec === undefined ? undefined : emperorSocketsOf(spec);
    const wanted = new Set(current?.ok ? current.value.map((socket) => socket.key) : []);
    const stale = launchable.sockets.filter((address) => !wanted.has(address));
    launchable.sockets = launchable.sockets.filter((address) => wanted.has(address));
    if (stale.length) this.#sockets.release(name, stale);
  }

  /** The vassal is gone: its sockets are released and its limits forgotten. */
  forget(name: string): void {
    const launchable = this.#vassals.get(name);
    this.#vassals.delete(name);
    this.#o.limits.forget(name);
    if (launchable) this.#sockets.release(name, launchable.sockets);
  }

  /** Closes every socket and the runtime host (the emperor is stopping, its vassals are gone). */
  async close(): Promise<void> {
    this.#sockets.closeAll();
    await this.#host?.close();
  }

  #launchable(name: string): Launchable {
    let launchable = this.#vassals.get(name);
    if (launchable === undefined) {
      launchable = {appServer: false, identity: undefined, launchedAs: undefined, sockets: []};
      this.#vassals.set(name, launchable);
    }
    return launchable;
  }

  #countAppServers(): number {
    let count = 0;
    for (const launchable of this.#vassals.values()) if (launchable.appServer) count += 1;
    return count;
  }

  #placementKey(name: string, identity: Identity | undefined): string {
    const cgroup = this.#o.limits.cgroupOf(name) !== undefined;
    return identity === undefined ? (cgroup ? 'cgroup' : '') : `${identity.uid}:${identity.gid}${cgroup ? ':cgroup' : ''}`;
  }

  /** Starts the runtime host once; later callers wait for the same start. */
  #ensureHost(): Promise<void> {
    const host = this.#host;
    if (!host) return Promise.resolve();
    this.#hostStart ??= host.start().then((started) => {
      if (!started) this.#hostUnavailable('it did not start');
    });
    return this.#hostStart;
  }

  #hostUnavailable(why: string): void {
    if (this.#hostFallbackLogged) return;
    this.#hostFallbackLogged = true;
    this.#log.error('runtime host unavailable', {uwsgi: `[emperor] runtime host unavailable (${why}): starting app-server masters directly`});
  }
}

/** `chmod-socket` of an app-server vassal (uWSGI's bare `chmod-socket` is 666), for the unix sockets bound for it. */
function chmodOf(spec: VassalSpec): {chmod?: string} {
  if (spec.kind !== 'app-server') return {};
  const mode = spec.serverConfig['chmod-socket'];
  if (mode === true || mode === '') return {chmod: '666'};
  return typeof mode === 'string' && /^[0-7]{3,4}$/.test(mode) ? {chmod: mode} : {};
}

/** What is exec'd for a launch request (a master exec'd directly gets its config as KAISER_CONFIG). */
function execSpecOf(request: LaunchRequest): ChildSpec {
  switch (request.kind) {
    case 'program':
      return {file: request.file, args: request.args, cwd: request.cwd, env: request.env, emperorPipe: false, listenFds: request.listenFds};
    case 'master':
      return {file: request.python, args: masterArgs(request.config), cwd: request.cwd, env: {...request.env, KAISER_CONFIG: JSON.stringify(request.config)}, emperorPipe: true, listenFds: []};
    default: {
      const never: never = request;
      throw new Error(`Internal error: unknown launch request ${JSON.stringify(never)}`);
    }
  }
}
