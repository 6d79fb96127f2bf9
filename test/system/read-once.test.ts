/**
 * Reading a file a tenant controls (src/system/read-once.ts) on the real filesystem: one descriptor for type, size,
 * owner and content; a FIFO, a device, a directory or an oversize file is reported without being read (and without
 * blocking); a symlink is followed to its target and its own owner reported.
 */
import {afterEach, describe, expect, it} from '@jest/globals';
import {execFileSync} from 'node:child_process';
import {mkdirSync, symlinkSync, writeFileSync} from 'node:fs';
import {join} from 'node:path';
import {readOnce} from '../../src/system/read-once.js';
import {cleanupProcesses, tempDir, withDeadline} from '../helpers/processes.js';

afterEach(cleanupProcesses);

const LIMIT = 1024;

describe('readOnce', () => {
  it('reads a regular file, with type, size and owner from the same descriptor', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'a.toml'), 'exec = ["true"]\n');
    const read = await readOnce(join(dir, 'a.toml'), LIMIT);
    expect(read.kind).toBe('opened');
    if (read.kind !== 'opened') return;
    expect(read.text?.toString()).toBe('exec = ["true"]\n');
    expect(read.stat).toMatchObject({type: 'file', isFile: true, size: 16, uid: process.getuid!()});
    expect(read.link).toBeUndefined();
  });

  it('reports a FIFO without blocking on it and without reading it', async () => {
    const dir = tempDir();
    execFileSync('mkfifo', [join(dir, 'trap.ini')]);
    // No writer ever opens it: a blocking open or read would never settle.
    const read = await withDeadline(readOnce(join(dir, 'trap.ini'), LIMIT), 2_000, () => 'readOnce of a FIFO');
    expect(read).toMatchObject({kind: 'opened', stat: {type: 'fifo'}});
    expect(read.kind === 'opened' && read.text).toBeFalsy();
  });

  it('never opens a device behind a symlink (/dev/zero) nor reads a directory behind one', async () => {
    const dir = tempDir();
    symlinkSync('/dev/zero', join(dir, 'zero.toml'));
    symlinkSync('/etc', join(dir, 'etc.toml'));
    const zero = await readOnce(join(dir, 'zero.toml'), LIMIT);
    expect(zero).toMatchObject({kind: 'opened', stat: {type: 'character-device'}, link: {uid: process.getuid!()}});
    expect(zero.kind === 'opened' && zero.text).toBeFalsy();
    const etc = await readOnce(join(dir, 'etc.toml'), LIMIT);
    expect(etc).toMatchObject({kind: 'opened', stat: {type: 'directory'}});
  });

  it('reads nothing of a file over the limit, and catches one that grows past it', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'big.toml'), 'x'.repeat(LIMIT + 1));
    const big = await readOnce(join(dir, 'big.toml'), LIMIT);
    expect(big).toMatchObject({kind: 'opened', stat: {size: LIMIT + 1}});
    expect(big.kind === 'opened' && big.text).toBeFalsy();
    // A file exactly at the limit is read whole.
    writeFileSync(join(dir, 'edge.toml'), 'y'.repeat(LIMIT));
    const edge = await readOnce(join(dir, 'edge.toml'), LIMIT);
    expect(edge.kind === 'opened' && edge.text?.length).toBe(LIMIT);
  });

  it('follows a symlink to its target, reporting the link owner beside the target stat', async () => {
    const dir = tempDir();
    mkdirSync(join(dir, 'app'));
    writeFileSync(join(dir, 'app', 'uwsgi.ini'), '[uwsgi]\nprocesses = 2\n');
    symlinkSync(join(dir, 'app', 'uwsgi.ini'), join(dir, 'app.ini'));
    const read = await readOnce(join(dir, 'app.ini'), LIMIT);
    expect(read).toMatchObject({kind: 'opened', stat: {type: 'file'}, link: {uid: process.getuid!()}});
    expect(read.kind === 'opened' && read.text?.toString()).toBe('[uwsgi]\nprocesses = 2\n');
  });

  it('counts a missing name and a symlink to nothing as missing', async () => {
    const dir = tempDir();
    symlinkSync(join(dir, 'nowhere'), join(dir, 'dangling.toml'));
    expect(await readOnce(join(dir, 'dangling.toml'), LIMIT)).toEqual({kind: 'missing'});
    expect(await readOnce(join(dir, 'absent.toml'), LIMIT)).toEqual({kind: 'missing'});
  });
});
