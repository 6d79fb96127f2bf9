/**
 * Config diagnostics: a problem an operator must fix, pointing at the text to change (file, 1-based line, key) with
 * a code of the error catalogue. Owns the `Diagnostic` type, its one-line rendering, and the constructor every
 * config module uses, so all config errors read alike:
 *
 *   vassals/shop.ini:7 [uwsgi] procesess: error KAISER_CONFIG_UNKNOWN_KEY unknown option "procesess" (did you mean "processes"?)
 */
import {formatError, type ErrorCode, type ErrorFields} from '../errors.js';

/** One config problem. `file` is the path as the operator gave it, or `kaiser` for the command line. */
export interface Diagnostic {
  readonly file: string;
  /** 1-based line in `file`, when known. */
  readonly line?: number;
  /** The ini section (`uwsgi`) or TOML table the key sits in, when there is one. */
  readonly section?: string;
  /** The key as written (`procesess`), or the flag for the command line (`--procesess`). */
  readonly key?: string;
  readonly code: ErrorCode;
  readonly severity: 'error' | 'warning';
  readonly message: string;
}

/** Where a diagnostic points; everything but what went wrong. */
export interface DiagnosticLocation {
  readonly file: string;
  readonly line?: number;
  readonly section?: string;
  readonly key?: string;
}

/** The name `Diagnostic.file` carries for problems on the command line. */
export const COMMAND_LINE = 'kaiser';

/** An error diagnostic at `where`, its message built from the catalogue. */
export function configError<C extends ErrorCode>(where: DiagnosticLocation, code: C, fields: ErrorFields<C>): Diagnostic {
  return {...stripUndefined(where), code, severity: 'error', message: formatError(code, fields)};
}

/** A warning diagnostic at `where`, its message built from the catalogue. */
export function configWarning<C extends ErrorCode>(where: DiagnosticLocation, code: C, fields: ErrorFields<C>): Diagnostic {
  return {...stripUndefined(where), code, severity: 'warning', message: formatError(code, fields)};
}

/**
 * One line for a terminal or log:
 * `vassals/shop.ini:7 [uwsgi] procesess: error KAISER_CONFIG_UNKNOWN_KEY unknown option "procesess" (…)`.
 */
export function formatDiagnostic(d: Diagnostic): string {
  let where = d.file;
  if (d.line !== undefined) where += `:${d.line}`;
  if (d.section !== undefined) where += ` [${d.section}]`;
  if (d.key !== undefined) where += ` ${d.key}`;
  return `${where}: ${d.severity} ${d.code} ${d.message}`;
}

/** Whether any of `diagnostics` stops the config from being used. */
export function hasErrors(diagnostics: readonly Diagnostic[]): boolean {
  return diagnostics.some((d) => d.severity === 'error');
}

// With exactOptionalPropertyTypes-style comparisons in tests, `{line: undefined}` and `{}` should not differ.
function stripUndefined(where: DiagnosticLocation): DiagnosticLocation {
  const out: {file: string; line?: number; section?: string; key?: string} = {file: where.file};
  if (where.line !== undefined) out.line = where.line;
  if (where.section !== undefined) out.section = where.section;
  if (where.key !== undefined) out.key = where.key;
  return out;
}
