/** docs/uwsgi-compat.md names every option kaiser accepts without applying (no-op or not yet applied). */
import {readFileSync} from 'node:fs';
import {OPTIONS, type OptionSpec} from '../../src/options.js';

describe('docs/uwsgi-compat.md', () => {
  const doc = readFileSync('docs/uwsgi-compat.md', 'utf8');

  it('lists every no-op and every not-yet-applied option', () => {
    const missing = (OPTIONS as readonly OptionSpec[])
      .filter((spec) => spec.effect !== undefined)
      .map((spec) => spec.name)
      .filter((name) => !doc.includes(`\`${name}\``) && !(name.startsWith('static-expires') && doc.includes('`static-expires*`')));
    expect(missing).toEqual([]);
  });
});
