/**
 * Hostile vassal files for the fuzz tests (issue 14): garbage, binary, huge, deep, placeholder/for/env bombs,
 * includes of FIFOs, devices and loops, and one bad value in every key of every type, from a seeded PRNG so a failure
 * replays. test/config/config-fuzz.test.ts feeds them to the parser, test/emperor/fuzz.int.test.ts to a running
 * emperor.
 */
import {execFileSync} from 'node:child_process';
import {symlinkSync, writeFileSync} from 'node:fs';
import {join} from 'node:path';
import {OPTIONS, type OptionSpec} from '../../src/options.js';

/** Makes the FIFO, the device links and the include loop the generated files point at, in `dir`. */
export function prepareSpecials(dir: string): void {
  execFileSync('mkfifo', [join(dir, 'fifo.ini')]);
  symlinkSync('/dev/zero', join(dir, 'zero.ini'));
  symlinkSync('/dev', join(dir, 'devdir.ini'));
  writeFileSync(join(dir, 'loop.ini'), `[uwsgi]\nini = ${join(dir, 'loop.ini')}\n`);
}

/** mulberry32: a small seeded PRNG, so every run generates the same files. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

let random = prng(14);
const int = (n: number) => Math.floor(random() * n);
const pick = <T>(items: readonly T[]): T => items[int(items.length)]!;
const bytes = (n: number) => Buffer.from(Array.from({length: n}, () => int(256)));

/** Values that are wrong for some type, or odd for all of them. */
const BAD_VALUES = [
  '', '-1', '99999999999999999999', 'NaN', '1e309', '0x10', '+5', '1.5.5', 'true false', 'yes', '\u0000', 'a\u0000b',
  '%(nope)', '$(NOPE)', '@(/dev/zero)', '@(/nonexistent)', '%(%(%(x)))', '{{x}}', '"unterminated', '[', ']', '=', 'x'.repeat(70_000),
  'unix:', 'tcp://', 'tcp://:0', 'tcp://[::1', 'http://', 'https://', 'ftp://x', ':99999', '127.0.0.1:-1', 'SIGNOPE', 'running:-1',
  '/'.repeat(5000), '../../../../etc/shadow', '\u202e', '\ud800', '\x1b[2J',
];

/** One bad value in one key, as an ini line and as a TOML line. */
function badKeyFile(option: OptionSpec, format: 'ini' | 'toml'): string {
  const value = pick(BAD_VALUES);
  if (format === 'ini') return `[uwsgi]\n${option.name} = ${value}\n${random() < 0.5 ? 'exec = /bin/true\n' : 'http-socket = 127.0.0.1:0\nwsgi-file = app.py\n'}`;
  const toml = pick([JSON.stringify(value), String(int(1e9) - 5e8), 'true', '[1, "a", [2]]', '{ a = 1 }', '1979-05-27T07:32:00Z', '-inf', '""']);
  return `${option.name} = ${toml}\n${random() < 0.5 ? 'exec = ["/bin/true"]\n' : 'http-socket = "127.0.0.1:0"\nwsgi-file = "app.py"\n'}`;
}

/**
 * The generated files: [name, content], the same ones for the same seed. `dir` holds the FIFO, device links and
 * include loop that `prepareSpecials` makes, for includes to point at.
 */
export function* generatedVassalFiles(dir: string, seed = 14): Generator<[string, string | Buffer]> {
  random = prng(seed);
  const specials = [join(dir, 'fifo.ini'), join(dir, 'zero.ini'), join(dir, 'devdir.ini'), '/dev/zero', '/dev/null', '/proc/self/mem', dir, join(dir, 'loop.ini')];
  for (let i = 0; i < 200; i++) yield [`garbage${i}.${pick(['ini', 'toml'])}`, bytes(int(4096))];
  for (let i = 0; i < 100; i++) yield [`text${i}.${pick(['ini', 'toml'])}`, Array.from({length: int(200)}, () => pick(['[uwsgi]', '=', '[', '"', '\n', 'a', ' ', '%(', ')', '$(', '@(', '#', ';', '[[x]]', 'for =', 'endfor =', 'if-env =', 'endif ='])).join('')];
  for (let i = 0; i < 20; i++) yield [`deep${i}.toml`, `a = ${'['.repeat(1000 * (i + 1))}${']'.repeat(1000 * (i + 1))}\n`];
  for (let i = 0; i < 8; i++) yield [`deeptable${i}.toml`, `${Array.from({length: 200 * (i + 1)}, (_, k) => `[${'t.'.repeat(k % 50)}x${k}]\na = 1`).join('\n')}\n`];
  for (let i = 0; i < 40; i++) {
    const fan = 2 + int(8);
    const steps = 5 + int(30);
    const lines = ['[uwsgi]', `p0 = ${'A'.repeat(1 + int(64))}`];
    for (let k = 1; k <= steps; k++) lines.push(`p${k} = ${`%(p${k - 1})`.repeat(fan)}`);
    lines.push(`exec = echo %(p${steps})`);
    yield [`bomb${i}.ini`, lines.join('\n')];
  }
  for (let i = 0; i < 40; i++) {
    const lines = ['[uwsgi]', `set-ph = q0=${'B'.repeat(64)}`];
    for (let k = 1; k < 12; k++) lines.push(`set-ph = q${k}=${`%(q${k - 1})`.repeat(2 + int(6))}`);
    lines.push(`for = ${Array.from({length: 50}, (_, k) => `%(q${k % 12})`).join(' ')}`, 'env = X=%(_)', 'endfor =', 'exec = /bin/true');
    yield [`forbomb${i}.ini`, lines.join('\n')];
  }
  for (let i = 0; i < 60; i++) yield [`include${i}.ini`, `[uwsgi]\n${pick(['ini', 'include', 'inherit', 'exec'])} = ${pick(['', '@'])}${pick(specials)}\nexec = @(${pick(specials)})\n`];
  for (let i = 0; i < 5; i++) yield [`envbomb${i}.ini`, `[uwsgi]\n${Array.from({length: 2000}, (_, k) => `env = V${k}=$(V${k})$(HOME)$(HOME)`).join('\n')}\nexec = /bin/true\n`];
  for (const option of OPTIONS) {
    for (let i = 0; i < 3; i++) {
      yield [`bad-${option.name}-${i}.ini`, badKeyFile(option, 'ini')];
      yield [`bad-${option.name}-${i}.toml`, badKeyFile(option, 'toml')];
    }
  }
  yield ['huge.toml', `exec = ["/bin/true"]\n${'# padding\n'.repeat(200_000)}`];
  yield ['manykeys.ini', `[uwsgi]\n${'env = A=1\n'.repeat(50_000)}exec = /bin/true\n`];
  yield ['longline.ini', `[uwsgi]\nexec = ${'x'.repeat(2_000_000)}\n`];
}
