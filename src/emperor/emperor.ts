/**
 * The emperor: turns definitions from its sources (the vassal directory, fleet stores: see definition.ts) into vassal
 * lifecycles. It keeps one record per vassal name and runs one definition per name at a time: plan it (definition.ts:
 * unchanged, recheck, invalid or apply), then place, prepare and launch through the spawner (spawner.ts). It relays
 * every transition, samples accounting, answers stats, and shuts down in order:
 *
 *   stop the sources → stop every vassal gracefully in parallel (each with its stop-timeout, all within reload-mercy)
 *   → SIGKILL what is left → close log files, cgroups, the stats server, sockets and runtime host → close the reaper
 *
 * Every effect on the world goes through `System` (src/system/), so a fake world drives it in tests.
 */
import {createHash} from 'node:crypto';
import type {Server} from 'node:net';
import {fileURLToPath} from 'node:url';
import type {VassalSpec} from '../config/vassal-spec.js';
import type {Logger} from '../log/logger.js';
import {realSystem} from '../system/real-system.js';
import {terminate} from '../util/terminate.js';
import type {System} from '../system/system.js';
import {ownerChangedBetween, planDefinition, planningContext, type DefaultsFile, type DefinitionContext, type VassalDefinition, type VassalRecord, type VassalSink} from './definition.js';
import {Containment, containedSystem, type VassalStep} from './containment.js';
import {VassalLimits, type LimitedVassal} from './limits.js';
import {logOpenFileLimit} from './open-file-limit.js';
import {Reaper} from './reaper.js';
import {SpawnSlots} from './spawn-slots.js';
import {Spawner} from './spawner.js';
import {startStatsServer} from './stats-server.js';
import {censusOf, renderEmperorStats, statusLines, type Census} from './stats.js';
import {VassalAccounting} from './vassal-accounting.js';
import {VassalDefaults} from './vassal-defaults.js';
import {VassalLogs} from './vassal-logs.js';
import {hasChild} from './vassal-states.js';
import {VassalRelay} from './vassal-relay.js';
import {Vassal, type VassalDeps} from './vassal.js';
import {makeVassalDeps} from './vassal-deps.js';
import type {EmperorOptions, EmperorVassalSnapshot} from './emperor-options.js';

export type {EmperorOptions, EmperorVassalSnapshot, VassalTransition} from './emperor-options.js';

const BIND_RETRY_MS = 5_000;
/** How long a scrape waits for app-server vassals to report their request figures. */
const APP_STATS_WAIT_MS = 250;
const HOST_PY = fileURLToPath(new URL('../server/python/host.py', import.meta.url));

/** The emperor of one set of sources. */
export class Emperor implements VassalSink {
  readonly #o: EmperorOptions;
  readonly #log: Logger;
  readonly #sys: System;
  readonly #records = new Map<string, VassalRecord>();
  readonly #reaper: Reaper;
  readonly #accounting: VassalAccounting;
  readonly #logs: VassalLogs;
  readonly #slots: SpawnSlots;
  /** Every source feeding this emperor (the directory, fleet stores), for stats. */
  readonly #sourceNames = new Set<string>();
  /** The definition pass in progress per vassal name (see `define`). */
  readonly #defining = new Map<string, Promise<void>>();
  /** Vassal defaults, lowest precedence first: `--vassals-include` files, then the directory's `_defaults.toml`. */
  readonly #defaults: VassalDefaults;
  /** memory-limit and cpu-limit of every vassal (cgroups, or sampling). */
  readonly #limits: VassalLimits;
  readonly #spawner: Spawner;
  /** What every vassal does to the world (one object shared by all of them). */
  readonly #vassalDeps: VassalDeps;
  /** How definitions are parsed: python, curse tolerance; in tyrant mode the tenants' `$(VAR)` and file reads. */
  readonly #planning: Omit<DefinitionContext, 'defaults' | 'now'>;
  /** The boundaries every per-vassal step, callback and timer runs in (containment.ts). */
  readonly #containment: Containment;
  readonly #relay: VassalRelay;
  #statsServer: Server | undefined;
  #stopping = false;
  readonly startedAt: number;

  constructor(options: EmperorOptions) {
    this.#o = options;
    this.#log = options.log.child({component: 'emperor'});
    const world = options.system ?? realSystem();
    this.#containment = options.containment ?? new Containment(this.#log, () => world.now());
    this.#sys = containedSystem(world, this.#containment);
    this.startedAt = this.#sys.now();
    this.#reaper = new Reaper(this.#sys);
    this.#slots = new SpawnSlots(options.spawnConcurrency);
    this.#defaults = new VassalDefaults(this.#log, this.#sys, options.vassalsInclude ?? [], options.dir ?? process.cwd());
    this.#limits = new VassalLimits({log: this.#log, accountingMs: options.accountingMs});
    this.#logs = new VassalLogs(this.#log);
    this.#accounting = new VassalAccounting({
      sys: this.#sys,
      containment: this.#containment,
      accountingMs: options.accountingMs,
      limits: this.#limits,
      vassals: () => this.#limitedVassals(),
      // logrotate without a signal (create mode): follow the path to the new file.
      afterTick: () => this.#logs.reopenMoved(),
    });
    const python = options.python ?? (this.#sys.exists('/usr/bin/python3') ? '/usr/bin/python3' : 'python3');
    const tyrant = {tyrant: options.tyrant === true, privilegedPorts: options.privilegedPorts, passEnv: options.passEnv};
    this.#spawner = new Spawner({sys: this.#sys, log: this.#log, limits: this.#limits, ...tyrant, python, hostPy: options.zygote === false ? undefined : HOST_PY});
    this.#planning = planningContext(options.python, options.curseToleranceMs, this.#spawner.tenantEnv);
    // A pending connection on a sleeping on-demand vassal's socket wakes the vassal.
    this.#spawner.onWake((name) => this.#records.get(name)?.vassal.wake());
    this.#relay = new VassalRelay({options, spawner: this.#spawner, sys: this.#sys, log: this.#log, logs: this.#logs, containment: this.#containment});
    this.#vassalDeps = makeVassalDeps({
      spawner: this.#spawner, sys: this.#sys, log: options.log, groups: this.#reaper, slots: this.#slots,
      relay: this.#relay, limits: this.#limits, containment: this.#containment,
    });
  }

  /** Starts the reaper, the stats server, the sources (resolves after their first pass) and accounting. */
  async start(): Promise<void> {
    this.#reaper.start();
    this.#log.info('starting', {uwsgi: '*** starting kaiser Emperor ***', dir: this.#o.dir, pid: process.pid});
    await logOpenFileLimit(this.#sys, this.#log);
    if (this.#o.statsAddress) {
      const {server, address} = await startStatsServer(this.#o.statsAddress, () => this.statsJson(), {onError: (error) => this.#containment.report({component: 'stats'}, error)});
      this.#statsServer = server;
      this.#log.info('stats server', {uwsgi: `*** Emperor stats server enabled on ${address} ***`, address});
    }
    await this.#defaults.readIncludes();
    for (const source of this.#o.sources ?? []) await source.start(this);
    this.#accounting.start();
  }

  /** SIGHUP: re-read `--vassals-include`, then reload every vassal. */
  reloadAll(): void {
    void this.#defaults.readIncludes().then((changed) => (changed ? this.#redefineAll() : undefined));
    this.#log.info('reloading all vassals', {uwsgi: '[emperor] reloading all vassals (SIGHUP)'});
    for (const record of this.#records.values()) record.vassal.reload();
  }

  /** SIGUSR1: the emperor's own memory, then one status line per vassal. */
  logStatus(): void {
    const [memory, ...vassals] = statusLines(this.snapshots(), process.memoryUsage());
    this.#log.info('emperor memory', {uwsgi: memory});
    for (const uwsgi of vassals) this.#log.info('vassal status', {uwsgi});
  }

  /** Snapshots of every vassal, with accounting. */
  snapshots(): EmperorVassalSnapshot[] {
    return [...this.#records.values()].map(({vassal, version, source}) => {
      const snap = vassal.snapshot();
      const usage = snap.pid > 0 ? this.#accounting.usageOf(snap.pid) : undefined;
      const identity = this.#spawner.identityOf(vassal.name);
      return {
        ...snap,
        cpuPercent: usage?.cpuPercent ?? 0,
        cpuSeconds: usage?.cpuSeconds ?? 0,
        rssBytes: usage?.rssBytes ?? 0,
        lastMod: version,
        source,
        ...(identity ? {uid: identity.uid, gid: identity.gid} : {}),
      };
    });
  }

  /** How many vassals there are, serve (`SERVING`) and are failing (`FAILING`), without snapshots. */
  census(): Census {
    return censusOf([...this.#records.values()].map((r) => r.vassal.state.id));
  }

  /** The emperor stats document. */
  statsJson(): string {
    return renderEmperorStats({version: this.#o.version, sources: [...this.#sourceNames], vassals: this.snapshots(), tyrant: this.#o.tyrant === true});
  }

  /** Names another source of vassals (e.g. a fleet store) in stats. */
  registerSource(source: string): void {
    this.#sourceNames.add(source);
  }

  /** Asks every app-server vassal for fresh request figures, waiting at most a moment for the answers. */
  async refreshAppStats(): Promise<void> {
    let cancel: (() => void) | undefined;
    const wait = new Promise<void>((resolve) => (cancel = this.#sys.setTimer(APP_STATS_WAIT_MS, resolve)));
    await Promise.race([Promise.all([...this.#records.values()].map((r) => r.vassal.requestStats())), wait]);
    cancel?.();
  }

  /** Forces a sample now (tests and `kaiser ls`). */
  sampleAccounting(): Promise<void> {
    return this.#accounting.sample();
  }

  /** Ragnarok: stop every vassal gracefully within reload-mercy, then SIGKILL the rest. */
  async shutdown(): Promise<void> {
    if (this.#stopping) return;
    this.#stopping = true;
    this.#log.info('shutdown', {uwsgi: '[emperor] *** RAGNAROK EVOKED ***'});
    for (const source of this.#o.sources ?? []) await source.close();
    this.#accounting.stop();
    // Each vassal is asked (and given its stop-timeout) by its own removal; reload-mercy bounds them all.
    const stopped = Promise.all([...this.#records.values()].map((r) => r.vassal.remove('shutdown')));
    await terminate(stopped, {ask: () => undefined, graceMs: this.#o.reloadMercyMs, force: () => this.#noMercy(), setTimer: (ms, fn) => this.#sys.setTimer(ms, fn)});
    this.#logs.closeAll();
    await this.#limits.close();
    await new Promise<void>((resolve) => (this.#statsServer ? this.#statsServer.close(() => resolve()) : resolve()));
    await this.#spawner.close();
    await this.#reaper.close();
    this.#log.info('buried', {uwsgi: 'The Emperor is buried.'});
  }

  /** reload-mercy is over: SIGKILL the group of every vassal still running. */
  #noMercy(): void {
    for (const {vassal} of this.#records.values()) {
      const s = vassal.state;
      if (!hasChild(s)) continue;
      this.#log.warn('no mercy', {uwsgi: `[emperor] NO MERCY for vassal ${vassal.name} !!!`});
      s.child.killGroup('SIGKILL');
    }
  }

  // ── definitions ─────────────────────────────────────────────────────────────────────────────

  /**
   * Adds or updates the vassal `name` from a definition (a file of the watched directory, or another source such as
   * the fleet store). Unchanged content and version do nothing; a change reloads; a broken definition keeps a running
   * vassal on its last good config.
   */
  define(name: string, def: VassalDefinition): Promise<void> {
    // One definition of a name at a time: the first scan and the watcher may both report a file at once, and two
    // concurrent passes would both bind its sockets.
    const previous = this.#defining.get(name) ?? Promise.resolve();
    const next = previous.then(() => this.#define(name, def));
    const settled = next.catch(() => undefined);
    this.#defining.set(name, settled);
    void settled.then(() => {
      if (this.#defining.get(name) === settled) this.#defining.delete(name);
    });
    return next;
  }

  /** One definition pass, inside the vassal's boundary: a throw makes the vassal invalid, never the emperor's. */
  async #define(name: string, def: VassalDefinition): Promise<void> {
    if (this.#stopping) return;
    const step = {now: 'parse' as VassalStep};
    try {
      await this.#plan(name, def, step);
    } catch (error) {
      const text = this.#containment.report({component: 'vassal', vassal: name, step: step.now}, error);
      this.#containment.run({component: 'vassal', vassal: name, step: `${step.now} (recovery)`}, () => {
        const record = this.#records.get(name) ?? this.#newRecord(name, def);
        record.present = true;
        record.definition = def;
        this.#refuse(record, `${def.path}: error ${text}`, 'invalid vassal file');
      });
    }
  }

  async #plan(name: string, def: VassalDefinition, step: {now: VassalStep}): Promise<void> {
    this.#containment.checkpoint('parse', name);
    const known = this.#records.get(name);
    const plan = planDefinition(known, def, {...this.#planning, defaults: this.#defaults, now: this.#sys.now()});
    if (plan.kind === 'unchanged') return;
    const record = known ?? this.#newRecord(name, def);
    record.digest = plan.digest;
    record.version = def.version;
    record.present = true;
    record.definition = def;
    record.pending?.cancel();
    record.pending = undefined;
    switch (plan.kind) {
      case 'recheck':
        record.pending = {reason: 'recheck', cancel: this.#sys.setTimer(plan.afterMs, () => def.recheck?.())};
        return;
      case 'invalid':
        return this.#refuse(record, plan.error, 'invalid vassal file');
      case 'apply':
        // Config warnings (unknown keys uWSGI ignores, options not applied yet): logged once per change of the file.
        if (plan.spec.warnings !== undefined && plan.digest !== record.warnedFor) {
          record.warnedFor = plan.digest;
          this.#log.warn('vassal config warnings', {uwsgi: `[emperor] vassal ${name} config warnings:\n${plan.spec.warnings.join('\n')}`, vassal: name, warnings: plan.spec.warnings});
        }
        step.now = 'define';
        this.#containment.checkpoint('define', name);
        return this.#apply(record, def, plan.spec);
      default: {
        const never: never = plan;
        throw new Error(`Internal error: unknown definition plan ${JSON.stringify(never)}`);
      }
    }
  }

  #newRecord(name: string, def: VassalDefinition): VassalRecord {
    const vassal = new Vassal(name, this.#vassalDeps);
    const record: VassalRecord = {vassal, source: def.source, definition: def, digest: '', version: def.version, present: true, pending: undefined, applied: undefined, lastReported: undefined, owner: def.owner};
    this.#records.set(name, record);
    return record;
  }

  /** Places, prepares and hands a good spec to its vassal, which reloads only if something changed. */
  async #apply(record: VassalRecord, def: VassalDefinition, spec: VassalSpec): Promise<void> {
    const name = record.vassal.name;
    const previousOwner = record.owner;
    record.owner = def.owner;
    const placed = this.#spawner.place(name, spec, def.owner);
    if (!placed.ok) {
      // uWSGI stops a running vassal whose file changed owner under tyrant mode; other refusals keep the running
      // instance on its last good config, as for any broken file.
      const ownerChanged = this.#o.tyrant === true && ownerChangedBetween(previousOwner, def.owner);
      if (ownerChanged && hasChild(record.vassal.state)) {
        this.#log.warn('vassal file owner changed', {uwsgi: `[emperor-tyrant] !!! permissions of file ${def.path} changed. stopping the instance... !!!`, vassal: name});
      }
      record.applied = undefined;
      return this.#refuse(record, `${def.path}: error ${placed.error}`, 'vassal refused', ownerChanged);
    }
    const prepared = await this.#spawner.prepare(name, spec);
    if (!prepared.ok) {
      const failure = prepared.error;
      if (failure.kind === 'refused') return this.#refuse(record, `${def.path}: error ${failure.error}`, 'invalid vassal file');
      const message = `${def.path}: error ${failure.error}`;
      this.#log.error('cannot bind vassal socket', {uwsgi: `[emperor] ${message} (retrying in ${BIND_RETRY_MS / 1000} s)`, vassal: name});
      record.pending = {reason: 'rebind', cancel: this.#sys.setTimer(BIND_RETRY_MS, () => (def.recheck ? def.recheck() : void this.define(name, def)))};
      record.vassal.onConfigInvalid(message);
      return;
    }
    record.lastReported = undefined;
    const applied = createHash('sha1').update(`${def.version}\0${placed.value.key}\0${JSON.stringify(spec)}`).digest('base64');
    if (record.applied === applied && record.vassal.spec !== undefined) return;
    record.applied = applied;
    for (const old of def.replaces ?? []) if (old !== name) await this.undefine(old);
    // A tenant's logto is opened as the tenant; outside tyrant mode the file is the operator's, opened by the emperor as
    // uWSGI does before it drops privileges (logfile-chown then hands it over).
    this.#logs.follow(name, spec, this.#o.tyrant === true ? placed.value.identity : undefined);
    // A reload in place keeps the process: it cannot change the user it runs as, nor move it into a cgroup.
    const restart = this.#spawner.movesInstance(name, placed.value);
    if (restart && hasChild(record.vassal.state)) this.#log.info('vassal identity or cgroup changed; restarting it', {vassal: name, now: placed.value.key});
    record.vassal.onConfigChanged(spec, {restart});
  }

  /** Reports a definition the vassal cannot run (once per distinct error) and tells the vassal. */
  #refuse(record: VassalRecord, message: string, what: 'invalid vassal file' | 'vassal refused', stop = false): void {
    const name = record.vassal.name;
    if (record.lastReported !== message) {
      record.lastReported = message;
      const uwsgi = what === 'invalid vassal file' ? `[emperor] invalid vassal ${name}:\n${message}` : `[emperor] ${message}`;
      this.#log.error(what, {uwsgi, vassal: name, error: message});
    }
    record.vassal.onConfigInvalid(message, {stop});
  }

  /** The directory's defaults file changed: re-evaluate every vassal if the effective defaults did. */
  async defineDefaults(offered: DefaultsFile | undefined, vassalDir: string): Promise<void> {
    if (!this.#defaults.offerDirectoryFile(offered, vassalDir, this.#o.tyrant === true)) return;
    this.#log.info('vassal defaults changed', {uwsgi: `[emperor] vassal defaults ${this.#defaults.directoryFile?.file ?? '(none)'} applied to every vassal`});
    this.#redefineAll();
  }

  /** Re-evaluates every vassal against the current defaults (only those whose effective config changed reload). */
  #redefineAll(): void {
    for (const [name, record] of this.#records) {
      if (record.present) void this.define(name, record.definition);
    }
  }

  /** The definition of `name` is gone (file removed, fleet assignment withdrawn): stop the vassal and forget it. */
  undefine(name: string): Promise<void> {
    return this.#containment.runAsync({component: 'vassal', vassal: name, step: 'remove'}, () => this.#undefine(name));
  }

  #undefine(name: string): Promise<void> {
    const record = this.#records.get(name);
    if (!record) return Promise.resolve();
    // Already going: wait for it (a rename waits for the old name to be stopped).
    if (!record.present) return record.vassal.remove('removed');
    record.present = false;
    record.pending?.cancel();
    record.pending = undefined;
    return record.vassal.remove('removed').then(() => {
      if (!record.present && this.#records.get(name) === record) {
        this.#records.delete(name);
        this.#logs.close(name);
        this.#spawner.forget(name);
        this.#o.onVassalRemoved?.(name);
      }
    });
  }

  /** The running vassals, for the limits' check after each accounting sample. */
  *#limitedVassals(): Iterable<LimitedVassal> {
    for (const [name, {vassal}] of this.#records) yield {name, spec: vassal.spec, child: hasChild(vassal.state) ? vassal.state.child : undefined};
  }

  /** SIGUSR2 (logrotate's postrotate): reopen every vassal log file. */
  reopenLogs(): void {
    this.#logs.reopen();
    this.#log.info('logs reopened', {uwsgi: '[emperor] reopening vassal log files'});
  }

  /** `name`'s definition as the emperor read it and accepted its owner (the dashboard shows it), if readable. */
  definitionText(name: string): string | undefined {
    const d = this.#records.get(name)?.definition;
    return d?.error === undefined ? d?.text.toString('utf8') : undefined;
  }

  /** The vassal called `name`, for the control socket. */
  vassal(name: string): Vassal | undefined {
    return this.#records.get(name)?.vassal;
  }
}
