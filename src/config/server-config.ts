/**
 * The app server's configuration as the Python master receives it (`KAISER_CONFIG`, runtime-protocol.md §1): every
 * `server` option under its canonical name, defaults filled (`null` when none), lists as arrays, `env` as an
 * object. Also owns the checks every app server needs whatever its source (vassal file or command line): exactly
 * one app, at least one socket; and the choice of Python interpreter. Used by `vassal-spec.ts` and `argv.ts`.
 */
import {join, resolve} from 'node:path';
import {OPTIONS, type OptionSpec} from '../options.js';
import {configError, type Diagnostic, type DiagnosticLocation} from './diagnostic.js';
import {checkAsgiOptions} from './asgi-options.js';
import type {OptionCheck} from './option-check.js';
import {checkServingOptions} from './serving-options.js';
import {defaultValue, type OptionValue, type OptionValues} from './values.js';

/** A value in `KAISER_CONFIG`. */
export type ServerConfigValue = string | number | boolean | null | readonly string[] | Readonly<Record<string, string>>;

/** The `KAISER_CONFIG` object: canonical option names, plus `_`-prefixed extras (`_name`, `_node`, …). */
export interface ServerConfig {
  /** The vassal name for logs, e.g. `app.ini`. */
  readonly _name: string;
  readonly [option: string]: ServerConfigValue;
}

/** Options naming the app; an app server needs exactly one. */
export const APP_OPTIONS = ['wsgi-file', 'module', 'asgi', 'node-app', 'psgi', 'rack', 'lua', 'cgi', 'php-docroot'] as const;

/** Options binding a socket; an app server needs at least one. */
export const SOCKET_OPTIONS = ['http', 'http-socket', 'socket'] as const;

/** What the normalized object carries besides options. */
export interface ServerConfigContext {
  /** `_name`: the vassal file's base name, or `kaiser` on the command line. */
  readonly name: string;
  /** Further `_`-prefixed keys (`_node`, `_node_worker`). */
  readonly extras?: Readonly<Record<`_${string}`, ServerConfigValue>>;
}

const SERVER_OPTIONS: readonly OptionSpec[] = (OPTIONS as readonly OptionSpec[]).filter((spec) => spec.scopes.includes('server'));

/** `values` as the complete `KAISER_CONFIG` object. Pure; `values` are assumed checked (`checkServerOptions`). */
export function normalizeServerOptions(values: OptionValues, ctx: ServerConfigContext): ServerConfig {
  return completeServerConfig(explicitServerOptions(values, ctx));
}

/**
 * Only the `server` options `values` sets, plus the extras and `_name`: what a vassal spec keeps (the emperor holds
 * one per vassal, and the ~70 defaults would cost about 1 kB each). `completeServerConfig` makes it whole.
 */
export function explicitServerOptions(values: OptionValues, ctx: ServerConfigContext): ServerConfig {
  const config: Record<string, ServerConfigValue> = {};
  for (const spec of SERVER_OPTIONS) {
    const value = values.get(spec.name);
    if (value !== undefined) config[spec.name] = value;
  }
  return {...config, ...ctx.extras, _name: ctx.name};
}

/** `config` with every `server` option present, defaults filled (`null` when none): the `KAISER_CONFIG` object. */
export function completeServerConfig(config: ServerConfig): ServerConfig {
  const complete: Record<string, ServerConfigValue> = {};
  for (const spec of SERVER_OPTIONS) complete[spec.name] = config[spec.name] ?? defaultValue(spec) ?? null;
  return {...complete, ...config};
}

/** The checks of the options of particular apps and features, run for every app server. */
const FEATURE_CHECKS: readonly OptionCheck[] = [checkAsgiOptions, checkServingOptions];

/**
 * Problems that make `values` unusable as an app server: no app (KAISER_CONFIG_NO_APP), two apps
 * (KAISER_CONFIG_CONFLICT), no socket (KAISER_CONFIG_NO_SOCKET), then those of FEATURE_CHECKS.
 */
export const checkServerOptions: OptionCheck = (values, where, origins) => {
  const problems: Diagnostic[] = [];
  // uWSGI's python plugin loads `module`, then `wsgi-file`, the first that loads being the app: both may be set.
  const apps = APP_OPTIONS.filter((name) => values.has(name) && !(name === 'wsgi-file' && values.has('module')));
  const [first, second] = apps;
  if (first === undefined) {
    problems.push(configError(where, 'KAISER_CONFIG_NO_APP', {reason: 'set wsgi-file, module, asgi, node-app, psgi, rack, lua, cgi or php-docroot'}));
  } else if (second !== undefined) {
    problems.push(configError(origins?.get(second) ?? where, 'KAISER_CONFIG_CONFLICT', {key: second, other: first, reason: 'an app server runs one app'}));
  }
  if (!SOCKET_OPTIONS.some((name) => isNonEmpty(values.get(name)))) {
    problems.push(configError(where, 'KAISER_CONFIG_NO_SOCKET', {}));
  }
  for (const check of FEATURE_CHECKS) problems.push(...check(values, where, origins));
  return problems;
};

/**
 * uWSGI spellings that mean a different kaiser option: `protocol = http` makes the `socket = …` sockets HTTP
 * sockets (`http-socket`), a `log-format` that is not kaiser's `human`/`json` is uWSGI's request log format
 * (`logformat`), and a `mount = /PATH=APP` without another app option names the app (a `.py` path is a
 * `wsgi-file`, anything else a `module`; the mount point itself stays in `mount`). Returns the values to use and
 * the problems (another protocol).
 */
export function applyUwsgiForms(values: OptionValues, origins: ReadonlyMap<string, DiagnosticLocation>, where: DiagnosticLocation): {values: OptionValues; problems: Diagnostic[]} {
  const out = new Map(values);
  const problems: Diagnostic[] = [];
  const protocol = values.get('protocol');
  if (typeof protocol === 'string') {
    out.delete('protocol');
    const name = protocol.trim().toLowerCase();
    if (name === 'http') {
      const sockets = (values.get('socket') as readonly string[] | undefined) ?? [];
      out.set('http-socket', [...((values.get('http-socket') as readonly string[] | undefined) ?? []), ...sockets]);
      out.delete('socket');
    } else if (name !== 'uwsgi') {
      problems.push(configError(origins.get('protocol') ?? where, 'KAISER_CONFIG_BAD_VALUE', {key: 'protocol', reason: `kaiser's sockets speak uwsgi or http, not ${JSON.stringify(protocol)}`}));
    }
  }
  const mounts = values.get('mount');
  if (Array.isArray(mounts) && !APP_OPTIONS.some((name) => values.has(name))) {
    const first = (mounts as readonly string[])[0] ?? '';
    const app = first.slice(first.indexOf('=') + 1).trim();
    if (app !== '') out.set(/\.py$|\//.test(app) && !app.includes(':') ? 'wsgi-file' : 'module', app);
  }
  const format = values.get('log-format');
  if (typeof format === 'string' && format !== 'human' && format !== 'json') {
    out.delete('log-format');
    if (!out.has('logformat')) out.set('logformat', format);
  }
  return {values: out, problems};
}

/** How to find an interpreter: the filesystem question is the caller's (injectable for tests). */
export interface PythonChoice {
  /** Directory relative `virtualenv` paths are resolved against. */
  readonly baseDir: string;
  /** `python` given outside this config (the emperor's `--python`). */
  readonly fallback?: string;
  readonly fileExists: (path: string) => boolean;
}

/** The system interpreter tried when nothing else is configured. */
export const SYSTEM_PYTHON = '/usr/bin/python3';

/**
 * The Python interpreter for an app server: `<virtualenv>/bin/python3`, else the `python` option, else the
 * emperor's `--python`, else `/usr/bin/python3` if it exists, else `python3` from PATH.
 */
export function choosePython(values: OptionValues, choice: PythonChoice): string {
  const venv = values.get('virtualenv');
  if (typeof venv === 'string') return join(resolve(choice.baseDir, venv), 'bin', 'python3');
  const python = values.get('python');
  if (typeof python === 'string') return python.includes('/') ? resolve(choice.baseDir, python) : python;
  if (choice.fallback !== undefined) return choice.fallback;
  return choice.fileExists(SYSTEM_PYTHON) ? SYSTEM_PYTHON : 'python3';
}

function isNonEmpty(value: OptionValue | undefined): boolean {
  return Array.isArray(value) ? value.length > 0 : value !== undefined;
}
