import {readFileSync} from 'node:fs';
import {ERRORS, formatError, isErrorCode} from '../src/errors.js';

describe('the error catalogue', () => {
  it('documents every error code in docs/errors.md, and nothing else', () => {
    const documented = [...readFileSync('docs/errors.md', 'utf8').matchAll(/^## (KAISER_\w+)$/gm)].map((m) => m[1]);
    expect(documented.sort()).toEqual(Object.keys(ERRORS).sort());
  });

  it('names every code KAISER_ in upper snake case', () => {
    for (const code of Object.keys(ERRORS)) expect(code).toMatch(/^KAISER_[A-Z0-9_]+$/);
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
