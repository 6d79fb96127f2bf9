/** Finding the emperor's own cgroups from /proc text, and vassal group names. */
import {describe, expect, it} from '@jest/globals';
import {existsSync, mkdirSync, readFileSync, writeFileSync} from 'node:fs';
import {join} from 'node:path';
import {Cgroups, EMPEROR_LEAF, cgroupName, detectCgroups, moveIntoLeaf} from '../../src/emperor/cgroups.js';
import {tempDir} from '../helpers/processes.js';

const V1_MOUNTINFO = `31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
33 31 0:30 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw`;

function fake(files: Record<string, string>): (path: string) => string | undefined {
  return (path) => files[path];
}

describe('detectCgroups', () => {
  it('finds our own v1 cgroup per controller (separate memory, cpu, cpuacct hierarchies)', () => {
    const read = fake({
      '/proc/self/cgroup': '4:memory:/process_api/abc\n2:cpuacct:/\n1:cpu:/\n0::/\n',
      '/proc/self/mountinfo': V1_MOUNTINFO,
    });
    expect(detectCgroups(read, true)).toEqual({kind: 'v1', memory: '/sys/fs/cgroup/memory/process_api/abc', cpu: '/sys/fs/cgroup/cpu', cpuacct: '/sys/fs/cgroup/cpuacct'});
  });

  it('handles co-mounted cpu,cpuacct and a mount whose root is our own cgroup (cgroup namespace)', () => {
    const read = fake({
      '/proc/self/cgroup': '3:memory:/docker/x\n2:cpu,cpuacct:/docker/x\n',
      '/proc/self/mountinfo': `1 0 0:1 /docker/x /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n2 0 0:2 /docker/x /sys/fs/cgroup/cpu,cpuacct rw - cgroup cgroup rw,cpu,cpuacct`,
    });
    expect(detectCgroups(read, true)).toEqual({kind: 'v1', memory: '/sys/fs/cgroup/memory', cpu: '/sys/fs/cgroup/cpu,cpuacct', cpuacct: '/sys/fs/cgroup/cpu,cpuacct'});
  });

  it('uses v2 when memory and cpu are available in our cgroup', () => {
    const read = fake({
      '/proc/self/cgroup': '0::/system.slice/kaiser.service\n',
      '/proc/self/mountinfo': '1 0 0:1 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw',
      '/sys/fs/cgroup/system.slice/kaiser.service/cgroup.controllers': 'cpuset cpu io memory pids\n',
    });
    expect(detectCgroups(read, true)).toEqual({kind: 'v2', dir: '/sys/fs/cgroup/system.slice/kaiser.service'});
  });

  it('says why cgroups cannot be used: not root, no controllers', () => {
    expect(detectCgroups(fake({'/proc/self/cgroup': '0::/\n', '/proc/self/mountinfo': V1_MOUNTINFO}), false)).toEqual({kind: 'none', reason: 'the emperor is not root'});
    const hybrid = fake({
      '/proc/self/cgroup': '0::/\n',
      '/proc/self/mountinfo': '41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw',
      '/sys/fs/cgroup/unified/cgroup.controllers': 'hugetlb\n',
    });
    expect(detectCgroups(hybrid, true)).toMatchObject({kind: 'none', reason: expect.stringContaining('without memory and cpu')});
  });
});

describe('cgroupName', () => {
  it('keeps safe vassal names and replaces the rest', () => {
    expect(cgroupName('shop.ini')).toBe('shop.ini');
    expect(cgroupName('a/b c.toml')).toBe('a_2fb_20c.toml');
    expect(cgroupName('..')).toBe('_2e.');
    expect(cgroupName('é.ini')).toBe('_c3_a9.ini');
  });

  it('never gives two vassals one group (issue 14: `a b.toml` and `a_b.toml` were one)', () => {
    const names = ['a b.toml', 'a_b.toml', 'a_20b.toml', 'a/b.toml', 'a.b.toml', '.a', '_2ea', 'x'.repeat(300), `${'x'.repeat(299)}y`];
    const groups = names.map(cgroupName);
    expect(new Set(groups).size).toBe(names.length);
    for (const group of groups) expect(group.length).toBeLessThanOrEqual(200);
  });
});

describe('cgroup v2 delegation (systemd Delegate=yes)', () => {
  /** A directory shaped like a delegated v2 group holding `pids` (plain files: each write replaces the content). */
  function delegatedGroup(pids: string): string {
    const dir = join(tempDir(), 'kaiser.service');
    mkdirSync(dir);
    writeFileSync(join(dir, 'cgroup.type'), 'domain\n');
    writeFileSync(join(dir, 'cgroup.procs'), pids);
    writeFileSync(join(dir, 'cgroup.controllers'), 'cpu io memory pids\n');
    writeFileSync(join(dir, 'cgroup.subtree_control'), '');
    return dir;
  }

  it('moves the processes of a populated group into the emperor leaf before enabling controllers for vassal groups', () => {
    const dir = delegatedGroup('4242\n');
    const opened = Cgroups.open({kind: 'v2', dir}, 4242);
    expect(opened).toBeInstanceOf(Cgroups);
    expect(readFileSync(join(dir, EMPEROR_LEAF, 'cgroup.procs'), 'utf8')).toBe('4242');
    expect(readFileSync(join(dir, 'cgroup.subtree_control'), 'utf8')).toBe('+memory +cpu');
    expect(existsSync(join(dir, 'kaiser-4242'))).toBe(true);
  });

  it('leaves an empty group and the root group (no cgroup.type) where they are', () => {
    const empty = delegatedGroup('');
    moveIntoLeaf(empty);
    expect(existsSync(join(empty, EMPEROR_LEAF))).toBe(false);
    const root = tempDir();
    writeFileSync(join(root, 'cgroup.procs'), '1\n');
    moveIntoLeaf(root);
    expect(existsSync(join(root, EMPEROR_LEAF))).toBe(false);
  });
});
