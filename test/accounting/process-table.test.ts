import {spawn} from 'node:child_process';
import {readFileSync} from 'node:fs';
import {sampleSessions} from '../../src/accounting/process-table.js';
import {waitFor} from '../helpers/processes.js';

/** What /proc says about one process, read the plain way (split the line) to check the sampler against. */
function procStat(pid: number): {session: number; ticks: number; rssPages: number} {
  const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  return {session: Number(fields[3]), ticks: Number(fields[11]) + Number(fields[12]), rssPages: Number(fields[21])};
}

function childrenOf(pid: number): number[] {
  return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').split(' ').filter(Boolean).map(Number);
}

describe('sampleSessions', () => {
  it('sums CPU ticks, RSS and processes of a whole session, matching /proc', async () => {
    // A session leader (a name with spaces and parentheses, which the parser must skip) that burns some CPU and
    // leaves a sleeping child; then both sleep, so their figures hold still while we compare.
    const script = 'i=0; while [ $i -lt 100000 ]; do i=$((i+1)); done; sleep 60 & exec sleep 60';
    const leader = spawn('/bin/sh', ['-c', script, 'odd (name) x'], {detached: true, stdio: 'ignore'});
    const pid = leader.pid!;
    try {
      const child = await waitFor(() => {
        const kids = childrenOf(pid);
        return kids.length === 1 && readFileSync(`/proc/${pid}/cmdline`, 'utf8').startsWith('sleep') ? kids[0] : undefined;
      }, 10_000, 'the leader to exec sleep next to its sleeping child');
      // Just after its exec, sleep is still faulting its pages in: compare once /proc reads the same before and
      // after a sample (the figures hold still), so a sampler that reads the wrong fields still fails.
      const settled = await waitFor(async () => {
        const before = [procStat(pid), procStat(child)];
        const usage = (await sampleSessions(new Set([pid, 999_999_999]))).get(pid);
        const after = [procStat(pid), procStat(child)];
        return JSON.stringify(before) === JSON.stringify(after) ? {usage, expected: after} : undefined;
      }, 10_000, 'the figures of the two sleeping processes to hold still');
      const {usage, expected} = settled;
      expect(expected.every((p) => p.session === pid)).toBe(true);
      const ticks = expected.reduce((sum, p) => sum + p.ticks, 0);
      const pages = expected.reduce((sum, p) => sum + p.rssPages, 0);
      expect(usage).toEqual({processes: 2, cpuSeconds: expect.closeTo(ticks / 100, 5), rssBytes: pages * 4096});
      expect(usage!.cpuSeconds).toBeGreaterThan(0);
    } finally {
      try {
        process.kill(-pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  });

  it('returns nothing for sessions that do not exist', async () => {
    expect((await sampleSessions(new Set([999_999_999]))).size).toBe(0);
  });
});
