import {describe, expect, it} from '@jest/globals';
import {EXIT_CODE_HELP} from '../../src/exit-codes.js';
import {OPTIONS, type OptionSpec} from '../../src/options.js';
import {helpEntries, helpText, optionLabel, wrap} from '../../src/config/help.js';
import {CONFIG_FILE_OPTIONS, SUBCOMMANDS} from '../../src/config/argv.js';

const options = OPTIONS as readonly OptionSpec[];

describe('helpText', () => {
  const text = helpText('1.2.3');
  const lines = text.split('\n');

  it('lists every option once, with every alias', () => {
    const entries = helpEntries();
    expect(entries.map((e) => e.spec.name).sort()).toEqual([...options, ...CONFIG_FILE_OPTIONS].map((o) => o.name).sort());
    // A long label wraps: its first line is what starts the entry.
    for (const entry of entries) {
      const label = optionLabel(entry);
      const first = wrap(label, 78)[0] ?? label;
      const starts = lines.filter((line) => line === `  ${first}` || line.startsWith(`  ${first} `));
      expect([label, starts.length]).toEqual([label, 1]);
      for (const alias of entry.spec.aliases ?? []) expect(label).toContain(alias);
    }
  });

  it('fits 80 columns by default and the given width otherwise', () => {
    expect(Math.max(...lines.map((line) => line.length))).toBeLessThanOrEqual(80);
    const wide = helpText('1.2.3', {width: 120}).split('\n');
    expect(Math.max(...wide.map((line) => line.length))).toBeLessThanOrEqual(120);
    expect(Math.max(...wide.map((line) => line.length))).toBeGreaterThan(80);
    expect(wide.length).toBeLessThan(lines.length);
  });

  it('fits a narrow terminal too: descriptions go under their flags, long paths break after a slash', () => {
    for (const width of [40, 50, 60, 70]) {
      const narrow = helpText('1.2.3', {width}).split('\n');
      expect([width, narrow.filter((line) => line.length > width)]).toEqual([width, []]);
    }
    const narrow = helpText('1.2.3', {width: 50}).split('\n');
    const at = narrow.findIndex((line) => line.startsWith('  --control PATH'));
    expect(narrow[at]).toBe('  --control PATH');
    expect(narrow[at + 1]).toMatch(/^ {6}\S/);
  });

  it('prints usage lines, the commands, the config-file flags, the version and every exit code', () => {
    expect(text).toMatch(/^kaiser 1\.2\.3/);
    expect(text).toContain('kaiser --emperor DIR');
    expect(text).toContain("kaiser --emperor 'DIR/*.ini'");
    for (const command of SUBCOMMANDS) expect(text).toMatch(new RegExp(`^  ${command} `, 'm'));
    for (const flag of ['--config FILE', '--ini FILE', '--toml FILE', '--version, -v', '--help, -h']) expect(text).toContain(flag);
    for (const [code, meaning] of EXIT_CODE_HELP) expect(text).toMatch(new RegExp(`^ +${code} +${meaning.replace(/[()]/g, '\\$&')}$`, 'm'));
  });

  it('groups options by where they apply, and shows keys the command line refuses as keys, not flags', () => {
    const section = (from: string, to: string) => text.slice(text.indexOf(from), text.indexOf(to));
    const command = section('Command vassal', 'Any vassal file');
    expect(command).toContain('exec = CMD');
    expect(command).not.toContain('--exec');
    expect(command).not.toContain('processes');
    const anyVassal = text.slice(text.indexOf('Any vassal file'), text.indexOf('Exit codes'));
    expect(anyVassal).toContain('stop-timeout = S');
    expect(anyVassal).toContain('on-demand = true');
    expect(anyVassal).not.toContain('--stop-timeout');
    // An option of several places is listed in the first, with a note naming the others.
    const server = section('App server', 'Command vassal').replace(/\s+/g, ' ');
    expect(server.slice(server.indexOf(' --logto'), server.indexOf(' --http ADDR'))).toContain('(also any vassal file)');
  });
});

describe('wrap', () => {
  it('breaks between words and keeps a word longer than the width whole', () => {
    expect(wrap('aa bb cc dd', 5)).toEqual(['aa bb', 'cc dd']);
    expect(wrap('a verylongword b', 4)).toEqual(['a', 'verylongword', 'b']);
    expect(wrap('see /run/kaiser/control.sock now', 12)).toEqual(['see', '/run/kaiser/', 'control.sock', 'now']);
  });
});
