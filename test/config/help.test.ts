import {EXIT_CODE_HELP} from '../../src/exit-codes.js';
import {OPTIONS} from '../../src/options.js';
import {helpText} from '../../src/config/help.js';

describe('helpText', () => {
  const text = helpText('1.2.3');

  it('lists every option with every alias', () => {
    for (const option of OPTIONS) {
      expect(text).toContain(`--${option.name}`);
      for (const alias of ('aliases' in option ? option.aliases : []) as readonly string[]) {
        expect(text).toContain(alias.length === 1 ? `-${alias}` : `--${alias}`);
      }
    }
  });

  it('prints usage lines, the version and every exit code', () => {
    expect(text).toMatch(/^kaiser 1\.2\.3/);
    expect(text).toContain('kaiser --emperor DIR');
    for (const [code, meaning] of EXIT_CODE_HELP) expect(text).toMatch(new RegExp(`\\b${code}  ${meaning.replace(/[()]/g, '\\$&')}`));
  });

  it('groups options by scope', () => {
    const command = text.slice(text.indexOf('Command vassal'), text.indexOf('Any vassal file'));
    expect(command).toContain('--exec CMD');
    expect(command).not.toContain('--processes');
  });
});
