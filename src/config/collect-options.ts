/**
 * Checks config entries against the option table and folds them into typed values: each key is an option (by
 * name or alias), a uWSGI option kaiser does not implement (KAISER_CONFIG_UNSUPPORTED, with the reason), a
 * placeholder of the same file, or unknown (KAISER_CONFIG_UNKNOWN_KEY with a suggestion: an error where the source
 * is strict, a warning where uWSGI would accept the key silently). Options accepted before their behaviour is
 * there warn (KAISER_CONFIG_NOT_APPLIED). Options outside the allowed scopes are KAISER_CONFIG_WRONG_SCOPE; values
 * that do not fit their type are KAISER_CONFIG_BAD_VALUE. Entries are applied in order, so later ones override
 * (single values) or append (lists).
 */
import {findOption, isNotAppliedUwsgiOption, refusalReason, type OptionScope, type OptionSpec} from '../options.js';
import type {ConfigEntry} from './config-entry.js';
import {configError, configWarning, type Diagnostic, type DiagnosticLocation} from './diagnostic.js';
import {didYouMean} from './did-you-mean.js';
import {coerceValue, mergeValues, type OptionValue, type OptionValues} from './values.js';

/** What may appear where the entries come from. */
export interface CollectRules {
  /** Scopes whose options are allowed here. */
  readonly scopes: readonly OptionScope[];
  /** Where the entries are, for KAISER_CONFIG_WRONG_SCOPE: `a command vassal`, `the emperor command line`. */
  readonly context: string;
  /** Unknown keys that are placeholders of the file (referenced as `%(name)`), hence not errors. */
  readonly placeholders?: ReadonlySet<string>;
  /** What an unknown key is: an error (default: command lines, TOML, `strict = true`) or a warning (uWSGI ini). */
  readonly unknownKeys?: 'error' | 'warning';
  /**
   * Numbers are read as uWSGI reads them (C's atoi: `1000  # comment` is 1000, `$(UNSET)` is 0), with a warning
   * saying so, instead of being refused: true for ini files, whose numbers uWSGI never refuses.
   */
  readonly lenientNumbers?: boolean;
}

/** Values by canonical name, with where each option was last set (for later diagnostics). */
export interface CollectedOptions {
  readonly values: OptionValues;
  readonly origins: ReadonlyMap<string, DiagnosticLocation>;
  readonly diagnostics: readonly Diagnostic[];
}

/** Human words for each scope, as KAISER_CONFIG_WRONG_SCOPE prints them. */
export const SCOPE_WORDS: Readonly<Record<OptionScope, string>> = {
  emperor: 'the emperor',
  server: 'app servers (app-server vassals and kaiser --http …)',
  command: 'command vassals (exec = …)',
  vassal: 'vassal files',
};

/** Folds `entries` into values under `rules`; every problem becomes a diagnostic and the entry is skipped. */
export function collectOptions(entries: readonly ConfigEntry[], rules: CollectRules): CollectedOptions {
  const values = new Map<string, OptionValue>();
  const origins = new Map<string, DiagnosticLocation>();
  const diagnostics: Diagnostic[] = [];
  for (const entry of entries) {
    const where = locate(entry);
    const spec = findOption(entry.key);
    if (spec === undefined) {
      const problem = classifyUnknown(entry, where, rules);
      if (problem !== undefined) diagnostics.push(problem);
      continue;
    }
    if (!spec.scopes.some((scope) => rules.scopes.includes(scope))) {
      diagnostics.push(wrongScope(where, spec, rules.context));
      continue;
    }
    if (spec.effect === 'pending') diagnostics.push(notApplied(where, spec));
    let coerced = coerceValue(spec, entry.value);
    if (!coerced.ok && rules.lenientNumbers === true && typeof entry.value === 'string') {
      const read = readAsUwsgiNumber(spec, entry.value);
      if (read !== undefined) {
        diagnostics.push(configWarning(where, 'KAISER_CONFIG_BAD_VALUE', {key: where.key ?? entry.key, reason: `${JSON.stringify(entry.value)} is read as ${read}, as uWSGI reads it`}));
        coerced = {ok: true, value: read};
      }
    }
    if (!coerced.ok) {
      diagnostics.push(configError(where, 'KAISER_CONFIG_BAD_VALUE', {key: where.key ?? entry.key, reason: coerced.error}));
      continue;
    }
    values.set(spec.name, accumulate(spec, values.get(spec.name), coerced.value));
    origins.set(spec.name, where);
  }
  return {values, origins, diagnostics};
}

/**
 * `mergeValues` for the values this collection owns: lists and env tables grow in place (their first value is a
 * copy), because merging into a fresh copy per entry is quadratic, and a file of 10 000 `env =` lines (the entry
 * limit, 200 kB) took minutes of the emperor's thread that way (issue 14, found by test/config/config-fuzz.test.ts).
 */
function accumulate(spec: OptionSpec, previous: OptionValue | undefined, next: OptionValue): OptionValue {
  if (spec.type === 'env') return previous === undefined ? {...(next as Record<string, string>)} : Object.assign(previous as Record<string, string>, next);
  if (spec.multi === true) {
    if (previous === undefined) return [...(next as readonly string[])];
    (previous as string[]).push(...(next as readonly string[]));
    return previous;
  }
  return mergeValues(spec, previous, next);
}

/**
 * uWSGI's reading of a number that is not one: C's atoi/strtoll (leading blanks, a sign, the digits up to the first
 * other character; none gives 0), clamped at 0. Undefined for options that take no number.
 */
export function readAsUwsgiNumber(spec: OptionSpec, text: string): number | undefined {
  if (spec.multi === true || (spec.type !== 'int' && spec.type !== 'number' && spec.type !== 'seconds')) return undefined;
  const match = /^[ \t\n\v\f\r]*([+-]?\d+)/.exec(text);
  return Math.max(0, match?.[1] === undefined ? 0 : Number.parseInt(match[1], 10));
}

/** The diagnostic for an option of the wrong scope, e.g. `processes` in a command vassal. */
export function wrongScope(where: DiagnosticLocation, spec: OptionSpec, context: string): Diagnostic {
  const scopes = spec.scopes.map((scope) => SCOPE_WORDS[scope]).join(' and ');
  return configError(where, 'KAISER_CONFIG_WRONG_SCOPE', {key: where.key ?? spec.name, context, scopes});
}

/** Whether `key` names a uWSGI option kaiser does not implement (and so refuses, rather than ignore it). */
export function isUnsupportedUwsgiOption(key: string): boolean {
  return findOption(key) === undefined && refusalReason(key) !== undefined;
}

/** The diagnostic for a uWSGI option kaiser does not implement, with the reason. */
export function unsupported(where: DiagnosticLocation, key: string): Diagnostic {
  const reason = refusalReason(key) ?? 'kaiser cannot run it';
  return configError(where, 'KAISER_CONFIG_UNSUPPORTED', {key, hint: `: ${reason} (remove it, or run this app under uWSGI; docs/uwsgi-compat.md)`});
}

/** The warning for an option kaiser accepts before it applies it. */
export function notApplied(where: DiagnosticLocation, spec: OptionSpec): Diagnostic {
  return configWarning(where, 'KAISER_CONFIG_NOT_APPLIED', {key: where.key ?? spec.name});
}

function classifyUnknown(entry: ConfigEntry, where: DiagnosticLocation, rules: CollectRules): Diagnostic | undefined {
  if (isUnsupportedUwsgiOption(entry.key)) return unsupported(where, entry.key);
  if (isNotAppliedUwsgiOption(entry.key)) return configWarning(where, 'KAISER_CONFIG_NOT_APPLIED', {key: where.key ?? entry.key});
  // uWSGI: an unknown key doubles as a placeholder; the ones the file uses as such are not even a warning.
  if (rules.placeholders?.has(entry.key) === true) return undefined;
  if (rules.unknownKeys === 'warning') {
    return configWarning(where, 'KAISER_CONFIG_UNKNOWN_KEY', {key: entry.key, suggestion: `${didYouMean(entry.key)}; ignored, as uWSGI ignores it (strict = true makes it an error)`});
  }
  return configError(where, 'KAISER_CONFIG_UNKNOWN_KEY', {key: entry.key, suggestion: didYouMean(entry.key)});
}

/** Where `entry` is, for a diagnostic about it (the key as the operator wrote it). */
export function locate(entry: ConfigEntry): DiagnosticLocation {
  return {
    file: entry.file,
    key: entry.label ?? entry.key,
    ...(entry.line === undefined ? {} : {line: entry.line}),
    ...(entry.section === undefined ? {} : {section: entry.section}),
  };
}
