import {execFileSync} from 'node:child_process';
import {describe, expect, it} from '@jest/globals';
import {SAMPLES_PER_VASSAL, TRANSITIONS_PER_VASSAL, VassalHistory} from '../../src/dashboard/history.js';

describe('VassalHistory', () => {
  it('keeps the last 450 samples of a vassal, oldest first', () => {
    const history = new VassalHistory();
    for (let s = 0; s < SAMPLES_PER_VASSAL + 5; s++) history.record(1_700_000_000_000 + s * 2000, [{name: 'web.toml', cpu: s, rss: s * 1024}]);
    const series = history.samples('web.toml');
    expect(series.at.length).toBe(SAMPLES_PER_VASSAL);
    expect(series.cpu[0]).toBe(5);
    expect(series.cpu.at(-1)).toBe(SAMPLES_PER_VASSAL + 4);
    expect(series.rss.at(-1)).toBe((SAMPLES_PER_VASSAL + 4) * 1024);
    expect(series.at[1]! - series.at[0]!).toBe(2000);
  });

  it('forgets a vassal missing from a sample, and answers empty for an unknown one', () => {
    const history = new VassalHistory();
    history.record(1000, [{name: 'a.ini', cpu: 1, rss: 1}, {name: 'b.ini', cpu: 1, rss: 1}]);
    history.recordTransition('a.ini', {at: 1, from: 'ready', to: 'backoff', event: 'EXIT'});
    history.record(3000, [{name: 'b.ini', cpu: 1, rss: 1}]);
    expect(history.size).toBe(1);
    expect(history.samples('a.ini')).toEqual({at: [], cpu: [], rss: []});
    expect(history.transitions('a.ini')).toEqual([]);
  });

  it('keeps the last transitions of a vassal only', () => {
    const history = new VassalHistory();
    for (let t = 0; t < TRANSITIONS_PER_VASSAL + 7; t++) history.recordTransition('web.toml', {at: t, from: 'ready', to: 'backoff', event: 'EXIT'});
    const kept = history.transitions('web.toml');
    expect(kept.length).toBe(TRANSITIONS_PER_VASSAL);
    expect(kept[0]!.at).toBe(7);
  });

  it('stores huge or odd figures without wrapping', () => {
    const history = new VassalHistory();
    history.record(1000, [{name: 'x.ini', cpu: Number.NaN, rss: 2 ** 50}]);
    expect(history.samples('x.ini').cpu).toEqual([0]);
    expect(history.samples('x.ini').rss[0]).toBe(0xffff_ffff * 1024);
  });

  it('stays under 10 MB of extra RSS for 1000 vassals over 15 minutes (measured in a fresh process)', () => {
    const output = execFileSync(process.execPath, ['--expose-gc', new URL('./fixtures/history-memory.mjs', import.meta.url).pathname, '1000'], {encoding: 'utf8'});
    const figures = JSON.parse(output.trim().split('\n').at(-1)!);
    // The figure for the report: `npm test` output shows it.
    process.stdout.write(`${output.split('\n')[0]}\n`);
    expect(figures.vassals).toBe(1000);
    expect(figures.samples).toBe(SAMPLES_PER_VASSAL);
    expect(figures.rssMb).toBeLessThan(10);
    expect(figures.heapAndBuffersMb).toBeLessThan(10);
  });
});
