/** The README's option reference is generated from the option table; this keeps it from drifting. */
import {describe, expect, it} from '@jest/globals';
import {readFileSync} from 'node:fs';
import {optionsMarkdown} from '../src/config/help.js';

describe('README', () => {
  it('has the option reference generated from src/options.ts (run node scripts/readme-options.js)', () => {
    const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
    const section = readme.slice(readme.indexOf('<!-- options:start -->') + '<!-- options:start -->'.length, readme.indexOf('<!-- options:end -->'));
    expect(section).toBe(`\n${optionsMarkdown()}`);
  });

  it('shows the two commands', () => {
    const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
    expect(readme).toContain('npm ci && npm start');
    expect(readme).toContain('npm ci && npm test');
  });
});
