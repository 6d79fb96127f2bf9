/**
 * The emperor: turns the monitor's "file present / file absent" into vassal lifecycles, bounds concurrent spawns,
 * samples accounting, and answers stats. It reads vassal files (≤ 1 MiB), decides by content hash and mtime whether
 * anything changed (so `touch` reloads, a rewrite with identical content and mtime does not), and keeps a running
 * vassal on its last good config when its file breaks.
 *
 * Shutdown order: stop watching → stop every vassal gracefully in parallel (each with its stop-timeout, all within
 * reload-mercy) → SIGKILL what is left → close the stats server → close the reaper.
 */
import {createHash} from 'node:crypto';
import {existsSync, readFileSync} from 'node:fs';
import {readFile, stat} from 'node:fs/promises';
import {fileURLToPath} from 'node:url';
import type {Server} from 'node:net';
import {loadVassalSpec, type VassalSpec} from '../config/vassal-spec.js';
import {formatDiagnostic} from '../config/diagnostic.js';
import type {Logger} from '../log/logger.js';
import {Accountant} from '../accounting/accountant.js';
import {err, ok, type Result} from '../result.js';
import {formatError, type ErrorCode, type ErrorFields} from '../errors.js';
import {SocketStore} from './socket-store.js';
import {VassalDefaults} from './vassal-defaults.js';
import {VassalLogFile} from '../log/vassal-log-file.js';
import {prepareSpawner, spawnChild, type Child, type ChildSpec} from './child.js';
import {VassalLimits, type LimitedVassal} from './limits.js';
import {identityFor, type Identity} from './identity.js';
import {RuntimeHost} from './runtime-host.js';
import {DirectoryMonitor} from './monitor.js';
import {Reaper} from './reaper.js';
import {startStatsServer} from './stats-server.js';
import {renderEmperorStats} from './stats.js';
import {Vassal, type VassalDeps, type VassalSnapshot} from './vassal.js';
import {FAILING_STATES} from './vassal-states.js';
import {SpawnSlots} from './spawn-slots.js';
import {childSpecFor, emperorSocketsOf, MASTER_PY, serverConfigFor} from './child-spec.js';

const MAX_FILE_BYTES = 1024 * 1024;
const BIND_RETRY_MS = 5_000;

/** `path: error CODE message`, the one-line form operators see for problems that have no line number. */
function operatorError<C extends ErrorCode>(path: string, code: C, fields: ErrorFields<C>): string {
  return `${path}: error ${code} ${formatError(code, fields)}`;
}
const SETTLE_MS = 15;
/** A file that fails to parse right after a write may be half-written: look again before calling it invalid. */
const HALF_WRITTEN_RECHECK_MS = 200;
const HALF_WRITTEN_WINDOW_MS = 2_000;

export interface EmperorOptions {
  /** The watched vassal directory; undefined when vassals come only from other sources (fleet). */
  dir: string | undefined;
  statsAddress: string | undefined;
  reloadMercyMs: number;
  rescanMs: number;
  accountingMs: number;
  spawnConcurrency: number;
  /** The emperor's `--python` for app-server vassals that do not choose one. */
  python: string | undefined;
  /** Default stop-timeout of app-server vassals. */
  curseToleranceMs: number;
  /** Fork app-server masters from one runtime host (zygote) instead of starting a python per vassal (default true). */
  zygote?: boolean;
  /** `--vassals-include` files (absolute): defaults for every vassal, below the directory's `_defaults.toml`. */
  vassalsInclude?: readonly string[];
  /** `--emperor-tyrant`: every vassal runs as the owner of its file (identity.ts has the rules). */
  tyrant?: boolean;
  log: Logger;
  version: string;
  /** Called after each scan of the directory with its duration (for metrics). */
  onScan?: (seconds: number) => void;
  /** Called when a vassal becomes ready with the time since its spawn (for metrics). */
  onVassalReady?: (seconds: number) => void;
  /** Receives every output line of every vassal (the control socket's log book). */
  onVassalOutput?: (name: string, line: string) => void;
  /** Called when a vassal is forgotten after its file was removed. */
  onVassalRemoved?: (name: string) => void;
  /** Called on every state transition of every vassal (dashboard live updates, history). */
  onVassalTransition?: (transition: VassalTransition) => void;
}

/** One state change of one vassal. */
export interface VassalTransition {
  vassal: string;
  from: string;
  to: string;
  event: string;
  /** Unix milliseconds. */
  at: number;
}

/** Accounting may take at most 1/ACCOUNTING_BUDGET of the time (1 % of a core). */
const ACCOUNTING_BUDGET = 100;

/** The runtime host starts when this many app-server vassals exist (or with the first on-demand one). */
const HOST_FROM_VASSALS = 2;

/** How long a scrape waits for app-server vassals to report their request figures. */
const APP_STATS_WAIT_MS = 250;

/** A vassal definition from any source: a file of the watched directory, or a fleet store. */
export interface VassalDefinition {
  /** Where it comes from, shown by `kaiser ls` (the vassal directory, or e.g. `etcd://host:2379/prefix`). */
  source: string;
  /** Name shown in diagnostics; its extension (.ini, .toml) picks the format; `%p` and friends derive from it. */
  path: string;
  /** Directory that relative paths resolve against, and the working directory of app-server vassals. */
  dir: string;
  text: Buffer;
  /** Change marker (file mtime, store revision): a different version with the same text still reloads (`touch`). */
  version: number;
  /** Unix ms of the last change, for the half-written-file grace. */
  changedAt: number;
  /** Set when the definition could not be read at all. */
  error?: string;
  /** Reads the definition again (files: after a half-written grace or a bind failure). */
  recheck?: () => void;
  /** The owner of the vassal file (tyrant mode runs the vassal as it); undefined for sources without files. */
  owner?: Identity;
}

interface VassalRecord {
  vassal: Vassal;
  source: string;
  /** The last definition seen, to re-evaluate the vassal when the defaults change. */
  definition: VassalDefinition | undefined;
  /** inode:size:mtime:uid:gid of the file when last read (directory vassals), so rescans skip unchanged files. */
  statKey?: string;
  /** The effective spec (JSON) and version last applied: a defaults change that leaves both alone reloads nothing. */
  applied: string | undefined;
  hash: string;
  mtimeMs: number;
  present: boolean;
  logFile: VassalLogFile | undefined;
  recheck: NodeJS.Timeout | undefined;
  /** The last error logged for this file, so a broken file is reported once per change. */
  lastReported: string | undefined;
  /** The definition hash whose config warnings were last logged (each change of the file logs them once). */
  warnedFor?: string;
  /** Addresses of emperor-owned sockets this vassal holds (socket activation). */
  sockets: string[];
  /** The file owner seen last (tyrant mode stops a vassal whose owner changes to a refused one). */
  owner: Identity | undefined;
  /** Who the vassal runs as (undefined: as the emperor). */
  identity: Identity | undefined;
  /** What the running instance was started with (identity, cgroup): a change needs a restart, not a reload. */
  launchedAs: string | undefined;
}

const HOST_PY = fileURLToPath(new URL('../server/python/host.py', import.meta.url));

/** The emperor of one directory. */
export class Emperor {
  readonly #options: EmperorOptions;
  readonly #log: Logger;
  readonly #records = new Map<string, VassalRecord>();
  readonly #reaper = new Reaper();
  readonly #accountant = new Accountant();
  readonly #sockets: SocketStore;
  readonly #slots: SpawnSlots;
  readonly #monitor: DirectoryMonitor | undefined;
  /** Every source feeding this emperor (the directory, fleet stores), for stats. */
  readonly #sources = new Set<string>();
  /** Vassal names by content hash, to find the old name of a renamed file without scanning every vassal. */
  readonly #byHash = new Map<string, string[]>();
  /** The definition pass in progress per vassal name (see `define`). */
  readonly #defining = new Map<string, Promise<void>>();
  /** Vassal defaults, lowest precedence first: `--vassals-include` files, then the directory's `_defaults.toml`. */
  readonly #defaults: VassalDefaults;
  /** What every vassal does to the world (one object shared by all of them). */
  readonly #vassalDeps: VassalDeps;
  #statsServer: Server | undefined;
  #accountingTimer: NodeJS.Timeout | undefined;
  #stopping = false;
  /** The runtime host that forks app-server masters; undefined with `emperor-zygote = false`. */
  readonly #host: RuntimeHost | undefined;
  #hostFallbackLogged = false;
  /** The host is started lazily: one vassal is cheaper without it (~6 MB), from the second one on it saves memory. */
  #hostStart: Promise<void> | undefined;
  /** memory-limit and cpu-limit of every vassal (cgroups, or sampling). */
  readonly #limits: VassalLimits;
  readonly startedAt = Date.now();

  constructor(options: EmperorOptions) {
    this.#options = options;
    this.#log = options.log.child({component: 'emperor'});
    this.#slots = new SpawnSlots(options.spawnConcurrency);
    this.#defaults = new VassalDefaults(this.#log, options.vassalsInclude ?? [], options.dir ?? process.cwd());
    this.#limits = new VassalLimits({log: this.#log, accountingMs: options.accountingMs});
    this.#vassalDeps = this.#makeVassalDeps();
    if (options.zygote !== false) {
      const python = options.python ?? (existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3');
      this.#host = new RuntimeHost({python, hostPy: HOST_PY, log: this.#log});
      // A pending connection on a sleeping on-demand vassal's socket wakes the vassal.
      this.#host.onWake((key) => {
        for (const record of this.#records.values()) if (record.sockets.includes(key)) record.vassal.wake();
      });
    }
    this.#sockets = new SocketStore(options.python ?? '/usr/bin/python3', this.#host);
    const dir = options.dir;
    if (dir !== undefined) this.#sources.add(dir);
    this.#monitor = dir === undefined ? undefined : new DirectoryMonitor(
      {dir, settleMs: SETTLE_MS, rescanMs: options.rescanMs, log: this.#log, ...(options.onScan ? {onScan: options.onScan} : {})},
      {
        onPresent: (name, path) => this.#onPresent(dir, name, path),
        onAbsent: (name) => this.#onAbsent(name),
        onDefaults: (path) => this.#onDirectoryDefaults(path),
      },
    );
  }

  /** Starts the reaper, the stats server, the first scan and the watch. */
  async start(): Promise<void> {
    this.#reaper.start();
    this.#log.info('starting', {uwsgi: '*** starting kaiser Emperor ***', dir: this.#options.dir, pid: process.pid});
    this.#logOpenFileLimit();
    if (this.#options.statsAddress) {
      const {server, address} = await startStatsServer(this.#options.statsAddress, () => this.statsJson());
      this.#statsServer = server;
      this.#log.info('stats server', {uwsgi: `*** Emperor stats server enabled on ${address} ***`, address});
    }
    await this.#defaults.readIncludes();
    await this.#monitor?.start();
    if (this.#options.accountingMs > 0) {
      const tick = () => {
        const started = performance.now();
        void this.sampleAccounting().then(() => {
          this.#limits.enforce(this.#limitedVassals(), (pid) => this.#accountant.usageOf(pid));
          // logrotate without a signal (create mode): follow the path to the new file.
          for (const record of this.#records.values()) record.logFile?.reopenIfMoved();
          if (this.#stopping) return;
          // One /proc pass costs ~25 µs per process on the machine (the kernel formats every stat file): with a
          // thousand vassals that is ~50 ms. The next tick waits at least 100 times the last pass, so accounting
          // stays under 1 % of a core whatever the scale (2 s up to ~800 processes, then longer).
          const spentMs = performance.now() - started;
          this.#accountingTimer = setTimeout(tick, Math.max(this.#options.accountingMs, spentMs * ACCOUNTING_BUDGET));
          this.#accountingTimer.unref();
        });
      };
      tick();
    }
  }

  /**
   * Every vassal costs the emperor a few descriptors (pipes, held sockets; an on-demand vassal one per socket here and
   * one in the runtime host). Node raises its soft RLIMIT_NOFILE to the hard limit at start; say what we got, and
   * warn when it is low for mass hosting (raise the hard limit: LimitNOFILE= in the systemd unit, ulimit -Hn).
   */
  #logOpenFileLimit(): void {
    let soft: number | undefined;
    let hard: number | undefined;
    try {
      const line = readFileSync('/proc/self/limits', 'utf8').split('\n').find((l) => l.startsWith('Max open files'));
      const fields = line?.split(/\s+/) ?? [];
      soft = Number(fields[3]);
      hard = Number(fields[4]);
    } catch {
      return;
    }
    if (!Number.isFinite(soft)) return;
    const message = `open-file limit ${soft} (hard ${Number.isFinite(hard) ? hard : 'unlimited'}; a vassal needs 1-3 descriptors here)`;
    if ((soft ?? 0) < 16384) this.#log.warn('low open-file limit', {uwsgi: `[emperor] ${message}; raise it for mass hosting (LimitNOFILE= / ulimit -n)`});
    else this.#log.info('open-file limit', {uwsgi: `[emperor] ${message}`});
  }

  /** SIGHUP: re-read `--vassals-include`, then reload every vassal. */
  reloadAll(): void {
    void this.#defaults.readIncludes().then((changed) => (changed ? this.#redefineAll() : undefined));
    this.#log.info('reloading all vassals', {uwsgi: '[emperor] reloading all vassals (SIGHUP)'});
    for (const record of this.#records.values()) record.vassal.reload();
  }

  /** SIGUSR1: one status line per vassal, then the emperor's own memory. */
  logStatus(): void {
    const m = process.memoryUsage();
    const mb = (bytes: number) => (bytes / 1048576).toFixed(1);
    this.#log.info('emperor memory', {
      uwsgi: `[emperor] ${this.#records.size} vassals; memory rss ${mb(m.rss)} MB, heap ${mb(m.heapUsed)}/${mb(m.heapTotal)} MB, external ${mb(m.external)} MB, array buffers ${mb(m.arrayBuffers)} MB`,
    });
    for (const snap of this.snapshots()) {
      this.#log.info('vassal status', {
        uwsgi: `vassal instance ${snap.name} (last spawned ${Math.floor(snap.lastSpawn / 1000)}) state ${snap.state} pid ${snap.pid} loyal ${snap.loyal ? 1 : 0} restarts ${snap.restarts}`,
      });
    }
  }

  /** Snapshots of every vassal, with accounting. */
  snapshots(): (VassalSnapshot & {cpuPercent: number; rssBytes: number; cpuSeconds: number; lastMod: number; source: string; uid?: number; gid?: number})[] {
    return [...this.#records.values()].map(({vassal, mtimeMs, source, identity}) => {
      const snap = vassal.snapshot();
      const usage = snap.pid > 0 ? this.#accountant.usageOf(snap.pid) : undefined;
      return {
        ...snap,
        cpuPercent: usage?.cpuPercent ?? 0,
        cpuSeconds: usage?.cpuSeconds ?? 0,
        rssBytes: usage?.rssBytes ?? 0,
        lastMod: mtimeMs,
        source,
        ...(identity ? {uid: identity.uid, gid: identity.gid} : {}),
      };
    });
  }

  /** How many vassals there are, are ready and are failing (backoff, invalid, reload failed), without snapshots. */
  census(): {total: number; ready: number; failing: number} {
    let ready = 0;
    let failing = 0;
    for (const {vassal} of this.#records.values()) {
      const id = vassal.state.id;
      if (id === 'ready') ready += 1;
      else if (FAILING_STATES.has(id)) failing += 1;
    }
    return {total: this.#records.size, ready, failing};
  }

  /** The emperor stats document. */
  statsJson(): string {
    return renderEmperorStats({version: this.#options.version, sources: [...this.#sources], vassals: this.snapshots(), tyrant: this.#options.tyrant === true});
  }

  /** Names another source of vassals (e.g. a fleet store) in stats. */
  registerSource(source: string): void {
    this.#sources.add(source);
  }

  /** Asks every app-server vassal for fresh request figures, waiting at most a moment for the answers. */
  async refreshAppStats(): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const wait = new Promise<void>((resolve) => (timer = setTimeout(resolve, APP_STATS_WAIT_MS)));
    await Promise.race([Promise.all([...this.#records.values()].map((r) => r.vassal.requestStats())), wait]);
    clearTimeout(timer);
  }

  /** Forces a sample now (tests and `kaiser ls`). */
  sampleAccounting(): Promise<void> {
    // A vassal with a cgroup is accounted from its cgroup's counters (the whole group, even processes that left the
    // vassal's session); the others from one pass over /proc.
    const fromCgroups = new Map<number, {rssBytes: number; cpuSeconds: number}>();
    for (const [name, record] of this.#records) {
      const s = record.vassal.state;
      const usage = 'child' in s && s.child.pid > 0 ? this.#limits.cgroupOf(name)?.usage() : undefined;
      if (usage && 'child' in s) fromCgroups.set(s.child.pid, usage);
    }
    return this.#accountant.sample(this.#leaderPids(), fromCgroups);
  }

  /** Ragnarok: stop every vassal gracefully within reload-mercy, then SIGKILL the rest. */
  async shutdown(): Promise<void> {
    if (this.#stopping) return;
    this.#stopping = true;
    this.#log.info('shutdown', {uwsgi: '[emperor] *** RAGNAROK EVOKED ***'});
    await this.#monitor?.close();
    if (this.#accountingTimer) clearTimeout(this.#accountingTimer);
    const all = Promise.all([...this.#records.values()].map((r) => r.vassal.remove('shutdown')));
    let mercyTimer: NodeJS.Timeout | undefined;
    const mercy = new Promise<'mercy'>((resolve) => {
      mercyTimer = setTimeout(() => resolve('mercy'), this.#options.reloadMercyMs);
    });
    const outcome = await Promise.race([all.then(() => 'done' as const), mercy]);
    clearTimeout(mercyTimer);
    if (outcome === 'mercy') {
      for (const {vassal} of this.#records.values()) {
        const s = vassal.state;
        if ('child' in s) {
          this.#log.warn('no mercy', {uwsgi: `[emperor] NO MERCY for vassal ${vassal.name} !!!`});
          s.child.killGroup('SIGKILL');
        }
      }
      await all;
    }
    for (const record of this.#records.values()) record.logFile?.close();
    await this.#limits.close();
    await new Promise<void>((resolve) => (this.#statsServer ? this.#statsServer.close(() => resolve()) : resolve()));
    this.#sockets.closeAll();
    await this.#host?.close();
    await this.#reaper.close();
    this.#log.info('buried', {uwsgi: 'The Emperor is buried.'});
  }

  // ── monitor events ──────────────────────────────────────────────────────────────────────────

  async #onPresent(dir: string, name: string, path: string): Promise<void> {
    if (this.#stopping) return;
    let text: Buffer;
    let mtimeMs: number;
    let error: string | undefined;
    let owner: Identity | undefined;
    try {
      // stat follows symlinks: the owner is the target's, as uWSGI's tyrant mode has it.
      const st = await stat(path);
      mtimeMs = st.mtimeMs;
      owner = {uid: st.uid, gid: st.gid};
      // Rescans report every file: one whose inode, size, mtime and owner are unchanged was read already.
      const statKey = `${st.ino}:${st.size}:${st.mtimeMs}:${st.uid}:${st.gid}`;
      const known = this.#records.get(name);
      if (known?.present && known.statKey === statKey && known.hash !== 'recheck' && known.hash !== 'rebind') return;
      if (known) known.statKey = statKey;
      if (st.size > MAX_FILE_BYTES) {
        error = operatorError(path, 'KAISER_CONFIG_TOO_LARGE', {sizeBytes: st.size, limitBytes: MAX_FILE_BYTES});
        text = Buffer.alloc(0);
      } else {
        text = await readFile(path);
      }
    } catch (cause) {
      const code = (cause as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') return; // gone again: the unlink event follows
      error = operatorError(path, 'KAISER_CONFIG_UNREADABLE', {file: path, cause: code ?? String(cause)});
      text = Buffer.alloc(0);
      mtimeMs = Date.now();
    }
    await this.define(name, {
      source: dir,
      path,
      dir,
      text,
      version: mtimeMs,
      changedAt: mtimeMs,
      ...(error === undefined ? {} : {error}),
      ...(owner === undefined ? {} : {owner}),
      recheck: () => void this.#onPresent(dir, name, path),
    });
  }

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

  async #define(name: string, def: VassalDefinition): Promise<void> {
    if (this.#stopping) return;
    const {path, text, version: mtimeMs} = def;
    let error = def.error;
    // The owner is part of the change marker: a chown changes no mtime, and tyrant mode must see it.
    const ownerMark = def.owner === undefined ? '' : `${def.owner.uid}:${def.owner.gid}`;
    const hash = error ?? createHash('sha1').update(text).update(this.#defaults.hash).update(ownerMark).digest('hex');
    let record = this.#records.get(name);
    if (record && record.present && record.hash === hash && record.mtimeMs === mtimeMs) return;
    const isNew = record === undefined;
    if (!record) {
      record = {
        vassal: new Vassal(name, this.#vassalDeps),
        source: def.source,
        definition: def,
        applied: undefined,
        hash,
        mtimeMs,
        present: true,
        logFile: undefined,
        recheck: undefined,
        lastReported: undefined,
        sockets: [],
        owner: def.owner,
        identity: undefined,
        launchedAs: undefined,
      };
      this.#records.set(name, record);
    }
    this.#setHash(name, record, hash);
    record.mtimeMs = mtimeMs;
    record.present = true;
    record.definition = def;
    if (record.recheck) clearTimeout(record.recheck);
    record.recheck = undefined;

    let spec: VassalSpec | undefined;
    if (error === undefined) {
      const loaded = loadVassalSpec(path, text, {
        vassalDir: def.dir,
        defaults: this.#defaults.files,
        ...(this.#options.python === undefined ? {} : {python: this.#options.python}),
        curseToleranceMs: this.#options.curseToleranceMs,
      });
      if (loaded.ok) spec = loaded.value;
      else error = loaded.error.map(formatDiagnostic).join('\n');
      // Config warnings (unknown keys uWSGI ignores, options not applied yet): logged once per change of the file.
      if (spec?.warnings !== undefined && hash !== record.warnedFor) {
        record.warnedFor = hash;
        this.#log.warn('vassal config warnings', {uwsgi: `[emperor] vassal ${name} config warnings:\n${spec.warnings.join('\n')}`, vassal: name, warnings: spec.warnings});
      }
    }
    if (spec === undefined) {
      const message = error ?? 'invalid vassal file';
      if (def.recheck && Date.now() - def.changedAt < HALF_WRITTEN_WINDOW_MS) {
        // Perhaps still being written: look again shortly; report only once the file is stable.
        this.#setHash(name, record, 'recheck');
        record.recheck = setTimeout(def.recheck, HALF_WRITTEN_RECHECK_MS);
        return;
      }
      if (record.lastReported !== message) {
        record.lastReported = message;
        this.#log.error('invalid vassal file', {uwsgi: `[emperor] invalid vassal ${name}:\n${message}`, vassal: name, error: message});
      }
      record.vassal.onConfigInvalid(message);
      return;
    }
    const previousOwner = record.owner;
    record.owner = def.owner;
    const placed = this.#placeVassal(name, record, spec, def);
    if (!placed.ok) {
      const message = `${path}: error ${placed.error}`;
      if (record.lastReported !== message) {
        record.lastReported = message;
        this.#log.error('vassal refused', {uwsgi: `[emperor] ${message}`, vassal: name, error: message});
      }
      // uWSGI stops a running vassal whose file changed owner under tyrant mode; other refusals keep the running
      // instance on its last good config, as for any broken file.
      const ownerChanged = this.#options.tyrant === true && previousOwner !== undefined && def.owner !== undefined &&
        (previousOwner.uid !== def.owner.uid || previousOwner.gid !== def.owner.gid);
      if (ownerChanged && 'child' in record.vassal.state) {
        this.#log.warn('vassal file owner changed', {uwsgi: `[emperor-tyrant] !!! permissions of file ${path} changed. stopping the instance... !!!`, vassal: name});
      }
      record.applied = undefined;
      record.vassal.onConfigInvalid(message, {stop: ownerChanged});
      return;
    }
    // The host is the on-demand waker too: start it before binding the sockets it must watch.
    // Counting the app-server vassals is needed only until the host has been started once.
    if (spec.onDemand || (spec.kind === 'app-server' && (this.#hostStart !== undefined || this.#countAppServers() >= HOST_FROM_VASSALS))) {
      await this.#ensureHost();
    }
    const wanted: Result<{key: string; written: string}[], string> =
      spec.onDemand && !this.#host?.available
        ? err('KAISER_CONFIG_CONFLICT "on-demand" needs the runtime host, which watches the sockets: do not run the emperor with --emperor-zygote=false')
        : emperorSocketsOf(spec);
    if (!wanted.ok) {
      const message = `${path}: error ${wanted.error}`;
      if (record.lastReported !== message) {
        record.lastReported = message;
        this.#log.error('invalid vassal file', {uwsgi: `[emperor] invalid vassal ${name}:\n${message}`, vassal: name, error: message});
      }
      record.vassal.onConfigInvalid(message);
      return;
    }
    if (wanted.value.length > 0) {
      const keys = wanted.value.map((socket) => socket.key);
      // An on-demand app-server vassal's sockets live in the runtime host only (it watches them and forks the master).
      const bound = await this.#sockets.acquire(name, keys, spec.kind === 'app-server');
      if (!bound.ok) {
        const message = operatorError(path, 'KAISER_SOCKET_BIND_FAILED', {address: keys.join(', '), cause: bound.error});
        this.#log.error('cannot bind vassal socket', {uwsgi: `[emperor] ${message} (retrying in ${BIND_RETRY_MS / 1000} s)`, vassal: name});
        this.#setHash(name, record, 'rebind');
        record.recheck = setTimeout(() => (def.recheck ? def.recheck() : void this.define(name, def)), BIND_RETRY_MS);
        record.vassal.onConfigInvalid(message);
        return;
      }
      for (const key of keys) if (!record.sockets.includes(key)) record.sockets.push(key);
    }
    if (spec.kind === 'command') await prepareSpawner();
    record.lastReported = undefined;
    const launchAs = placed.value;
    const applied = createHash('sha1').update(`${mtimeMs}\0${launchAs}\0${JSON.stringify(spec)}`).digest('base64');
    if (record.applied === applied && record.vassal.spec !== undefined) return;
    record.applied = applied;
    if (isNew) await this.#finishRename(name, hash, def.source);
    this.#openLog(record, spec);
    // A reload in place keeps the process: it cannot change the user it runs as, nor move it into a cgroup.
    const restart = record.launchedAs !== undefined && record.launchedAs !== launchAs;
    if (restart && 'child' in record.vassal.state) {
      this.#log.info('vassal identity or cgroup changed; restarting it', {vassal: name, was: record.launchedAs, now: launchAs});
    }
    record.vassal.onConfigChanged(spec, {restart});
  }

  #onAbsent(name: string): void {
    void this.undefine(name);
  }

  /**
   * A new file with exactly the content of a vassal whose file just vanished is a rename (`mv a.ini b.ini`): stop the
   * old name first, so the new one does not race it for the same port (uWSGI starts both and lets them clash). The
   * unlink event may still be on its way, so the vanished file is checked on disk.
   */
  /** Sets a record's content hash, keeping the hash → names index (used to spot renames) in step. */
  #setHash(name: string, record: VassalRecord, hash: string): void {
    this.#unindexHash(name, record.hash);
    record.hash = hash;
    const names = this.#byHash.get(hash);
    if (names === undefined) this.#byHash.set(hash, [name]);
    else if (!names.includes(name)) names.push(name);
  }

  #unindexHash(name: string, hash: string): void {
    const names = this.#byHash.get(hash);
    const at = names ? names.indexOf(name) : -1;
    if (!names || at < 0) return;
    names.splice(at, 1);
    if (names.length === 0) this.#byHash.delete(hash);
  }

  async #finishRename(name: string, hash: string, source: string): Promise<void> {
    if (source !== this.#options.dir) return; // only files of the watched directory can be renamed
    for (const other of [...(this.#byHash.get(hash) ?? [])]) {
      const record = this.#records.get(other);
      if (other === name || !record || record.hash !== hash || record.source !== source || !record.definition) continue;
      const gone = record.present ? !existsSync(record.definition.path) : record.vassal.state.id !== 'stopped';
      if (gone) await this.undefine(other).then(() => record.vassal.remove('removed'));
    }
  }

  async #onDirectoryDefaults(path: string | undefined): Promise<void> {
    if (!(await this.#defaults.onDirectoryFile(path))) return;
    this.#log.info('vassal defaults changed', {uwsgi: `[emperor] vassal defaults ${path ?? '(none)'} applied to every vassal`});
    this.#redefineAll();
  }

  /** Re-evaluates every vassal against the current defaults (only those whose effective config changed reload). */
  #redefineAll(): void {
    for (const [name, record] of this.#records) {
      if (record.present && record.definition) void this.define(name, record.definition);
    }
  }

  /** The definition of `name` is gone (file removed, fleet assignment withdrawn): stop the vassal and forget it. */
  undefine(name: string): Promise<void> {
    const record = this.#records.get(name);
    if (!record || !record.present) return Promise.resolve();
    record.present = false;
    if (record.recheck) clearTimeout(record.recheck);
    return record.vassal.remove('removed').then(() => {
      if (!record.present && this.#records.get(name) === record) {
        this.#records.delete(name);
        this.#unindexHash(name, record.hash);
        this.#limits.forget(name);
        record.logFile?.close();
        this.#sockets.release(name, record.sockets);
        record.sockets = [];
        this.#options.onVassalRemoved?.(name);
      }
    });
  }

  // ── vassal plumbing ─────────────────────────────────────────────────────────────────────────

  /** What every vassal does to the world: one object for all of them, made once. */
  #makeVassalDeps(): VassalDeps {
    return {
      spawn: (spec) => this.#spawn(spec),
      now: () => Date.now(),
      setTimer: (ms, fn) => {
        const timer = setTimeout(fn, ms);
        return () => clearTimeout(timer);
      },
      log: this.#options.log,
      groups: this.#reaper,
      childSpecFor: (vassal, spec) => this.#withPlacement(vassal.name, childSpecFor(spec, (address) => this.#sockets.owned(address))),
      serverConfigFor: (spec) => serverConfigFor(spec),
      requestSlot: (grant) => this.#slots.request(grant),
      releaseSlot: () => this.#slots.release(),
      onTransition: (vassal, from, event) => this.#onTransition(vassal, from, event),
      onOutput: (vassal, line) => this.#onOutput(vassal.name, line),
      exitReason: (vassal, child) => this.#limits.exitReason(vassal.name, vassal.spec, child),
    };
  }

  /** App-server masters are forked by the runtime host when it is up (and runs their python); the rest is spawned. */
  #spawn(spec: ChildSpec): Child {
    const host = this.#host;
    if (host && spec.emperorPipe && spec.args.length === 1 && spec.args[0] === MASTER_PY && spec.file === host.python) {
      if (host.available) {
        const {KAISER_CONFIG: config, ...env} = spec.env;
        return host.spawn({
          config: JSON.parse(config ?? '{}') as Record<string, unknown>,
          env,
          cwd: spec.cwd,
          ...(spec.inherit ? {inherit: spec.inherit} : {}),
          ...(spec.uid === undefined ? {} : {uid: spec.uid}),
          ...(spec.gid === undefined ? {} : {gid: spec.gid}),
          ...(spec.cgroupProcs ? {cgroupProcs: spec.cgroupProcs} : {}),
        });
      }
      // Not started yet (a single app-server vassal runs without it) is normal; stopped after a start is not.
      if (this.#hostStart !== undefined) this.#hostUnavailable('it is not running');
    }
    return spawnChild(spec);
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

  #countAppServers(): number {
    let count = 0;
    for (const record of this.#records.values()) if (record.present && record.vassal.spec?.kind !== 'command') count += 1;
    return count;
  }

  #hostUnavailable(why: string): void {
    if (this.#hostFallbackLogged) return;
    this.#hostFallbackLogged = true;
    this.#log.error('runtime host unavailable', {uwsgi: `[emperor] runtime host unavailable (${why}): starting app-server masters directly`});
  }

  // ── identity and limits (limits.ts) ─────────────────────────────────────────────────────────

  /**
   * Decides who the vassal runs as and applies its limits. Returns what the next instance is launched with (a
   * change of it restarts a running vassal), or a `CODE message` error that refuses the vassal.
   */
  #placeVassal(name: string, record: VassalRecord, spec: VassalSpec, def: VassalDefinition): Result<string, string> {
    const request = {name, ...(spec.uid === undefined ? {} : {uid: spec.uid}), ...(spec.gid === undefined ? {} : {gid: spec.gid})};
    const identity = identityFor(request, def.owner, this.#options.tyrant === true);
    if (!identity.ok) return identity;
    const limited = this.#limits.apply(name, spec, identity.value !== undefined);
    if (!limited.ok) return limited;
    record.identity = identity.value;
    return ok(JSON.stringify({identity: identity.value ?? null, cgroup: this.#limits.cgroupOf(name) !== undefined}));
  }

  /** Adds the identity and cgroup of `name` to what is spawned, and says who it runs as. */
  #withPlacement(name: string, child: ChildSpec): ChildSpec {
    const record = this.#records.get(name);
    if (!record) return child;
    const identity = record.identity;
    const cgroup = this.#limits.cgroupOf(name);
    record.launchedAs = JSON.stringify({identity: identity ?? null, cgroup: cgroup !== undefined});
    if (identity) {
      const uwsgi = this.#options.tyrant
        ? `[emperor-tyrant] dropping privileges to ${identity.uid} ${identity.gid} for instance ${name}`
        : `[emperor] running vassal ${name} as uid ${identity.uid} gid ${identity.gid}`;
      this.#log.info('dropping privileges', {uwsgi, vassal: name, uid: identity.uid, gid: identity.gid});
    }
    return {
      ...child,
      ...(identity ? {uid: identity.uid, gid: identity.gid} : {}),
      ...(cgroup ? {cgroupProcs: cgroup.procsFiles} : {}),
    };
  }

  /** The running vassals, for the limits' check after each accounting sample. */
  *#limitedVassals(): Iterable<LimitedVassal> {
    for (const [name, {vassal}] of this.#records) {
      const s = vassal.state;
      yield {name, spec: vassal.spec, child: 'child' in s ? s.child : undefined};
    }
  }

  #onTransition(vassal: Vassal, from: string, event: string): void {
    this.#options.onVassalTransition?.({vassal: vassal.name, from, to: vassal.state.id, event, at: Date.now()});
    const held = this.#records.get(vassal.name);
    if (held && this.#host && (from === 'on-demand') !== (vassal.state.id === 'on-demand')) {
      for (const key of held.sockets) {
        if (vassal.state.id === 'on-demand') this.#host.arm(key);
        else this.#host.disarm(key);
      }
    }
    if (from === 'starting' && vassal.state.id === 'ready') {
      const snap = vassal.snapshot();
      this.#options.onVassalReady?.((snap.readyAt - snap.lastSpawn) / 1000);
    }
    // After a reload to new socket addresses, the old ones close only once the new instance is ready.
    const record = this.#records.get(vassal.name);
    const spec = vassal.spec;
    if (!record || vassal.state.id !== 'ready' || record.sockets.length === 0) return;
    const current = spec === undefined ? undefined : emperorSocketsOf(spec);
    const wanted = new Set(current?.ok ? current.value.map((socket) => socket.key) : []);
    const stale = record.sockets.filter((address) => !wanted.has(address));
    record.sockets = record.sockets.filter((address) => wanted.has(address));
    if (stale.length) this.#sockets.release(vassal.name, stale);
  }

  #openLog(record: VassalRecord, spec: VassalSpec): void {
    const current = record.logFile;
    if (current?.path === spec.logto && spec.logto !== undefined) return;
    current?.close();
    record.logFile = spec.logto
      ? new VassalLogFile({path: spec.logto, maxBytes: spec.logMaxBytes, backups: spec.logBackups}, (error) =>
          this.#log.error('cannot write vassal log', {vassal: spec.name, logto: spec.logto, error: String(error)}),
        )
      : undefined;
  }

  /** SIGUSR2 (logrotate's postrotate): reopen every vassal log file. */
  reopenLogs(): void {
    for (const record of this.#records.values()) record.logFile?.reopen();
    this.#log.info('logs reopened', {uwsgi: '[emperor] reopening vassal log files'});
  }

  #onOutput(name: string, line: string): void {
    this.#log.info(line, {vassal: name, line});
    this.#records.get(name)?.logFile?.write(line);
    this.#options.onVassalOutput?.(name, line);
  }

  /** The vassal called `name`, for the control socket. */
  vassal(name: string): Vassal | undefined {
    return this.#records.get(name)?.vassal;
  }

  #leaderPids(): number[] {
    const pids: number[] = [];
    for (const {vassal} of this.#records.values()) {
      const s = vassal.state;
      if ('child' in s && s.child.pid > 0) pids.push(s.child.pid);
    }
    return pids;
  }
}
