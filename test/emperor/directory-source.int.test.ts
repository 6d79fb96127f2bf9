/**
 * The vassal directory against hostile entries, on the real file system (issue 14): FIFOs named `*.ini` used to
 * block libuv's file-system threads in `readFile` (four of them blocked every thread, so no file was ever read
 * again), and a symlink to `/dev/zero` named `*.toml` was read without bound. Each is now an invalid vassal with a
 * clear error, read never, and the files dropped after them are read and defined as usual.
 */
import {afterEach, describe, expect, it} from '@jest/globals';
import {execFileSync} from 'node:child_process';
import {mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync} from 'node:fs';
import {tmpdir} from 'node:os';
import {join} from 'node:path';
import winston from 'winston';
import type {DefaultsFile, VassalDefinition, VassalSink} from '../../src/emperor/definition.js';
import {DirectorySource} from '../../src/emperor/directory-source.js';
import {realSystem} from '../../src/system/real-system.js';

/** A sink that records the last definition of each name and lets a test wait for one. */
class RecordingSink implements VassalSink {
  readonly defs = new Map<string, VassalDefinition>();
  readonly #waiters: {name: string; resolve: (def: VassalDefinition) => void}[] = [];

  async define(name: string, def: VassalDefinition): Promise<void> {
    this.defs.set(name, def);
    for (const waiter of this.#waiters.filter((w) => w.name === name)) waiter.resolve(def);
  }
  async undefine(name: string): Promise<void> {
    this.defs.delete(name);
  }
  async defineDefaults(_file: DefaultsFile | undefined): Promise<void> {}
  registerSource(): void {}

  /** The definition of `name`, once there is one. */
  definitionOf(name: string): Promise<VassalDefinition> {
    const known = this.defs.get(name);
    if (known) return Promise.resolve(known);
    return new Promise((resolve) => this.#waiters.push({name, resolve}));
  }
}

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function watched(dir: string): Promise<RecordingSink> {
  const sink = new RecordingSink();
  const source = new DirectorySource({dir, sys: realSystem(), log: winston.createLogger({silent: true}), rescanMs: 200});
  await source.start(sink);
  cleanups.push(() => source.close());
  return sink;
}

describe('the vassal directory with hostile entries (real file system)', () => {
  it('refuses FIFOs and a symlink to /dev/zero unread, and goes on reading the files dropped after them', async () => {
    const root = mkdtempSync(join(tmpdir(), 'kaiser-dir-'));
    cleanups.push(() => rmSync(root, {recursive: true, force: true}));
    const dir = join(root, 'vassals');
    mkdirSync(dir);
    // More FIFOs than libuv has threads (4 by default): each blocking read took one thread for good.
    const fifos = Array.from({length: 6}, (_, i) => `trap${i}.ini`);
    for (const name of fifos) execFileSync('mkfifo', [join(dir, name)]);
    symlinkSync('/dev/zero', join(dir, 'zero.toml'));
    symlinkSync('/dev', join(dir, 'devdir.toml'));
    const sink = await watched(dir);
    for (const name of fifos) expect((await sink.definitionOf(name)).error).toMatch(new RegExp(`${name}: error KAISER_CONFIG_NOT_A_FILE .* is a FIFO, not a regular file`));
    expect((await sink.definitionOf('zero.toml')).error).toMatch(/zero\.toml: error KAISER_CONFIG_NOT_A_FILE .* is a character device/);
    expect((await sink.definitionOf('devdir.toml')).error).toMatch(/devdir\.toml: error KAISER_CONFIG_NOT_A_FILE .* is a directory/);
    // A file dropped afterwards (and rescans) are still read.
    writeFileSync(join(dir, 'late.toml'), 'exec = ["sleep", "1"]\n');
    const late = await sink.definitionOf('late.toml');
    expect(late.error).toBeUndefined();
    expect(late.text.toString()).toBe('exec = ["sleep", "1"]\n');
  });

  it('refuses a file over the size limit without reading it', async () => {
    const root = mkdtempSync(join(tmpdir(), 'kaiser-dir-'));
    cleanups.push(() => rmSync(root, {recursive: true, force: true}));
    writeFileSync(join(root, 'huge.toml'), Buffer.alloc(2 * 1024 * 1024, 0x20));
    const sink = await watched(root);
    expect((await sink.definitionOf('huge.toml')).error).toMatch(/KAISER_CONFIG_TOO_LARGE config file is 2097152 bytes, larger than the 1048576-byte limit/);
  });
});
