import {describe, expect, it} from '@jest/globals';
import {readFileSync, readdirSync} from 'node:fs';
import {join} from 'node:path';
import {CONTROL_ERRORS} from '../src/control/protocol.js';
import {ERRORS, formatError, isErrorCode} from '../src/errors.js';

const DOC = readFileSync('docs/errors.md', 'utf8');
const documented = [...DOC.matchAll(/^## (KAISER_\w+)$/gm)].map((m) => m[1] ?? '');

/** Every source file under src/ (TypeScript, Python, shell, the dashboard's JavaScript), concatenated. */
function allSource(dir = 'src'): string {
  return readdirSync(dir, {withFileTypes: true})
    .flatMap((entry) => {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) return entry.name === '__pycache__' ? [] : [allSource(path)];
      return /\.(ts|js|mjs|py|sh|json)$/.test(entry.name) ? [readFileSync(path, 'utf8')] : [];
    })
    .join('\n');
}

/**
 * The `KAISER_*` names in `source` that are error codes: every one but the environment variables (read from an env
 * object or `os.environ`, set as `NAME=` or in an env object, or shown as `$NAME`).
 */
function errorCodesIn(source: string): string[] {
  const tokens = new Set([...source.matchAll(/\bKAISER_[A-Z][A-Z0-9_]*\b/g)].map((m) => m[0]).filter((t) => !t.endsWith('_')));
  const isEnvironmentVariable = (name: string) =>
    new RegExp(
      [
        `(?:env\\w*|environ)\\s*(?:\\.get\\s*\\(|\\.pop\\s*\\(|\\[)\\s*['"\`]${name}\\b`,
        `environ[^\\n]{0,20}['"]${name}\\b`,
        `\\$\\{?${name}\\b`,
        `\\b${name}=`,
        `\\benv\\s+${name}\\b`,
        `\\[\\s*['"]${name}['"]\\s*\\]\\s*=(?!=)`,
        `['"]${name}['"]\\s*:\\s*(?!['"\`])\\S`,
        `\\b${name}:\\s*(?:String|JSON|process|\\w+\\.)`,
      ].join('|'),
    ).test(source);
  return [...tokens].filter((token) => !isEnvironmentVariable(token)).sort();
}

describe('the error catalogue', () => {
  it('documents every error code in docs/errors.md, and nothing else', () => {
    expect([...documented].sort()).toEqual([...Object.keys(ERRORS), ...Object.keys(CONTROL_ERRORS)].sort());
  });

  it('documents every KAISER_ code that appears anywhere in src/ (the catalogue included)', () => {
    const codes = errorCodesIn(allSource());
    expect(codes.length).toBeGreaterThanOrEqual(Object.keys(ERRORS).length);
    expect(codes.filter((code) => !documented.includes(code))).toEqual([]);
  });

  it('tells error codes from environment variables', () => {
    const source = "const a = env['KAISER_CONTROL']; os.environ.get('KAISER_CONFIG'); `$KAISER_ETCD`; x('KAISER_CONFIG_BAD_VALUE'); {KAISER_WORKER_ID: String(id)}";
    expect(errorCodesIn(source)).toEqual(['KAISER_CONFIG_BAD_VALUE']);
  });

  it('names every code KAISER_ in upper snake case', () => {
    for (const code of [...Object.keys(ERRORS), ...Object.keys(CONTROL_ERRORS)]) expect(code).toMatch(/^KAISER_[A-Z0-9_]+$/);
  });

  it('fills every placeholder of a template', () => {
    expect(formatError('KAISER_CONFIG_BAD_VALUE', {key: 'processes', reason: 'expected a non-negative integer'})).toBe(
      'bad value for "processes": expected a non-negative integer',
    );
  });

  it('throws an internal error when a placeholder is missing (a kaiser bug)', () => {
    expect(() => formatError('KAISER_CONFIG_BAD_VALUE', {key: 'x'} as never)).toThrow(/^Internal error/);
  });

  it('recognizes its own codes only', () => {
    expect(isErrorCode('KAISER_USAGE')).toBe(true);
    expect(isErrorCode('toString')).toBe(false);
  });
});
