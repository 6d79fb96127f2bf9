/**
 * uWSGI's config logic (core/config.c, 2.0): `if-env`, `if-exists`, `for`… open a block; every key up to
 * `endif`/`endfor` (or `end`, `end-if`, `end-for`) goes through the block, which adds it zero times (condition
 * false), once (true) or once per item (`for`), with `%(_)` in its value replaced by the block's datum (the
 * variable's value, the path, the item). Blocks do not nest (uWSGI exits: "recursive logic in options is not
 * supported"). The block's argument is taken as written, after magic variables only: `$(…)` and `%(…)` are
 * expanded later, as in uWSGI. This module owns what each opener means; `ini-reading.ts` drives the blocks.
 */
import {isAbsolute, join} from 'node:path';
import type {ConfigFs} from './config-fs.js';
import {CONFIG_LIMITS} from './config-limits.js';

/** What a block needs to decide: environment, filesystem, host name, and options set so far (`if-opt`). */
export interface LogicContext {
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly fs: ConfigFs;
  /** Relative paths resolve against this (the vassal directory: uWSGI's cwd). */
  readonly cwd: string;
  readonly hostname: string;
  /** The first value set for `key` so far, or undefined. */
  readonly optionValue: (key: string) => string | undefined;
}

/**
 * The datums a block yields for one body line: each is substituted for `%(_)` and the line is added once per
 * datum; `null` means "add the line, leaving `%(_)` as it is" (uWSGI passes NULL, which substitutes nothing).
 * An error stops reading (`for-readline` of a missing file).
 */
export type LogicOutcome = {readonly datums: readonly (string | null)[]} | {readonly error: string};

type LogicRule = (arg: string, ctx: LogicContext) => LogicOutcome;

const ONCE_WITH = (datum: string | null): LogicOutcome => ({datums: [datum]});
const NEVER: LogicOutcome = {datums: []};

/** `NAME` or `NAME=value`: the variable and the value it must equal, if any. */
function splitCondition(arg: string): {name: string; expected: string | undefined} {
  const eq = arg.indexOf('=');
  return eq === -1 ? {name: arg, expected: undefined} : {name: arg.slice(0, eq), expected: arg.slice(eq + 1)};
}

function ifValue(found: string | undefined, expected: string | undefined): LogicOutcome {
  if (found === undefined || (expected !== undefined && expected !== found)) return NEVER;
  return ONCE_WITH(found);
}

function ifNotValue(found: string | undefined, expected: string | undefined): LogicOutcome {
  if (found !== undefined && (expected === undefined || expected === found)) return NEVER;
  return ONCE_WITH(found ?? null);
}

function resolvePath(ctx: LogicContext, path: string): string {
  return isAbsolute(path) ? path : join(ctx.cwd, path);
}

function pathIs(ctx: LogicContext, arg: string, wanted: (kind: string | undefined) => boolean): LogicOutcome {
  return wanted(ctx.fs.kindOf(resolvePath(ctx, arg))) ? ONCE_WITH(arg) : NEVER;
}

function forGlob(arg: string, ctx: LogicContext): LogicOutcome {
  // GLOB_NOCHECK: no match yields the pattern itself. Wildcards are supported in the last component only.
  const slash = arg.lastIndexOf('/');
  const dirPart = slash === -1 ? '' : arg.slice(0, slash + 1);
  const pattern = arg.slice(slash + 1);
  if (/[*?[]/.test(dirPart)) return {error: `for-glob supports wildcards in the last path component only: ${arg}`};
  if (!/[*?[]/.test(pattern)) return {datums: [arg]};
  const names = ctx.fs.listDir(resolvePath(ctx, dirPart === '' ? '.' : dirPart)) ?? [];
  const regex = globRegex(pattern);
  const matches = names.filter((name) => regex.test(name) && (pattern.startsWith('.') || !name.startsWith('.'))).sort();
  if (matches.length === 0) return {datums: [arg]};
  // GLOB_MARK: directories get a trailing slash.
  return {datums: matches.map((name) => `${dirPart}${name}${ctx.fs.kindOf(resolvePath(ctx, dirPart + name)) === 'dir' ? '/' : ''}`)};
}

function globRegex(pattern: string): RegExp {
  let source = '';
  for (const c of pattern) source += c === '*' ? '[^/]*' : c === '?' ? '[^/]' : /[\\^$.|+(){}[\]]/.test(c) ? `\\${c}` : c;
  return new RegExp(`^${source}$`);
}

function forReadline(arg: string, ctx: LogicContext): LogicOutcome {
  const read = ctx.fs.readFile(resolvePath(ctx, arg), CONFIG_LIMITS.fileBytes);
  if (!read.ok) return {error: `for-readline cannot read ${arg}: ${read.error}`};
  // fgets with a 1024-byte buffer, then the newline chomped.
  const lines = read.value.toString('utf8').split(/(?<=\n)/).flatMap((line) => chunk(line, 1023));
  return {datums: lines.map((line) => line.replace(/\r?\n$/, ''))};
}

function chunk(text: string, size: number): string[] {
  const out: string[] = [];
  for (let i = 0; i < text.length; i += size) out.push(text.slice(i, i + size));
  return out;
}

function forTimes(arg: string): LogicOutcome {
  const n = Number.parseInt(arg, 10); // atoi
  const count = Number.isFinite(n) && n > 0 ? n : 0;
  if (count > CONFIG_LIMITS.entries) return {error: `for-times ${count} is more than ${CONFIG_LIMITS.entries} entries`};
  return {datums: Array.from({length: count}, (_, i) => String(i + 1))};
}

/** Every block opener uWSGI 2.0 has, by key (aliases included). */
export const LOGIC_OPENERS: Readonly<Record<string, LogicRule>> = {
  for: (arg) => ({datums: arg.split(' ').filter((t) => t !== '')}),
  'for-glob': forGlob,
  'for-times': forTimes,
  'for-readline': forReadline,
  'if-env': (arg, ctx) => {
    const {name, expected} = splitCondition(arg);
    return ifValue(ctx.env[name], expected);
  },
  'if-not-env': (arg, ctx) => {
    const {name, expected} = splitCondition(arg);
    return ifNotValue(ctx.env[name], expected);
  },
  'if-opt': (arg, ctx) => {
    const {name, expected} = splitCondition(arg);
    return ifValue(ctx.optionValue(name), expected);
  },
  'if-not-opt': (arg, ctx) => {
    const {name, expected} = splitCondition(arg);
    return ifNotValue(ctx.optionValue(name), expected);
  },
  // A vassal file is read once per start; kaiser's reload re-reads it as a fresh start.
  'if-reload': () => NEVER,
  'if-not-reload': () => ONCE_WITH(null),
  'if-exists': (arg, ctx) => pathIs(ctx, arg, (kind) => kind !== undefined),
  'if-not-exists': (arg, ctx) => pathIs(ctx, arg, (kind) => kind === undefined),
  'if-file': (arg, ctx) => pathIs(ctx, arg, (kind) => kind === 'file'),
  'if-not-file': (arg, ctx) => pathIs(ctx, arg, (kind) => kind !== 'file'),
  'if-dir': (arg, ctx) => pathIs(ctx, arg, (kind) => kind === 'dir'),
  'if-not-dir': (arg, ctx) => pathIs(ctx, arg, (kind) => kind !== 'dir'),
  // kaiser has every plugin built in, so every plugin counts as loaded.
  'if-plugin': (arg) => ONCE_WITH(arg),
  'if-not-plugin': () => NEVER,
  'if-hostname': (arg, ctx) => (ctx.hostname === arg ? ONCE_WITH(arg) : NEVER),
  'if-not-hostname': (arg, ctx) => (ctx.hostname !== arg ? ONCE_WITH(arg) : NEVER),
  'if-hostname-match': (arg, ctx) => matchHostname(arg, ctx, true),
  'if-not-hostname-match': (arg, ctx) => matchHostname(arg, ctx, false),
};

// uWSGI's short spellings.
const ALIASES: Readonly<Record<string, string>> = {ifenv: 'if-env', ifexists: 'if-exists', ifplugin: 'if-plugin', ifdir: 'if-dir', 'if-directory': 'if-dir'};

/** The rule a key opens, or undefined when the key opens no block. */
export function logicOpener(key: string): LogicRule | undefined {
  return LOGIC_OPENERS[ALIASES[key] ?? key];
}

/** Keys that close a block. */
export const LOGIC_CLOSERS: ReadonlySet<string> = new Set(['end', 'endif', 'end-if', 'endfor', 'end-for']);

function matchHostname(pattern: string, ctx: LogicContext, wanted: boolean): LogicOutcome {
  let matched: boolean;
  try {
    matched = new RegExp(pattern).test(ctx.hostname);
  } catch {
    return {error: `bad regular expression ${JSON.stringify(pattern)}`};
  }
  return matched === wanted ? ONCE_WITH(pattern) : NEVER;
}
