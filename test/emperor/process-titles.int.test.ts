/**
 * What `ps`, `top` and `pidof` see, read from /proc: the emperor is `kaiser` (comm) with the title `kaiser emperor
 * DIR`, the runtime host `kaiser host`, masters `kaiser master NAME`, workers `kaiser worker N NAME` (Python and
 * Node); `pidof kaiser` finds the emperor and no vassal process. A standalone server is `kaiser server NAME`, its
 * master `kaiser master NAME`, and it does not claim an emperor in its log.
 */
import {afterEach, describe, expect, it} from '@jest/globals';
import {spawnSync} from 'node:child_process';
import {existsSync, mkdirSync, readFileSync, writeFileSync} from 'node:fs';
import {join} from 'node:path';
import {ROOT, cleanupProcesses, freePort, processTree, publish, startKaiser, tempDir, waitFor, waitFor200} from '../helpers/processes.js';

afterEach(cleanupProcesses);

const HELLO = join(ROOT, 'test/fixtures/apps/hello.py');
const NODE_HELLO = join(ROOT, 'test/fixtures/node-apps/hello.mjs');
const PIDOF = ['/usr/bin/pidof', '/bin/pidof', '/sbin/pidof', '/usr/sbin/pidof'].find((path) => existsSync(path));

/** What ps shows: the command line with its NULs as spaces, trailing ones dropped. */
function title(pid: number): string {
  return readFileSync(`/proc/${pid}/cmdline`, 'latin1').replace(/\0+$/, '').replace(/\0/g, ' ');
}

function comm(pid: number): string {
  return readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
}

/** Titles of the processes below `pid` (its own excluded). */
function titlesBelow(pid: number): Map<number, string> {
  return new Map(processTree(pid).filter((p) => p !== pid && existsSync(`/proc/${p}`)).map((p) => [p, title(p)]));
}

describe('process titles', () => {
  it('names the emperor, the runtime host, masters and workers by role in /proc, and pidof kaiser finds the emperor alone', async () => {
    const dir = tempDir();
    const vassals = join(dir, 'vassals');
    mkdirSync(vassals);
    const ports = [await freePort(), await freePort(), await freePort()];
    publish(vassals, 'one.ini', `[uwsgi]\nhttp-socket = 127.0.0.1:${ports[0]}\nwsgi-file = ${HELLO}\nprocesses = 2\n`);
    publish(vassals, 'two.ini', `[uwsgi]\nhttp-socket = 127.0.0.1:${ports[1]}\nwsgi-file = ${HELLO}\n`);
    publish(vassals, 'web.ini', `[uwsgi]\nhttp-socket = 127.0.0.1:${ports[2]}\nnode-app = ${NODE_HELLO}\n`);
    const emperor = startKaiser(['--emperor', vassals, '--control', join(dir, 'c.sock')]);
    for (const port of ports) await waitFor200(port!, 20_000);

    expect(comm(emperor.pid)).toBe('kaiser');
    expect(title(emperor.pid)).toBe(`kaiser emperor ${vassals}`);
    const expected = ['kaiser host', 'kaiser master one.ini', 'kaiser worker 1 one.ini', 'kaiser worker 2 one.ini', 'kaiser master two.ini', 'kaiser worker 1 two.ini', 'kaiser master web.ini', 'kaiser worker 1 web.ini'];
    const below = await waitFor(() => {
      const titles = titlesBelow(emperor.pid);
      return expected.every((t) => [...titles.values()].includes(t)) && titles;
    }, 10_000, `the titles ${expected.join(', ')}`);
    for (const [pid, shown] of below) {
      if (!shown.startsWith('kaiser ')) continue;
      // comm is the title's first 15 bytes: never plain "kaiser", so SIGUSR2 to $(pidof kaiser) cannot hit a vassal.
      expect(comm(pid)).toBe(shown.slice(0, 15));
    }
    if (PIDOF) {
      const pids = spawnSync(PIDOF, ['kaiser'], {encoding: 'utf8'}).stdout.trim().split(/\s+/).map(Number);
      expect(pids).toContain(emperor.pid);
      for (const pid of below.keys()) expect(pids).not.toContain(pid);
    }
  }, 60_000);

  it('names a standalone server and its master, and its log claims no emperor', async () => {
    const dir = tempDir();
    const port = await freePort();
    const ini = join(dir, 'app.ini');
    writeFileSync(ini, `[uwsgi]\nhttp-socket = 127.0.0.1:${port}\nwsgi-file = ${HELLO}\nprocesses = 1\n`);
    const server = startKaiser([ini]);
    await waitFor200(port, 20_000);
    expect(comm(server.pid)).toBe('kaiser');
    expect(title(server.pid)).toBe('kaiser server app.ini');
    const titles = [...titlesBelow(server.pid).values()];
    expect(titles).toEqual(expect.arrayContaining(['kaiser master app.ini', 'kaiser worker 1 app.ini']));
    await server.waitForLine('spawned uWSGI worker 1');
    expect(server.output()).not.toContain('has_emperor');
  }, 60_000);
});
