/** A vassal's logto file: rotation by size and by time (log-rotate), gzipped backups (log-compress), reopening. */
import {afterEach, describe, expect, it} from '@jest/globals';
import {existsSync, readFileSync, renameSync, rmSync, utimesSync, writeFileSync} from 'node:fs';
import {join} from 'node:path';
import {gunzipSync} from 'node:zlib';
import {periodStart, VassalLogFile, type VassalLogOptions} from '../../src/log/vassal-log-file.js';
import {tempDir} from '../helpers/processes.js';

const open: VassalLogFile[] = [];
afterEach(() => {
  for (const file of open.splice(0)) file.close();
});

function logFile(options: Omit<VassalLogOptions, 'path'> & {path?: string}): {file: VassalLogFile; path: string; errors: Error[]} {
  const path = options.path ?? join(tempDir(), 'app.log');
  const errors: Error[] = [];
  const file = new VassalLogFile({...options, path}, (error) => errors.push(error));
  open.push(file);
  return {file, path, errors};
}

const read = (path: string) => readFileSync(path, 'utf8');
/** 2026-03-10 (a Tuesday) at HH:MM, local time. */
const at = (day: number, hour: number, minute = 0) => new Date(2026, 2, day, hour, minute).getTime();

describe('periodStart', () => {
  it('starts hours, days and weeks (on Monday) in local time', () => {
    expect(periodStart('hourly', at(10, 14, 35))).toBe(at(10, 14));
    expect(periodStart('daily', at(10, 14, 35))).toBe(at(10, 0));
    expect(periodStart('weekly', at(10, 14, 35))).toBe(at(9, 0));
    expect(periodStart('weekly', at(15, 23, 59))).toBe(at(9, 0));
    expect(periodStart('weekly', at(16, 0, 1))).toBe(at(16, 0));
  });
});

describe('VassalLogFile', () => {
  it('rotates by size, keeping log-backups files newest first', () => {
    const {file, path} = logFile({maxBytes: 10, backups: 2});
    for (const line of ['one', 'two', 'three', 'four', 'five']) file.write(line);
    expect(read(path)).toBe('four\nfive\n');
    expect(read(`${path}.1`)).toBe('three\n');
    expect(read(`${path}.2`)).toBe('one\ntwo\n');
    expect(existsSync(`${path}.3`)).toBe(false);
  });

  it('rotates daily at the first line of a new day, not before, and never an empty file', () => {
    let now = at(10, 23, 58);
    const {file, path} = logFile({maxBytes: 0, backups: 3, every: 'daily', now: () => now});
    file.write('late on the 10th');
    now = at(10, 23, 59);
    file.write('last of the 10th');
    expect(existsSync(`${path}.1`)).toBe(false);
    now = at(11, 0, 1);
    file.write('first of the 11th');
    expect(read(`${path}.1`)).toBe('late on the 10th\nlast of the 10th\n');
    expect(read(path)).toBe('first of the 11th\n');
    now = at(13, 9);
    file.write('the 13th');
    expect(read(`${path}.2`)).toBe('late on the 10th\nlast of the 10th\n');
    expect(read(`${path}.1`)).toBe('first of the 11th\n');
  });

  it('dates the lines an existing file holds by its last write, so a restart past midnight rotates it', () => {
    const dir = tempDir();
    const path = join(dir, 'app.log');
    writeFileSync(path, 'from yesterday\n');
    const yesterday = new Date(at(10, 22));
    utimesSync(path, yesterday, yesterday);
    const {file} = logFile({path, maxBytes: 0, backups: 1, every: 'daily', now: () => at(11, 8)});
    file.write('today');
    expect(read(`${path}.1`)).toBe('from yesterday\n');
    expect(read(path)).toBe('today\n');
  });

  it('gzips rotated files with log-compress, in the background, and shifts the .gz files', async () => {
    let now = at(10, 10);
    const {file, path, errors} = logFile({maxBytes: 0, backups: 2, every: 'hourly', compress: true, now: () => now});
    file.write('ten o clock');
    now = at(10, 11);
    file.write('eleven o clock');
    await file.settled();
    expect(existsSync(`${path}.1`)).toBe(false);
    expect(gunzipSync(readFileSync(`${path}.1.gz`)).toString()).toBe('ten o clock\n');
    now = at(10, 12);
    file.write('noon');
    await file.settled();
    expect(gunzipSync(readFileSync(`${path}.2.gz`)).toString()).toBe('ten o clock\n');
    expect(gunzipSync(readFileSync(`${path}.1.gz`)).toString()).toBe('eleven o clock\n');
    expect(read(path)).toBe('noon\n');
    expect(errors).toEqual([]);
  });

  it('reopens a file moved away by logrotate', () => {
    const {file, path} = logFile({maxBytes: 0, backups: 1});
    file.write('before');
    renameSync(path, `${path}.old`);
    file.reopenIfMoved();
    file.write('after');
    expect(read(`${path}.old`)).toBe('before\n');
    expect(read(path)).toBe('after\n');
    rmSync(`${path}.old`);
  });

  it('tells whether another rotation setting needs a new file', () => {
    const {file} = logFile({maxBytes: 0, backups: 5});
    expect(file.rotatesLike({maxBytes: 0, backups: 5})).toBe(true);
    expect(file.rotatesLike({maxBytes: 0, backups: 5, every: 'daily'})).toBe(false);
    expect(file.rotatesLike({maxBytes: 0, backups: 5, compress: true})).toBe(false);
  });
});
