/**
 * A vassal file → what the emperor runs. Owns deciding the vassal's kind from its keys (`exec` → a command vassal
 * that runs any program; an app or socket key → an app-server vassal run by kaiser's Python master), the rules
 * that differ by kind (scopes, conflicts, defaults), and the `VassalSpec` types the emperor consumes. Parsing and
 * expansion are `config-file.ts`'s, option checks `collect-options.ts`'s. Takes the file's text: the caller reads.
 */
import {existsSync} from 'node:fs';
import {basename, dirname, resolve} from 'node:path';
import {findOption, OPTIONS, type OptionScope, type OptionSpec} from '../options.js';
import {err, ok, type Result} from '../result.js';
import {collectOptions, locate, type CollectedOptions} from './collect-options.js';
import {collectRulesOf, optionList, parseConfigFile, type ConfigFile, type ConfigFileContext} from './config-file.js';
import type {ConfigEntry} from './config-entry.js';
import type {ConfigFs} from './config-fs.js';
import {configError, formatDiagnostic, hasErrors, type Diagnostic, type DiagnosticLocation} from './diagnostic.js';
import {currentHostFacts, type HostFacts} from './magic-vars.js';
import {APP_OPTIONS, applyUwsgiForms, checkServerOptions, choosePython, explicitServerOptions, SOCKET_OPTIONS, type ServerConfig} from './server-config.js';
import type {OptionValues} from './values.js';

export {formatDiagnostic, type Diagnostic} from './diagnostic.js';

/** When a command vassal counts as ready. */
export type ReadyProbe =
  | {kind: 'tcp'; host: string; port: number}
  | {kind: 'http'; url: string}
  | {kind: 'notify'}
  | {kind: 'running'; forMs: number};

/** What every vassal has, whatever its kind. */
export interface VassalCommon {
  /** The file's base name, e.g. `app.ini`: the vassal's name in logs and stats. */
  name: string;
  /** Absolute path of the vassal file. */
  file: string;
  /** Absolute vassal directory. */
  dir: string;
  /** Absolute path the vassal's output is appended to. */
  logto?: string;
  /** Rotate the logto file past this many bytes (0 = never), keeping `logBackups` old files. */
  logMaxBytes: number;
  logBackups: number;
  /** `log-rotate`: also rotate at each new hour, day or week. */
  logRotate?: LogRotateEvery;
  /** `log-compress`: gzip rotated files. */
  logCompress: boolean;
  /** `log-backupname`: rotation renames the logto file to this path (replacing it) instead of FILE.1 … FILE.N. */
  logBackupName?: string;
  /** `logfile-chmod`: mode of the logto file. */
  logMode?: number;
  /** `logfile-chown`: the logto file belongs to the vassal's uid/gid. */
  logChown?: boolean;
  /** 0 = no limit. */
  memoryLimitBytes: number;
  /** Percent of one core; 0 = no limit. */
  cpuLimitPercent: number;
  /** User and group to run as (names or numbers, as written). */
  uid?: string;
  gid?: string;
  /** Bind the sockets, start on the first connection. */
  onDemand: boolean;
  /** Seconds without a request before an on-demand app-server vassal exits (0 = never). */
  idleSeconds: number;
  /** Host names the emperor HTTP router sends to this vassal. */
  domains: string[];
  /** Plain-HTTP requests for its domains get a redirect to HTTPS (`https-redirect`). */
  httpsRedirect: boolean;
  /** This vassal's share of its domains' requests, relative to the other vassals serving them (`router-weight`). */
  routerWeight: number;
  stopTimeoutMs: number;
  startTimeoutMs: number;
  /**
   * Config warnings (unknown keys uWSGI would ignore, options accepted but not applied yet), one formatted line
   * each; absent when there are none (the emperor holds a spec per vassal). Shown by `kaiser ls`, the dashboard
   * and stats.
   */
  warnings?: string[];
}

/** A vassal that runs any program (`exec = …`). */
export interface CommandVassalSpec extends VassalCommon {
  kind: 'command';
  /** `['/bin/sh', '-c', cmd]` for a string `exec`. */
  argv: string[];
  /** Absolute working directory; default the vassal directory. */
  cwd: string;
  /** Variables added to the emperor's environment. */
  env: Record<string, string>;
  ready: ReadyProbe;
  stopSignal: NodeJS.Signals;
  /** `tcp://HOST:PORT` / `unix:/path` sockets the emperor binds and passes as fds 3… (LISTEN_FDS). */
  sockets: string[];
  /** Reload by starting the new instance before stopping the old one (default: when sockets are declared). */
  reloadOverlap: boolean;
}

/** A vassal run by kaiser's app server (a WSGI or Node app). */
export interface AppServerVassalSpec extends VassalCommon {
  kind: 'app-server';
  /** Interpreter for the master: `<virtualenv>/bin/python3`, else `python`, else `/usr/bin/python3`, else `python3`. */
  python: string;
  /**
   * The options the file (and the defaults files) set, under canonical names, `_name` included. Option defaults
   * are not filled in: `completeServerConfig` turns it into the `KAISER_CONFIG` object (runtime-protocol.md §1).
   */
  serverConfig: ServerConfig;
}

/** Everything the emperor needs to run one vassal. */
export type VassalSpec = CommandVassalSpec | AppServerVassalSpec;

/** What loading needs beyond the text; every field has a sensible default so the emperor can pass little. */
export interface VassalSpecContext {
  /** Absolute vassal directory (`%v`, relative paths); default: the file's directory. */
  readonly vassalDir?: string;
  /** Default `process.env`. */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** Default: read from the OS. */
  readonly host?: HostFacts;
  /** Wall clock (ms since the epoch) for `%t`; default `Date.now()`. */
  readonly nowMs?: number;
  /** Inode of the file for `%i`, if the caller stat'ed it. */
  readonly inode?: number;
  /** The emperor's `--python`. */
  readonly python?: string;
  /** Default stop-timeout of app-server vassals (the emperor's `emperor-curse-tolerance`); default 10 s. */
  readonly curseToleranceMs?: number;
  /** Default `fs.existsSync`; used to look for /usr/bin/python3. */
  readonly fileExists?: (path: string) => boolean;
  /** Reads files the vassal includes (`ini =`, `@(file)`, `if-exists`…); default the real filesystem, bounded. */
  readonly fs?: ConfigFs;
  /**
   * Vassal defaults (`--vassals-include` files, then the directory's `_defaults.toml`), lowest precedence first.
   * Precedence: the vassal file wins over `_defaults.toml`, which wins over `--vassals-include`. Scalars: the last
   * one set wins; `env`: merged per variable; other lists (sockets, touch-reload…): the vassal's list replaces the
   * defaults' list. Keys that do not apply to the vassal's kind are skipped (a `processes` default does not break
   * command vassals). Check defaults files with `checkDefaults` first: unknown keys are skipped here.
   */
  readonly defaults?: readonly {file: string; text: string | Buffer}[];
}

/** Command vassal defaults (the brief of kaiser's command vassals; uWSGI has no such thing). */
export const COMMAND_DEFAULTS = {readyForMs: 1_000, stopSignal: 'SIGTERM', stopTimeoutMs: 10_000, startTimeoutMs: 60_000} as const;

const OPTION_SPECS = OPTIONS as readonly OptionSpec[];
const SCOPES_OF: Readonly<Record<VassalSpec['kind'] | 'unknown', readonly OptionScope[]>> = {
  command: ['command', 'vassal'],
  'app-server': ['server', 'vassal'],
  unknown: ['command', 'server', 'vassal'],
};

/**
 * Loads the vassal `file` (as the emperor names it; diagnostics show it so) from its `text`. Errors come back as
 * diagnostics; warnings alone do not fail the load.
 */
export function loadVassalSpec(file: string, text: string | Buffer, ctx: VassalSpecContext = {}): Result<VassalSpec, Diagnostic[]> {
  const path = resolve(ctx.vassalDir ?? process.cwd(), file);
  const dir = ctx.vassalDir === undefined ? dirname(path) : resolve(ctx.vassalDir);
  const parsed = parseConfigFile(file, text, {...fileContext(ctx, dir), ...(ctx.inode === undefined ? {} : {inode: ctx.inode})});
  if (!parsed.ok) return parsed;
  const common = {name: basename(path), file: path, dir};
  const kind = kindOf(parsed.value.entries);
  if (ctx.defaults && ctx.defaults.length > 0 && kind !== 'unknown') {
    parsed.value = {...parsed.value, entries: withDefaults(parsed.value.entries, kind, file, ctx, dir)};
  }
  switch (kind) {
    case 'command':
      return loadCommandVassal(file, parsed.value, common);
    case 'app-server':
      return loadAppServerVassal(file, parsed.value, common, ctx);
    case 'unknown': {
      const collected = collect(parsed.value, 'unknown');
      return err([
        ...collected.diagnostics,
        configError({file}, 'KAISER_CONFIG_NO_APP', {reason: 'set exec for a command vassal, or an app (wsgi-file, module, asgi, node-app, psgi, rack, lua, cgi, php-docroot) for an app-server vassal'}),
      ]);
    }
    default:
      throw new Error(`Internal error: unknown vassal kind ${String(kind satisfies never)}`);
  }
}

/** How a file of the vassal directory `dir` is read: relative paths, environment, host facts, clock. */
function fileContext(ctx: VassalSpecContext, dir: string): ConfigFileContext {
  return {
    cwd: dir,
    env: ctx.env ?? process.env,
    host: ctx.host ?? currentHostFacts('kaiser'),
    nowMs: ctx.nowMs ?? Date.now(),
    vassalsDir: dir,
    ...(ctx.fs === undefined ? {} : {fs: ctx.fs}),
  };
}

/** Puts the applicable default entries before the vassal's own (see `VassalSpecContext.defaults` for the rules). */
function withDefaults(own: readonly ConfigEntry[], kind: VassalSpec['kind'], file: string, ctx: VassalSpecContext, dir: string): ConfigEntry[] {
  const ownNames = new Set(own.map((entry) => findOption(entry.key)?.name).filter((name) => name !== undefined));
  const scopes = SCOPES_OF[kind];
  const inherited: ConfigEntry[] = [];
  for (const source of ctx.defaults ?? []) {
    const parsed = parseConfigFile(source.file, source.text, {...fileContext(ctx, dir), magicFile: file});
    if (!parsed.ok) continue;
    for (const entry of parsed.value.entries) {
      const spec = findOption(entry.key);
      if (spec === undefined || !spec.scopes.some((scope) => scopes.includes(scope))) continue;
      if (spec.name === 'exec' || (APP_OPTIONS as readonly string[]).includes(spec.name)) continue;
      if (spec.multi === true && spec.type !== 'env' && ownNames.has(spec.name)) continue;
      inherited.push(entry);
    }
  }
  return [...inherited, ...own];
}

/** Problems of a defaults file on its own (parse errors, unknown or unsupported keys), for the emperor to report. */
export function checkDefaults(file: string, text: string | Buffer, ctx: VassalSpecContext = {}): Diagnostic[] {
  const dir = ctx.vassalDir ?? process.cwd();
  const parsed = parseConfigFile(file, text, fileContext(ctx, dir));
  if (!parsed.ok) return parsed.error;
  const problems = [...parsed.value.warnings, ...collectOptions(parsed.value.entries, {scopes: ['command', 'server', 'vassal'], context: 'vassal defaults', ...collectRulesOf(parsed.value)}).diagnostics];
  for (const entry of parsed.value.entries) {
    const name = findOption(entry.key)?.name;
    if (name === 'exec' || (name !== undefined && (APP_OPTIONS as readonly string[]).includes(name))) {
      problems.push(configError(locate(entry), 'KAISER_CONFIG_CONFLICT', {key: entry.key, other: 'vassal defaults', reason: 'what a vassal runs belongs in the vassal file'}));
    }
  }
  return problems;
}

/** `exec` makes a command vassal; otherwise any app-server option makes an app-server vassal. */
function kindOf(entries: readonly ConfigEntry[]): VassalSpec['kind'] | 'unknown' {
  const options = entries.map((entry) => findOption(entry.key)).filter((spec) => spec !== undefined);
  if (options.some((spec) => spec.name === 'exec')) return 'command';
  // `socket` is also a command option, but without exec it can only mean an app server.
  const serverOnly = options.some((spec) => spec.scopes.includes('server') && !spec.scopes.includes('vassal') && !isShared(spec));
  return serverOnly || options.some((spec) => (SOCKET_OPTIONS as readonly string[]).includes(spec.name)) ? 'app-server' : 'unknown';
}

// Options of both kinds (env, socket) say nothing about the kind by themselves.
function isShared(spec: OptionSpec): boolean {
  return spec.scopes.includes('command') && spec.scopes.includes('server');
}

function collect(file: ConfigFile, kind: VassalSpec['kind'] | 'unknown', entries: readonly ConfigEntry[] = file.entries): CollectedOptions {
  const context = kind === 'command' ? 'a command vassal (this file has exec)' : kind === 'app-server' ? 'an app-server vassal' : 'a vassal file';
  const collected = collectOptions(entries, {scopes: SCOPES_OF[kind], context, ...collectRulesOf(file)});
  return {...collected, diagnostics: [...file.warnings, ...collected.diagnostics]};
}

/** The warnings among `diagnostics`, formatted, or undefined when there are none. */
function warningLines(diagnostics: readonly Diagnostic[]): {warnings?: string[]} {
  const lines = diagnostics.filter((d) => d.severity === 'warning').map(formatDiagnostic);
  return lines.length === 0 ? {} : {warnings: lines};
}

function loadCommandVassal(file: string, config: ConfigFile, common: Pick<VassalCommon, 'name' | 'file' | 'dir'>): Result<CommandVassalSpec, Diagnostic[]> {
  // exec next to wsgi-file is two answers to "what runs here": say so, rather than "wrong scope".
  const conflicts: Diagnostic[] = [];
  // A command vassal's sockets use their own form (tcp://, unix:), checked here rather than as uWSGI addresses.
  const sockets: string[] = [];
  const rest = config.entries.filter((entry) => {
    const name = findOption(entry.key)?.name;
    if (name === 'socket') {
      for (const item of Array.isArray(entry.value) ? (entry.value as readonly unknown[]) : [entry.value]) {
        const checked = typeof item === 'string' ? checkCommandSocket(item) : err('expected a string');
        if (checked.ok) sockets.push(checked.value);
        else conflicts.push(configError(locate(entry), 'KAISER_CONFIG_BAD_VALUE', {key: entry.key, reason: checked.error}));
      }
      return false;
    }
    if (name === undefined || !(APP_OPTIONS as readonly string[]).includes(name)) return true;
    conflicts.push(configError(locate(entry), 'KAISER_CONFIG_CONFLICT', {
      key: entry.key, other: 'exec', reason: 'exec runs its own program (a command vassal); wsgi-file, module, asgi, node-app, psgi, rack, lua, cgi and php-docroot are for app-server vassals',
    }));
    return false;
  });
  const {values, origins, diagnostics} = collect(config, 'command', rest);
  const problems = [...conflicts, ...diagnostics, ...checkLogRotate(values, origins, file), ...checkLogFileOptions(values, (key) => origins.get(key) ?? {file, key})];
  const where = (key: string): DiagnosticLocation => origins.get(key) ?? {file, key};

  const readyText = values.get('ready');
  const ready = typeof readyText === 'string' ? parseReadyProbe(readyText) : ok<ReadyProbe>({kind: 'running', forMs: COMMAND_DEFAULTS.readyForMs});
  if (!ready.ok) problems.push(configError(where('ready'), 'KAISER_CONFIG_BAD_VALUE', {key: 'ready', reason: ready.error}));
  if (hasErrors(problems) || !ready.ok) return err(problems);

  const cwd = values.get('cwd');
  return ok({
    kind: 'command',
    ...common,
    ...runtimeOptions(values, common.dir, COMMAND_DEFAULTS.stopTimeoutMs),
    ...warningLines(problems),
    argv: [...(values.get('exec') as readonly string[])],
    cwd: typeof cwd === 'string' ? resolve(common.dir, cwd) : common.dir,
    env: {...((values.get('env') as Readonly<Record<string, string>> | undefined) ?? {})},
    ready: ready.value,
    stopSignal: (values.get('stop-signal') as NodeJS.Signals | undefined) ?? COMMAND_DEFAULTS.stopSignal,
    sockets,
    reloadOverlap: typeof values.get('reload-overlap') === 'boolean' ? (values.get('reload-overlap') as boolean) : sockets.length > 0,
  });
}

function loadAppServerVassal(
  file: string,
  config: ConfigFile,
  common: Pick<VassalCommon, 'name' | 'file' | 'dir'>,
  ctx: VassalSpecContext,
): Result<AppServerVassalSpec, Diagnostic[]> {
  const collected = collect(config, 'app-server');
  const {origins} = collected;
  const {values, problems: formProblems} = applyUwsgiForms(collected.values, origins, {file});
  const problems = [
    ...collected.diagnostics, ...formProblems, ...checkServerOptions(values, {file}, origins), ...checkLogRotate(values, origins, file),
    ...checkLogFileOptions(values, (key) => origins.get(key) ?? {file, key}),
  ];
  if (hasErrors(problems)) return err(problems);
  return ok({
    kind: 'app-server',
    ...common,
    ...runtimeOptions(values, common.dir, ctx.curseToleranceMs ?? defaultSecondsMs('emperor-curse-tolerance')),
    ...warningLines(problems),
    python: choosePython(values, {
      baseDir: common.dir,
      fileExists: ctx.fileExists ?? existsSync,
      ...(ctx.python === undefined ? {} : {fallback: ctx.python}),
    }),
    serverConfig: explicitServerOptions(values, {name: common.name, extras: {_opt: optionList(config)}}),
  });
}

/** What `log-rotate` accepts: how often the logto file starts anew. */
export const LOG_ROTATE_EVERY = ['hourly', 'daily', 'weekly'] as const;
export type LogRotateEvery = (typeof LOG_ROTATE_EVERY)[number];

function isLogRotateEvery(value: unknown): value is LogRotateEvery {
  return (LOG_ROTATE_EVERY as readonly unknown[]).includes(value);
}

/** `log-rotate` takes hourly, daily or weekly. */
function checkLogRotate(values: OptionValues, origins: ReadonlyMap<string, DiagnosticLocation>, file: string): Diagnostic[] {
  const value = values.get('log-rotate');
  if (value === undefined || isLogRotateEvery(value)) return [];
  return [configError(origins.get('log-rotate') ?? {file, key: 'log-rotate'}, 'KAISER_CONFIG_BAD_VALUE', {key: 'log-rotate', reason: `expected ${LOG_ROTATE_EVERY.join(', ')}, got ${JSON.stringify(value)}`})];
}

/**
 * A `ready` value: `tcp://HOST:PORT`, `http(s)://…`, `notify`, `running` (1 s) or `running:SECONDS`.
 */
export function parseReadyProbe(text: string): Result<ReadyProbe, string> {
  const value = text.trim();
  if (value === 'notify') return ok({kind: 'notify'});
  const running = /^running(?::(\d+(?:\.\d+)?))?$/.exec(value);
  if (running !== null) return ok({kind: 'running', forMs: running[1] === undefined ? COMMAND_DEFAULTS.readyForMs : Number(running[1]) * 1000});
  const tcp = /^tcp:\/\/(\[[0-9a-fA-F:.]+\]|[^:/\s]*):(\d+)\/?$/.exec(value);
  if (tcp !== null) {
    const port = Number(tcp[2]);
    if (port < 1 || port > 65535) return err(`bad port ${port} in ${JSON.stringify(value)}`);
    const host = (tcp[1] ?? '').replace(/^\[|\]$/g, '');
    return ok({kind: 'tcp', host: host === '' ? '127.0.0.1' : host, port});
  }
  if (/^https?:\/\//.test(value)) {
    try {
      return ok({kind: 'http', url: new URL(value).href});
    } catch {
      return err(`not a valid URL: ${JSON.stringify(value)}`);
    }
  }
  return err(`expected tcp://HOST:PORT, http://HOST:PORT/path, notify or running, got ${JSON.stringify(value)}`);
}

/** A command vassal's socket: `tcp://HOST:PORT` or `unix:/path`. */
export function checkCommandSocket(text: string): Result<string, string> {
  if (text.includes('\0')) return err('contains a NUL byte (\\0)');
  if (/^unix:.+$/.test(text)) return ok(text);
  const tcp = /^tcp:\/\/(\[[0-9a-fA-F:.]+\]|[^:/\s]*):(\d+)$/.exec(text);
  if (tcp !== null && Number(tcp[2]) <= 65535) return ok(text);
  return err(`a command vassal's socket is tcp://HOST:PORT or unix:/path, got ${JSON.stringify(text)}`);
}

/** uWSGI's `log-backupname`, `logfile-chmod` (octal, checked by `checkLogFileOptions`) and `logfile-chown`. */
function logFileOptions(values: OptionValues, dir: string): Pick<VassalCommon, 'logBackupName' | 'logMode' | 'logChown'> {
  const backup = values.get('log-backupname');
  const mode = values.get('logfile-chmod');
  return {
    ...(typeof backup === 'string' ? {logBackupName: resolve(dir, backup)} : {}),
    ...(typeof mode === 'string' && /^[0-7]{3,4}$/.test(mode.trim()) ? {logMode: parseInt(mode.trim(), 8)} : {}),
    ...(values.get('logfile-chown') === true ? {logChown: true} : {}),
  };
}

/** A `logfile-chmod` that is no octal mode is an error naming it. */
function checkLogFileOptions(values: OptionValues, where: (key: string) => DiagnosticLocation): Diagnostic[] {
  const mode = values.get('logfile-chmod');
  if (mode === undefined || (typeof mode === 'string' && /^[0-7]{3,4}$/.test(mode.trim()))) return [];
  return [configError(where('logfile-chmod'), 'KAISER_CONFIG_BAD_VALUE', {key: 'logfile-chmod', reason: `expected an octal mode such as 640, got ${JSON.stringify(mode)}`})];
}

/** The options both kinds share: logs, timeouts, limits, identity, on-demand, routing. */
function runtimeOptions(values: OptionValues, dir: string, stopDefaultMs: number): Omit<VassalCommon, 'name' | 'file' | 'dir'> {
  const logto = values.get('logto');
  const uid = values.get('uid');
  const gid = values.get('gid');
  return {
    ...(typeof logto === 'string' ? {logto: resolve(dir, logto)} : {}),
    logMaxBytes: numberOr(values, 'log-maxsize', 0),
    logBackups: numberOr(values, 'log-backups', 5),
    ...(isLogRotateEvery(values.get('log-rotate')) ? {logRotate: values.get('log-rotate') as LogRotateEvery} : {}),
    logCompress: values.get('log-compress') === true,
    ...logFileOptions(values, dir),
    stopTimeoutMs: secondsToMs(values, 'stop-timeout', stopDefaultMs),
    startTimeoutMs: secondsToMs(values, 'start-timeout', defaultSecondsMs('start-timeout')),
    memoryLimitBytes: numberOr(values, 'memory-limit', 0) * 1024 * 1024,
    cpuLimitPercent: numberOr(values, 'cpu-limit', 0),
    ...(typeof uid === 'string' ? {uid} : {}),
    ...(typeof gid === 'string' ? {gid} : {}),
    onDemand: values.get('on-demand') === true,
    idleSeconds: numberOr(values, 'idle', 0),
    domains: [...((values.get('domain') as readonly string[] | undefined) ?? [])].map((d) => d.toLowerCase()),
    httpsRedirect: values.get('https-redirect') === true,
    routerWeight: numberOr(values, 'router-weight', 1),
  };
}

function numberOr(values: OptionValues, name: string, fallback: number): number {
  const value = values.get(name);
  return typeof value === 'number' ? value : fallback;
}

function secondsToMs(values: OptionValues, name: string, fallbackMs: number): number {
  const value = values.get(name);
  return typeof value === 'number' ? Math.round(value * 1000) : fallbackMs;
}

function defaultSecondsMs(name: string): number {
  const spec = OPTION_SPECS.find((s) => s.name === name);
  if (typeof spec?.default !== 'number') throw new Error(`Internal error: option ${name} has no default in seconds`);
  return spec.default * 1000;
}
