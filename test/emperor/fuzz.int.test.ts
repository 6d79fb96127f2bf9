/**
 * Fuzzing a running emperor (issue 14's proof): over a thousand generated hostile vassal files (test/helpers/
 * vassal-fuzz.ts: garbage, binary, huge, deep, bombs, includes of FIFOs and devices, a bad value in every key), plus a
 * FIFO, a /dev/zero link and a directory link named like vassal files, are dropped into the directory of an emperor
 * while a healthy vassal answers continuous requests. The emperor must look at every file and survive, the healthy
 * vassal must answer every request with the same process, and the emperor's RSS must stay bounded; then every
 * hostile file is removed and the emperor is back to one vassal. The figures are printed for the README.
 *
 * Files that parse are pointed at a program that does not exist (instead of /bin/true or a Python app), so they fail
 * to spawn and back off without a thousand processes on a 2-core machine; what is under test is the emperor.
 */
import {afterEach, describe, expect, it} from '@jest/globals';
import {execFileSync} from 'node:child_process';
import {readFileSync, rmSync, symlinkSync, unlinkSync} from 'node:fs';
import {join} from 'node:path';
import {PYTHON, ROOT, cleanupProcesses, emperorStats, freePort, getAsHost, isAlive, publish, startKaiser, tempDir, waitFor} from '../helpers/processes.js';
import {generatedVassalFiles, prepareSpecials} from '../helpers/vassal-fuzz.js';

const SERVER = join(ROOT, 'test/fixtures/procs/http-server.py');
const NOWHERE = '/nonexistent/kaiser-fuzz';

afterEach(cleanupProcesses);

/** The generated text with its runnable commands pointed nowhere (see the header). */
function neutralised(text: string | Buffer): string | Buffer {
  if (typeof text !== 'string') return text;
  return text
    .replaceAll('http-socket = 127.0.0.1:0\nwsgi-file = app.py', `exec = ${NOWHERE}`)
    .replaceAll('http-socket = "127.0.0.1:0"\nwsgi-file = "app.py"', `exec = ["${NOWHERE}"]`)
    .replaceAll('/bin/true', NOWHERE);
}

function rssKiB(pid: number): number {
  const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return match ? Number(match[1]) : 0;
}

describe('emperor under fuzzed vassal files', () => {
  it('looks at 1000+ hostile files while a healthy vassal serves: no exit, no failed request, bounded RSS', async () => {
    const dir = tempDir();
    const specials = tempDir('kaiser-fuzz-specials-');
    prepareSpecials(specials);
    const [port, statsPort] = [await freePort(), await freePort()];
    publish(dir, 'healthy.toml', `exec = ["${PYTHON}", "${SERVER}", "${port}"]\nready = "tcp://127.0.0.1:${port}"\n`);
    const k = startKaiser(['--emperor', dir, '--emperor-stats', `127.0.0.1:${statsPort}`, '--control', join(dir, 'control.sock')]);
    await k.waitForLine('vassal healthy.toml is ready', 15_000);
    const healthyPid = (await emperorStats<{id: string; pid: number}>(statsPort)).vassals.find((v) => v.id === 'healthy.toml')?.pid;
    const startRss = rssKiB(k.pid);

    let served = 0;
    const failures: string[] = [];
    let requesting = true;
    const requests = (async () => {
      // A fresh connection per request (no client pool to reuse a socket the server closed); a failure says why.
      while (requesting) {
        const answer = await getAsHost(port, 'healthy.test').catch((error: Error) => error);
        if (answer instanceof Error) failures.push(`no answer: ${answer.message}`);
        else if (answer.status === 200) served += 1;
        else failures.push(`status ${answer.status}`);
      }
    })();
    let peakRss = startRss;
    const sampler = setInterval(() => {
      if (isAlive(k.pid)) peakRss = Math.max(peakRss, rssKiB(k.pid));
    }, 50);

    const names: string[] = [];
    try {
      for (const [name, text] of generatedVassalFiles(specials)) {
        publish(dir, name, neutralised(text));
        names.push(name);
      }
      execFileSync('mkfifo', [join(dir, 'fifo-vassal.ini')]);
      symlinkSync('/dev/zero', join(dir, 'zero-vassal.toml'));
      symlinkSync('/dev', join(dir, 'dir-vassal.ini'));
      names.push('fifo-vassal.ini', 'zero-vassal.toml', 'dir-vassal.ini');

      // Every file has been looked at once the stats list a vassal (ready, invalid, backing off…) for each.
      await waitFor(async () => {
        const stats = await emperorStats<{id: string}>(statsPort).catch(() => undefined);
        return stats !== undefined && stats.vassals.length >= names.length + 1;
      }, 240_000, `the emperor to list ${names.length + 1} vassals`);
      expect(isAlive(k.pid)).toBe(true);

      for (const name of names) unlinkSync(join(dir, name));
      await waitFor(async () => {
        const stats = await emperorStats<{id: string}>(statsPort).catch(() => undefined);
        return stats?.vassals.length === 1;
      }, 240_000, 'the hostile vassals to be gone');
    } finally {
      requesting = false;
      await requests;
      clearInterval(sampler);
      rmSync(specials, {recursive: true, force: true});
    }

    const healthy = (await emperorStats<{id: string; pid: number; state: string}>(statsPort)).vassals.find((v) => v.id === 'healthy.toml');
    expect(isAlive(k.pid)).toBe(true);
    expect(healthy).toMatchObject({pid: healthyPid, state: 'ready'});
    expect(failures).toEqual([]);
    expect(served).toBeGreaterThan(0);
    // Bounded, not timed: a runaway expansion or an unbounded read costs gigabytes (2.2 GB before the fix).
    expect(peakRss).toBeLessThan(512 * 1024);
    process.stdout.write(`fuzz: ${names.length} hostile files, ${served} requests served, 0 failed; emperor RSS ${Math.round(startRss / 1024)} MiB at start, peak ${Math.round(peakRss / 1024)} MiB\n`);
  }, 600_000);
});
