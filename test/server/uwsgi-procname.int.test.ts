/**
 * uWSGI's process titles (issue 15): the same ini (procname-prefix-spaced + auto-procname, 2 workers; and
 * procname-master + procname + procname-append) under kaiser and real uWSGI 2.0 must show the same titles in `ps`
 * (/proc/PID/cmdline) for the master and its workers. Skipped where uWSGI is not installed.
 */
import {afterAll, describe, expect, it} from '@jest/globals';
import {existsSync, readFileSync, writeFileSync} from 'node:fs';
import {join} from 'node:path';
import {cleanupProcesses, processTree, startKaiser, startProcess, tempDir, waitFor, type Started} from '../helpers/processes.js';
import {UWSGI, exchange, hasUwsgiPlugin} from '../workers/plugins/rig.js';

const APP = join(process.cwd(), 'test/fixtures/apps/logging.py');
const maybe = hasUwsgiPlugin('python3') ? describe : describe.skip;

function cmdline(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'latin1').replace(/\0+$/, '').replace(/\0/g, ' ');
  } catch {
    return '';
  }
}

/** The titles of `server`'s processes that match `pattern`, once there are `count` of them. */
function titles(server: Started, pattern: RegExp, count: number): Promise<string[]> {
  return waitFor(() => {
    const found = processTree(server.child.pid ?? 0).map(cmdline).filter((t) => pattern.test(t)).sort();
    return found.length >= count ? found : undefined;
  }, 30_000, `${count} processes titled ${pattern}`);
}

async function run(dir: string, name: string, options: string, start: (ini: string, dir: string) => Started, pattern: RegExp): Promise<string[]> {
  const sock = join(dir, `${name}.sock`);
  const ini = join(dir, `${name}.ini`);
  writeFileSync(ini, `[uwsgi]\nwsgi-file = ${APP}\nhttp-socket = ${sock}\nmaster = true\nprocesses = 2\n${options}`);
  const server = start(ini, dir);
  await waitFor(async () => (existsSync(sock) ? exchange({path: sock}, 'GET / HTTP/1.0\r\n\r\n').then(() => true, () => false) : false), 30_000, `${name} answering`);
  return titles(server, pattern, 3);
}

const kaiser = (ini: string, dir: string) => startKaiser(['--ini', ini], {cwd: dir});
const uwsgi = (ini: string, dir: string) => startProcess(UWSGI, ['--plugin', 'python3', '--die-on-term', '--ini', ini], {cwd: dir});

maybe('uWSGI process titles, compared with uWSGI', () => {
  afterAll(cleanupProcesses);

  it('procname-prefix-spaced with auto-procname', async () => {
    const dir = tempDir('kaiser-procname-');
    const options = 'procname-prefix-spaced = shop\nauto-procname = true\n';
    const k = await run(dir, 'k', options, kaiser, /^shop uWSGI/);
    const u = await run(dir, 'u', options, uwsgi, /^shop uWSGI/);
    expect(k).toEqual(['shop uWSGI master', 'shop uWSGI worker 1', 'shop uWSGI worker 2']);
    expect(u).toEqual(k);
  }, 90_000);

  it('procname-master, procname and procname-append', async () => {
    const dir = tempDir('kaiser-procname-');
    const options = 'procname-master = shop-master\nprocname = shop-worker\nprocname-append = -x\n';
    const k = await run(dir, 'k', options, kaiser, /^shop-/);
    const u = await run(dir, 'u', options, uwsgi, /^shop-/);
    expect(k).toEqual(['shop-master-x', 'shop-worker-x', 'shop-worker-x']);
    expect(u).toEqual(k);
  }, 90_000);
});
