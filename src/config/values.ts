/**
 * Coercion of one raw value (a string from the command line or an ini file, or a TOML value) to the type its
 * option declares in `src/options.ts`, and merging of repeated occurrences (lists append, `env` merges, single
 * values: the last one wins, as in uWSGI). A failure is a reason string; the caller wraps it in a
 * KAISER_CONFIG_BAD_VALUE diagnostic that names the key and the line.
 */
import {constants} from 'node:os';
import type {OptionSpec, OptionType} from '../options.js';
import {err, ok, type Result} from '../result.js';
import {isRawTable, type RawValue} from './config-entry.js';

/** An option's value after coercion. `multi` options are lists; `env` is an object; `argv` a list. */
export type OptionValue = string | number | boolean | readonly string[] | Readonly<Record<string, string>>;

/** Coerced values by canonical option name. */
export type OptionValues = ReadonlyMap<string, OptionValue>;

/** The shell a string `exec`/`argv` runs through. */
export const SHELL = '/bin/sh';

/**
 * `raw` as a value of `spec`'s type. For a `multi` option the result is the list (or `env` object) of this one
 * occurrence, which `mergeValues` appends to earlier ones; a TOML array gives several items at once.
 */
export function coerceValue(spec: OptionSpec, raw: RawValue): Result<OptionValue, string> {
  // No program argument, path, environment value or address can hold a NUL byte (exec would refuse it, C would cut
  // the string there): refused here, naming the key, rather than at launch.
  if (hasNulByte(raw)) return err('contains a NUL byte (\\0)');
  if (spec.type === 'env') return coerceEnv(raw);
  if (spec.type === 'argv') return coerceArgv(raw);
  if (spec.multi === true) {
    const items: string[] = [];
    for (const item of Array.isArray(raw) ? (raw as readonly RawValue[]) : [raw]) {
      const one = coerceScalar(spec.type, item);
      if (!one.ok) return one;
      items.push(String(one.value));
    }
    return ok(items);
  }
  if (Array.isArray(raw)) return err('expected a single value, not a list');
  return coerceScalar(spec.type, raw);
}

/** True when a string anywhere in `raw` (a list, a table's keys or values) holds a NUL byte. */
function hasNulByte(raw: RawValue, depth = 0): boolean {
  if (typeof raw === 'string') return raw.includes('\0');
  if (typeof raw !== 'object' || raw === null || depth > 64) return false;
  if (Array.isArray(raw)) return (raw as readonly RawValue[]).some((item) => hasNulByte(item, depth + 1));
  return Object.entries(raw as Record<string, RawValue>).some(([key, value]) => key.includes('\0') || hasNulByte(value, depth + 1));
}

/** `next` after `previous` for the same option: lists append, env objects merge, anything else replaces. */
export function mergeValues(spec: OptionSpec, previous: OptionValue | undefined, next: OptionValue): OptionValue {
  if (previous === undefined) return next;
  if (spec.type === 'env') return {...(previous as Record<string, string>), ...(next as Record<string, string>)};
  if (spec.multi === true) return [...(previous as readonly string[]), ...(next as readonly string[])];
  return next;
}

/** The value `spec.default` stands for, in the option's type (e.g. `'SIGTERM'` stays a signal name). */
export function defaultValue(spec: OptionSpec): OptionValue | undefined {
  if (spec.default !== undefined) return spec.default;
  if (spec.type === 'env') return {};
  if (spec.multi === true) return [];
  if (spec.type === 'bool') return false;
  return undefined;
}

function coerceScalar(type: Exclude<OptionType, 'env' | 'argv'>, raw: RawValue): Result<string | number | boolean, string> {
  if (typeof raw === 'object') return err(`expected ${describe(type)}, not a ${Array.isArray(raw) ? 'list' : 'table'}`);
  switch (type) {
    case 'string':
      return typeof raw === 'boolean' ? err('expected a string') : ok(String(raw));
    case 'path':
      if (typeof raw !== 'string') return err('expected a path (a string)');
      return raw === '' ? err('expected a path, got an empty string') : ok(raw);
    case 'int':
      return coerceNumber(raw, {integer: true, what: 'a non-negative integer'});
    case 'number':
      return coerceNumber(raw, {integer: false, what: 'a non-negative number'});
    case 'seconds':
      return coerceNumber(raw, {integer: false, what: 'a number of seconds'});
    case 'bool':
      return coerceBool(raw);
    case 'signal':
      return coerceSignal(raw);
    case 'address':
      return typeof raw === 'string' ? checkAddress(raw) : err('expected an address such as 127.0.0.1:8080, :8080 or /run/app.sock');
    default:
      throw unknownType(type);
  }
}

function coerceNumber(raw: string | number | boolean, {integer, what}: {integer: boolean; what: string}): Result<number, string> {
  const value = typeof raw === 'number' ? raw : typeof raw === 'string' && /^\s*\d+(\.\d+)?\s*$/.test(raw) ? Number(raw) : NaN;
  if (!Number.isFinite(value) || value < 0 || (integer && !Number.isInteger(value))) {
    return err(`expected ${what}, got ${JSON.stringify(raw)}`);
  }
  return ok(value);
}

/** uWSGI flags: `false`, `off`, `no` (any case) and `0` are false; anything else, including a bare key, is true. */
function coerceBool(raw: string | number | boolean): Result<boolean, string> {
  if (typeof raw === 'boolean') return ok(raw);
  if (typeof raw === 'number') return ok(raw !== 0);
  return ok(!['false', 'off', 'no', '0'].includes(raw.trim().toLowerCase()));
}

/** `SIGTERM`, `TERM`, `term` or `15` → `SIGTERM`. */
export function coerceSignal(raw: string | number | boolean): Result<NodeJS.Signals, string> {
  const signals = constants.signals as Readonly<Record<string, number>>;
  if (typeof raw === 'number' || (typeof raw === 'string' && /^\d+$/.test(raw.trim()))) {
    const number = Number(raw);
    const name = Object.keys(signals).find((n) => signals[n] === number);
    return name === undefined ? err(`no signal has the number ${number}`) : ok(name as NodeJS.Signals);
  }
  if (typeof raw !== 'string') return err('expected a signal such as SIGTERM, TERM or 15');
  const upper = raw.trim().toUpperCase();
  const name = upper.startsWith('SIG') ? upper : `SIG${upper}`;
  return Object.hasOwn(signals, name) ? ok(name as NodeJS.Signals) : err(`unknown signal ${JSON.stringify(raw)}`);
}

/** A string runs through `/bin/sh -c`; an array of strings is the argv itself. */
function coerceArgv(raw: RawValue): Result<readonly string[], string> {
  if (typeof raw === 'string') {
    return raw.trim() === '' ? err('expected a command, got an empty string') : ok([SHELL, '-c', raw]);
  }
  if (Array.isArray(raw)) {
    const items = raw as readonly RawValue[];
    if (items.length === 0) return err('expected a command, got an empty list');
    if (!items.every((item): item is string => typeof item === 'string')) return err('every item of a command list must be a string');
    if (items[0] === '') return err('the program (first item) must not be empty');
    return ok(items);
  }
  return err('expected a command string or a list of strings');
}

/** A TOML table `{KEY = "v"}`, one `KEY=VALUE` string, or a list of them. */
function coerceEnv(raw: RawValue): Result<Readonly<Record<string, string>>, string> {
  const env: Record<string, string> = {};
  if (typeof raw === 'object' && isRawTable(raw)) {
    for (const [name, value] of Object.entries(raw)) {
      if (typeof value === 'object') return err(`the value of ${name} must be a string, number or boolean`);
      const checked = checkEnvName(name);
      if (!checked.ok) return checked;
      env[name] = String(value);
    }
    return ok(env);
  }
  for (const item of Array.isArray(raw) ? (raw as readonly RawValue[]) : [raw]) {
    if (typeof item !== 'string') return err('expected KEY=VALUE strings or a table');
    const eq = item.indexOf('=');
    if (eq === -1) return err(`expected KEY=VALUE, got ${JSON.stringify(item)}`);
    const name = item.slice(0, eq).trim();
    const checked = checkEnvName(name);
    if (!checked.ok) return checked;
    env[name] = item.slice(eq + 1);
  }
  return ok(env);
}

function checkEnvName(name: string): Result<string, string> {
  return name === '' || name.includes('=') || name.includes('\0') ? err(`bad environment variable name ${JSON.stringify(name)}`) : ok(name);
}

/** The kinds of address uWSGI accepts for a socket. */
export type ParsedAddress =
  | {kind: 'tcp'; host: string; port: number}
  | {kind: 'unix'; path: string}
  | {kind: 'abstract'; name: string};

/**
 * uWSGI's socket address forms: `host:port` or `:port` (TCP; `[::1]:port` for IPv6), `@name` (abstract UNIX
 * socket), anything else with no colon a UNIX socket path.
 */
export function parseAddress(text: string): Result<ParsedAddress, string> {
  const value = text.trim();
  if (value === '') return err('expected an address, got an empty string');
  if (value.startsWith('@')) return value.length > 1 ? ok({kind: 'abstract', name: value.slice(1)}) : err('an abstract socket needs a name after "@"');
  if (/^(unix:|[a-z]+:\/\/)/i.test(value)) return err(`uWSGI addresses have no scheme: use host:port, :port, a socket path or @name, got ${JSON.stringify(value)}`);
  const tcp = /^(\[[0-9a-fA-F:.]+\]|[^:/\s]*):([^:/]*)$/.exec(value);
  if (tcp !== null) {
    const port = tcp[2] ?? '';
    if (!/^\d+$/.test(port) || Number(port) > 65535) return err(`bad port ${JSON.stringify(port)} in ${JSON.stringify(value)}`);
    return ok({kind: 'tcp', host: (tcp[1] ?? '').replace(/^\[|\]$/g, ''), port: Number(port)});
  }
  if (!value.includes('/') && value.includes(':')) return err(`expected host:port, :port, a socket path or @name, got ${JSON.stringify(value)}`);
  return ok({kind: 'unix', path: value});
}

function checkAddress(text: string): Result<string, string> {
  const parsed = parseAddress(text);
  return parsed.ok ? ok(text.trim()) : parsed;
}

function describe(type: OptionType): string {
  const names: Record<OptionType, string> = {
    string: 'a string', path: 'a path', address: 'an address', int: 'an integer', number: 'a number', bool: 'true or false',
    seconds: 'a number of seconds', signal: 'a signal', argv: 'a command', env: 'KEY=VALUE',
  };
  return names[type];
}

function unknownType(type: never): Error {
  return new Error(`Internal error: unknown option type ${String(type)}`);
}
