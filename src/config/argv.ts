/**
 * kaiser's command line → what to run. Owns the flag grammar, which is uWSGI's (getopt_long): `--name value`,
 * `--name=value`, flags without a value (`--master`), one-dash letters (`-p 4`, `-p4`, `-M`, `-MT`), repeated list
 * options; config files (`--ini FILE[:section]`, `--toml FILE`, `--config FILE`, or uWSGI's bare `kaiser app.ini`),
 * whose options come first so later flags override them; and the mode: help, version, a control subcommand
 * (`kaiser ls`), the emperor (`--emperor DIR`) or a standalone app server (anything else). Reading config files
 * goes through an injectable reader (default: the real filesystem).
 */
import {existsSync, readFileSync} from 'node:fs';
import {basename, resolve} from 'node:path';
import {allOptionNames, findOption, isNotAppliedUwsgiOption, type OptionSpec} from '../options.js';
import {uwsgiArgumentOf} from '../uwsgi-option-names.js';
import {err, ok, type Result} from '../result.js';
import {collectOptions, isUnsupportedUwsgiOption, unsupported, wrongScope} from './collect-options.js';
import {collectRulesOf, configFormatOf, optionList, parseConfigFile} from './config-file.js';
import type {ConfigEntry} from './config-entry.js';
import type {ConfigFs} from './config-fs.js';
import {COMMAND_LINE, configError, hasErrors, type Diagnostic} from './diagnostic.js';
import {didYouMean, suggestName} from './did-you-mean.js';
import {frontRouterOptions, type FrontRouterOptions} from './router-options.js';
import {splitIniSelector} from './ini.js';
import {currentHostFacts, type HostFacts} from './magic-vars.js';
import {applyUwsgiForms, checkServerOptions, choosePython, normalizeServerOptions, type ServerConfig} from './server-config.js';
import {defaultValue, type OptionValues} from './values.js';

/**
 * Commands, given as the first word (`kaiser ls`), with the line `kaiser --help` shows for each. The control commands
 * are src/control/commands.ts, fleet src/fleet/commands.ts, install-service src/systemd/install-service.ts.
 */
export const SUBCOMMAND_SUMMARIES = [
  ['ls', 'one row per vassal: state, pid, CPU, memory, uptime, restarts, last error'],
  ['status', 'the emperor: pid, uptime, memory, vassal counts'],
  ['top', 'live view of the vassals, or of any uWSGI --stats / --emperor-stats server'],
  ['reload', 'reload vassals with their current files (NAME…, or --all); --wait until they serve'],
  ['restart', 'stop vassals and start them afresh (NAME…, or --all); --wait until they serve'],
  ['stop', 'stop vassals; they stay down until kaiser start or a change of their file'],
  ['start', 'start vassals stopped by kaiser stop (or retry one backing off now)'],
  ['logs', 'the last output lines of one vassal, or of all interleaved; -f follows'],
  ['fleet', 'manage a fleet of emperors sharing etcd (put, ls, rm, hosts, drain, history, rollback)'],
  ['install-service', 'write a systemd unit that runs this kaiser as an emperor (--print shows it)'],
] as const;
export const SUBCOMMANDS = SUBCOMMAND_SUMMARIES.map(([name]) => name);
export type Subcommand = (typeof SUBCOMMAND_SUMMARIES)[number][0];

/** Flags that load a config file rather than set an option; listed by `--help` with the general options. */
export const CONFIG_FILE_OPTIONS: readonly OptionSpec[] = [
  {name: 'ini', type: 'path', scopes: ['emperor', 'server'], arg: 'FILE[:SECTION]', help: 'read options from an ini file ([uwsgi] section, or SECTION); `kaiser app.ini` does the same'},
  {name: 'toml', type: 'path', scopes: ['emperor', 'server'], arg: 'FILE', help: 'read options from a TOML file'},
  {name: 'config', type: 'path', scopes: ['emperor', 'server'], arg: 'FILE', help: 'read options from FILE, as ini or TOML by its extension'},
];
export const CONFIG_FILE_FLAGS: readonly string[] = CONFIG_FILE_OPTIONS.map((spec) => spec.name);

/** uWSGI config formats kaiser does not read: naming one is KAISER_CONFIG_UNSUPPORTED. */
const UNSUPPORTED_FORMAT_FLAGS = new Set(['xml', 'yaml', 'yml', 'json', 'js', 'include', 'inherit']);

/** The emperor's settings, typed. */
export interface EmperorOptions {
  /** Directories to watch, as given. */
  emperor: string[];
  emperorStats: string | undefined;
  reloadMercySeconds: number;
  emperorFreqSeconds: number;
  accountingSeconds: number;
  spawnConcurrency: number;
  curseToleranceSeconds: number;
  /** `--emperor-zygote`: fork app-server masters from the runtime host. */
  zygote: boolean;
  /** `--emperor-tyrant`: run each vassal as the owner of its file. */
  emperorTyrant: boolean;
  /** `--emperor-privileged-port USER:PORTS` entries (tyrant mode). */
  emperorPrivilegedPorts: string[];
  /** `--emperor-pass-env NAME` entries (tyrant mode). */
  emperorPassEnv: string[];
  /** `--emperor-state-dir DIR` when given (the CLI picks the default, see emperor/state-dir.ts). */
  emperorStateDir: string | undefined;
  python: string | undefined;
  logFormat: LogFormatName;
  /** Control socket path, when given (the CLI falls back to KAISER_CONTROL and the default path). */
  control: string | undefined;
  metrics: string | undefined;
  /** `--emperor-http ADDR`: the front router. */
  emperorHttp: string | undefined;
  /** The HTTPS front door, ACME and the subscription server (README "Front door"). */
  emperorHttps: string | undefined;
  sniDir: string | undefined;
  emperorHttpsH2: boolean;
  acmeDirectory: string | undefined;
  acmeEmail: string | undefined;
  acmeCaFile: string | undefined;
  subscriptionServer: string | undefined;
  subscriptionToleranceSeconds: number;
  /** `--emperor-http`, `--fastrouter` and the `--emperor-http-*` settings. */
  router: FrontRouterOptions;
  /** `--dashboard ADDR`: UNIX socket path or HOST:PORT. */
  dashboard: string | undefined;
  /** `--dashboard-token-file FILE`: name:token lines. */
  dashboardTokenFile: string | undefined;
  // ── fleet mode (src/fleet/): `--emperor` values starting with etcd:// are fleets, the rest directories ──
  /** `--host-id`; undefined = the host name. */
  hostId: string | undefined;
  /** `--tags a,b`, split. */
  tags: string[];
  fleetDir: string | undefined;
  fleetTtlSeconds: number;
  fleetCap: number;
  /** `--etcd` endpoints and `--prefix` (the env fallbacks are the CLI's). */
  etcd: string | undefined;
  prefix: string | undefined;
  /** `--vassals-include` files, as given. */
  vassalsInclude: string[];
}

/** The log formats `--log-format` accepts. */
export type LogFormatName = 'human' | 'json';

export type EmperorMode = {mode: 'emperor'; options: EmperorOptions; warnings: Diagnostic[]};
export type ServerMode = {mode: 'server'; serverConfig: ServerConfig; python: string; logto: string | undefined; warnings: Diagnostic[]};
export type SubcommandMode = {mode: 'subcommand'; name: Subcommand; args: string[]};

/** `kaiser --help`, or `kaiser help COMMAND` (the help of one command). */
export type HelpMode = {mode: 'help'; command?: string};

/** What the command line asks for. */
export type CommandLineMode = EmperorMode | ServerMode | HelpMode | {mode: 'version'} | SubcommandMode;

/** Everything outside the argv that parsing may need; all defaults are the real process. */
export interface CommandLineContext {
  readonly cwd?: string;
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** Reads a config file; default `fs.readFileSync`. An error is the reason, e.g. `ENOENT: no such file`. */
  readonly readFile?: (path: string) => Result<string | Buffer, string>;
  readonly fileExists?: (path: string) => boolean;
  readonly host?: HostFacts;
  readonly nowMs?: number;
  /** Reads files a config includes; default the real filesystem. */
  readonly fs?: ConfigFs;
}

interface ConfigFileRequest {
  readonly path: string;
  readonly section: string | undefined;
  readonly label: string;
}

interface Tokens {
  readonly entries: ConfigEntry[];
  readonly files: ConfigFileRequest[];
  readonly diagnostics: Diagnostic[];
  wantsHelp: boolean;
  wantsVersion: boolean;
}

/** Parses `args` (without `node` and the script: `process.argv.slice(2)`). */
export function parseCommandLine(args: readonly string[], ctx: CommandLineContext = {}): Result<CommandLineMode, Diagnostic[]> {
  const first = args[0];
  if (first === 'help') {
    const command = args[1];
    if (command === undefined) return ok({mode: 'help'});
    if (!(SUBCOMMANDS as readonly string[]).includes(command)) {
      return err([usage(`no command "${command}"${didYouMean(command, SUBCOMMANDS, '')}: the commands are ${SUBCOMMANDS.join(', ')}`)]);
    }
    return ok({mode: 'help', command});
  }
  if (first !== undefined && (SUBCOMMANDS as readonly string[]).includes(first)) {
    return ok({mode: 'subcommand', name: first as Subcommand, args: args.slice(1)});
  }
  const tokens = tokenize(args);
  if (tokens.wantsHelp) return ok({mode: 'help'});
  if (tokens.wantsVersion) return ok({mode: 'version'});
  if (tokens.entries.length === 0 && tokens.files.length === 0 && tokens.diagnostics.length === 0) {
    return err([usage('nothing to do: give --emperor DIR, a vassal file, or app server options such as --http :9090 --wsgi-file app.py')]);
  }

  const cwd = ctx.cwd ?? process.cwd();
  const fileEntries: ConfigEntry[] = [];
  const placeholders = new Set<string>();
  let unknownKeys: 'error' | 'warning' = tokens.files.length > 0 ? 'warning' : 'error';
  let lenientNumbers = false;
  // uwsgi.opt in the app: every key read, files first, then the command line's options (as uWSGI lists them).
  const opt: string[] = [];
  const problems: Diagnostic[] = [...tokens.diagnostics];
  for (const request of tokens.files) {
    const loaded = loadConfigFile(request, cwd, ctx);
    if (!loaded.ok) {
      problems.push(...loaded.error);
      continue;
    }
    fileEntries.push(...loaded.value.entries);
    opt.push(...optionList(loaded.value));
    problems.push(...loaded.value.warnings);
    const rules = collectRulesOf(loaded.value);
    rules.placeholders.forEach((name) => placeholders.add(name));
    if (rules.unknownKeys === 'error') unknownKeys = 'error';
    if (rules.lenientNumbers) lenientNumbers = true;
  }

  const all = [...fileEntries, ...tokens.entries];
  // `--etcd` alone also makes an emperor: one fed only by a fleet.
  const isEmperor = all.some((entry) => findOption(entry.key)?.name === 'emperor' || findOption(entry.key)?.name === 'etcd');
  if (isEmperor) {
    const collected = collectOptions(all, {scopes: ['emperor'], context: 'the emperor (--emperor)', placeholders, unknownKeys});
    const router = frontRouterOptions(collected.values, collected.origins);
    problems.push(...collected.diagnostics, ...checkLogFormat(collected.values, collected.origins), ...router.diagnostics);
    return hasErrors(problems) ? err(problems) : ok({mode: 'emperor', options: emperorOptions(collected.values, router.options), warnings: problems.filter((d) => d.severity === 'warning')});
  }

  // Vassal-scope keys (stop-timeout…) are fine in a file that is also used as a vassal; on the command line
  // they would do nothing, so they are refused there.
  const cliEntries = tokens.entries.filter((entry) => {
    const spec = findOption(entry.key);
    if (spec === undefined || spec.scopes.includes('server')) return true;
    problems.push(wrongScope({file: COMMAND_LINE, key: entry.label ?? entry.key}, spec, 'an app server'));
    return false;
  });
  const collected = collectOptions([...fileEntries, ...cliEntries], {scopes: ['server', 'vassal'], context: 'an app server', placeholders, unknownKeys, lenientNumbers});
  const where = {file: tokens.files[0]?.label ?? COMMAND_LINE};
  const forms = applyUwsgiForms(collected.values, collected.origins, where);
  problems.push(...collected.diagnostics, ...forms.problems);
  if (hasErrors(problems)) return err(problems);
  problems.push(...checkServerOptions(forms.values, where, collected.origins));
  if (hasErrors(problems)) return err(problems);

  const firstFile = tokens.files[0];
  const logto = forms.values.get('logto');
  return ok({
    mode: 'server',
    serverConfig: normalizeServerOptions(forms.values, {
      name: firstFile === undefined ? 'kaiser' : basename(firstFile.path),
      extras: {_opt: [...opt, ...tokens.entries.flatMap((entry) => [findOption(entry.key)?.name ?? entry.key, String(entry.value)])]},
    }),
    python: choosePython(forms.values, {baseDir: cwd, fileExists: ctx.fileExists ?? existsSync}),
    logto: typeof logto === 'string' ? resolve(cwd, logto) : undefined,
    warnings: problems.filter((d) => d.severity === 'warning'),
  });
}

function tokenize(args: readonly string[]): Tokens {
  const tokens: Tokens = {entries: [], files: [], diagnostics: [], wantsHelp: false, wantsVersion: false};
  let i = 0;
  const cursor: Cursor = {
    peek: () => args[i + 1],
    next: () => {
      const value = args[i + 1];
      // `--processes --master` is a forgotten value, not a value of "--master".
      if (value === undefined || value.startsWith('--')) return undefined;
      i++;
      return value;
    },
  };
  for (; i < args.length; i++) {
    const arg = args[i] ?? '';
    if (arg === '--') {
      for (const rest of args.slice(i + 1)) positional(tokens, rest);
      break;
    }
    if (arg.startsWith('--') && arg.length > 2) longFlag(tokens, arg, cursor);
    else if (arg.startsWith('-') && arg.length > 1) shortFlags(tokens, arg, cursor);
    else positional(tokens, arg);
  }
  return tokens;
}

/** The word after the current one: `next` takes it as a value (unless it is a long flag), `peek` only looks. */
interface Cursor {
  peek(): string | undefined;
  next(): string | undefined;
}

function longFlag(tokens: Tokens, arg: string, {peek, next}: Cursor): void {
  const eq = arg.indexOf('=');
  const name = eq === -1 ? arg.slice(2) : arg.slice(2, eq);
  const inline = eq === -1 ? undefined : arg.slice(eq + 1);
  const label = `--${name}`;
  if (CONFIG_FILE_FLAGS.includes(name)) {
    const path = inline ?? next();
    if (path === undefined) tokens.diagnostics.push(usage(`option "${label}" needs a file`, label));
    else tokens.files.push(fileRequest(path, name === 'ini'));
    return;
  }
  if (UNSUPPORTED_FORMAT_FLAGS.has(name)) {
    if (inline === undefined) next();
    tokens.diagnostics.push(configError({file: COMMAND_LINE, key: label}, 'KAISER_CONFIG_UNSUPPORTED', {key: name, hint: ': kaiser reads .ini and .toml files'}));
    return;
  }
  const spec = findOption(name);
  if (spec === undefined) {
    const argument = uwsgiArgumentOf(name);
    if (argument !== undefined && isNotAppliedUwsgiOption(name)) {
      // A uWSGI option kaiser accepts without applying it: collectOptions warns (KAISER_CONFIG_NOT_APPLIED).
      const value = inline ?? (argument === 'value' ? next() : '');
      if (value === undefined) tokens.diagnostics.push(usage(`option "${label}" needs a value`, label));
      else tokens.entries.push({key: name, value, file: COMMAND_LINE, label});
      return;
    }
    // uWSGI's table says whether the flag takes a value; for names uWSGI does not know either, assuming a value
    // avoids a second, confusing error.
    if (inline === undefined && argument !== 'flag' && argument !== 'optional' && !isFlagLike(peek())) next();
    if (isUnsupportedUwsgiOption(name)) tokens.diagnostics.push(unsupported({file: COMMAND_LINE, key: label}, name));
    else tokens.diagnostics.push(usage(`unknown option "${label}"${didYouMean(name, longNames(), '--')}`, label));
    return;
  }
  setOption(tokens, spec, name, label, inline ?? (spec.type === 'bool' ? 'true' : next()));
}

function shortFlags(tokens: Tokens, arg: string, {next}: Cursor): void {
  const letters = arg.slice(1);
  for (let j = 0; j < letters.length; j++) {
    const letter = letters[j] ?? '';
    const label = `-${letter}`;
    const spec = letter.length === 1 ? findOption(letter) : undefined;
    if (spec === undefined) {
      tokens.diagnostics.push(usage(`unknown option "${label}"${letters.length > 1 ? ` in "${arg}"` : ''}`, label));
      return;
    }
    if (spec.type === 'bool') {
      setOption(tokens, spec, letter, label, 'true');
      continue;
    }
    // getopt: the rest of the word is the value (`-p4`), else the next word (`-p 4`).
    const rest = letters.slice(j + 1);
    setOption(tokens, spec, letter, label, rest !== '' ? rest : next());
    return;
  }
}

function setOption(tokens: Tokens, spec: OptionSpec, key: string, label: string, value: string | undefined): void {
  if (spec.name === 'help') tokens.wantsHelp = true;
  else if (spec.name === 'version') tokens.wantsVersion = true;
  else if (value === undefined) tokens.diagnostics.push(usage(`option "${label}" needs a value${spec.arg === undefined ? '' : ` (${spec.arg})`}`, label));
  else tokens.entries.push({key, value, file: COMMAND_LINE, label});
}

/** uWSGI: `uwsgi app.ini` means `uwsgi --ini app.ini`. */
function positional(tokens: Tokens, arg: string): void {
  const {path} = splitIniSelector(arg);
  if (configFormatOf(path) !== undefined) tokens.files.push(fileRequest(arg, true));
  else {
    const command = suggestName(arg, SUBCOMMANDS);
    const hint = command === undefined ? ' (a vassal file ends in .ini or .toml)' : ` (did you mean the command "kaiser ${command}"?)`;
    tokens.diagnostics.push(usage(`unexpected argument "${arg}"${hint}`));
  }
}

function fileRequest(spec: string, allowSection: boolean): ConfigFileRequest {
  const {path, section} = allowSection ? splitIniSelector(spec) : {path: spec, section: undefined};
  return {path, section, label: path};
}

function loadConfigFile(request: ConfigFileRequest, cwd: string, ctx: CommandLineContext) {
  const read = (ctx.readFile ?? readRealFile)(resolve(cwd, request.path));
  if (!read.ok) return err([configError({file: request.label}, 'KAISER_CONFIG_UNREADABLE', {file: request.label, cause: read.error})]);
  return parseConfigFile(request.label, read.value, {
    cwd,
    env: ctx.env ?? process.env,
    host: ctx.host ?? currentHostFacts('kaiser'),
    nowMs: ctx.nowMs ?? Date.now(),
    ...(request.section === undefined ? {} : {section: request.section}),
    ...(ctx.fs === undefined ? {} : {fs: ctx.fs}),
  });
}

function readRealFile(path: string): Result<Buffer, string> {
  try {
    return ok(readFileSync(path));
  } catch (error) {
    return err((error as Error).message);
  }
}

function emperorOptions(values: OptionValues, router: FrontRouterOptions): EmperorOptions {
  const get = (name: string): unknown => values.get(name) ?? defaultOf(name);
  return {
    emperor: [...((get('emperor') as readonly string[] | undefined) ?? [])],
    emperorStats: get('emperor-stats') as string | undefined,
    reloadMercySeconds: get('reload-mercy') as number,
    emperorFreqSeconds: get('emperor-freq') as number,
    accountingSeconds: get('emperor-accounting-freq') as number,
    spawnConcurrency: get('emperor-spawn-concurrency') as number,
    curseToleranceSeconds: get('emperor-curse-tolerance') as number,
    zygote: get('emperor-zygote') as boolean,
    emperorTyrant: get('emperor-tyrant') === true,
    emperorPrivilegedPorts: [...((get('emperor-privileged-port') as readonly string[] | undefined) ?? [])],
    emperorPassEnv: [...((get('emperor-pass-env') as readonly string[] | undefined) ?? [])],
    emperorStateDir: get('emperor-state-dir') as string | undefined,
    python: get('python') as string | undefined,
    logFormat: get('log-format') as LogFormatName,
    control: get('control') as string | undefined,
    metrics: get('metrics') as string | undefined,
    emperorHttp: get('emperor-http') as string | undefined,
    emperorHttps: get('emperor-https') as string | undefined,
    sniDir: get('sni-dir') as string | undefined,
    emperorHttpsH2: get('emperor-https-h2') !== false,
    acmeDirectory: get('acme-directory') as string | undefined,
    acmeEmail: get('acme-email') as string | undefined,
    acmeCaFile: get('acme-ca-file') as string | undefined,
    subscriptionServer: get('subscription-server') as string | undefined,
    subscriptionToleranceSeconds: get('subscription-tolerance') as number,
    router,
    dashboard: get('dashboard') as string | undefined,
    dashboardTokenFile: get('dashboard-token-file') as string | undefined,
    hostId: get('host-id') as string | undefined,
    tags: ((get('tags') as string | undefined) ?? '').split(',').map((t) => t.trim()).filter((t) => t !== ''),
    fleetDir: get('fleet-dir') as string | undefined,
    fleetTtlSeconds: get('fleet-ttl') as number,
    fleetCap: get('fleet-cap') as number,
    etcd: get('etcd') as string | undefined,
    prefix: get('prefix') as string | undefined,
    vassalsInclude: [...((get('vassals-include') as readonly string[] | undefined) ?? [])],
  };
}

function checkLogFormat(values: OptionValues, origins: ReadonlyMap<string, {file: string}>): Diagnostic[] {
  const format = values.get('log-format');
  if (format === undefined || format === 'human' || format === 'json') return [];
  return [configError(origins.get('log-format') ?? {file: COMMAND_LINE}, 'KAISER_CONFIG_BAD_VALUE', {key: 'log-format', reason: `expected human or json, got ${JSON.stringify(format)}`})];
}

function defaultOf(name: string): unknown {
  const spec = findOption(name);
  if (spec === undefined) throw new Error(`Internal error: no option ${name}`);
  return defaultValue(spec);
}

function usage(reason: string, key?: string): Diagnostic {
  return configError({file: COMMAND_LINE, ...(key === undefined ? {} : {key})}, 'KAISER_USAGE', {reason});
}

function longNames(): string[] {
  return allOptionNames().filter((name) => name.length > 1);
}

/** Whether `value` cannot be the value of an unknown flag: absent, another flag, or a vassal file. */
function isFlagLike(value: string | undefined): boolean {
  return value === undefined || value.startsWith('-') || configFormatOf(splitIniSelector(value).path) !== undefined;
}
