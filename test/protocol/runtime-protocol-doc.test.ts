/** docs/runtime-protocol.md stays complete: every pipe byte and every key the emperor or the launcher adds. */
import {describe, expect, it} from '@jest/globals';
import {readFileSync} from 'node:fs';
import {FROM_VASSAL, TO_VASSAL} from '../../src/protocol/emperor-pipe.js';

const DOC = readFileSync('docs/runtime-protocol.md', 'utf8');

describe('docs/runtime-protocol.md', () => {
  it('has a row for every byte of the emperor pipe, both ways', () => {
    const rows = (direction: string) => new Set([...DOC.matchAll(new RegExp(`^\\| \`(\\d+)\`[^|]*\\| ${direction} \\|`, 'gm'))].map((m) => Number(m[1])));
    expect([...Object.values(TO_VASSAL)].filter((byte) => !rows('E→V').has(byte))).toEqual([]);
    expect([...Object.values(FROM_VASSAL)].filter((byte) => !rows('V→E').has(byte))).toEqual([]);
  });

  it('names every key the emperor and the launcher add to KAISER_CONFIG', () => {
    const sources = ['src/emperor/child-spec.ts', 'src/server/launcher.ts'].map((file) => readFileSync(file, 'utf8')).join('\n');
    const added = new Set([...sources.matchAll(/\b(_[a-z][a-z_]*|idle): /g)].map((m) => m[1] ?? ''));
    expect(added.size).toBeGreaterThanOrEqual(5);
    expect([...added].filter((key) => !DOC.includes(`\`${key}\``))).toEqual([]);
  });
});
