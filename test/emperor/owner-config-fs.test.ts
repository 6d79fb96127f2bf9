/**
 * Tyrant mode's view of the files a tenant's vassal file reads (src/emperor/owner-config-fs.ts), as the emperor's
 * own user on the real filesystem: a file is read whole, like the emperor's own config reading does it.
 */
import {describe, expect, it} from '@jest/globals';
import {readFileSync} from 'node:fs';
import {ownerConfigFs} from '../../src/emperor/owner-config-fs.js';
import {REAL_CONFIG_FS} from '../../src/config/config-fs.js';

const me = {uid: process.getuid!(), gid: process.getgid!()};

describe('ownerConfigFs', () => {
  it('reads a /proc file (fstat size 0) to its end, as without tyrant mode', () => {
    const path = '/proc/self/mountinfo';
    const read = ownerConfigFs(me).readFile(path, 1 << 20);
    expect(read.ok).toBe(true);
    if (!read.ok) return;
    expect(read.value.length).toBeGreaterThan(1);
    const plain = REAL_CONFIG_FS.readFile(path, 1 << 20);
    expect(plain.ok && plain.value.length > 1).toBe(true);
    expect(readFileSync(path).length).toBeGreaterThan(1);
  });

  it('says what a path is and lists a directory the owner may read', () => {
    const fs = ownerConfigFs(me);
    expect(fs.kindOf('/proc/self/mountinfo')).toBe('file');
    expect(fs.kindOf('/tmp')).toBe('dir');
    expect(fs.kindOf('/no/such/path')).toBeUndefined();
    expect(fs.listDir('/proc/self')).toContain('mountinfo');
    expect(fs.listDir('/no/such/path')).toBeUndefined();
  });
});
