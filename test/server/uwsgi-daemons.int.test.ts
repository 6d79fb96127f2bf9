/**
 * Managed helpers (issue 15) under kaiser and under real uWSGI 2.0 from the same ini: an `attach-daemon` runs, is
 * respawned when killed and restarted by a graceful reload; a `smart-attach-daemon` (a command that forks into the
 * background and writes its pidfile) keeps running across the reload; a `cron = -1 -1 -1 -1 -1` job runs when the
 * master starts (uWSGI's measured behaviour). Stopping kaiser ends both daemons. Reload and stop go through the
 * master FIFO (`r`, `q`), which both servers read. The uWSGI half is skipped where uWSGI is not installed.
 */
import {afterAll, describe, expect, it} from '@jest/globals';
import {existsSync, readFileSync, writeFileSync} from 'node:fs';
import {join} from 'node:path';
import {cleanupProcesses, isAlive, startKaiser, startProcess, tempDir, waitFor, type Started} from '../helpers/processes.js';
import {UWSGI, hasUwsgiPlugin} from '../workers/plugins/rig.js';

const APP = join(process.cwd(), 'test/fixtures/apps/logging.py');

function pidIn(file: string): number | undefined {
  if (!existsSync(file)) return undefined;
  const pid = Number(readFileSync(file, 'utf8').trim());
  return pid > 1 ? pid : undefined;
}

/** A pid in `file` other than `not`, once a live process has it. */
function newPid(file: string, not: number | undefined, what: string): Promise<number> {
  return waitFor(() => {
    const pid = pidIn(file);
    return pid !== undefined && pid !== not && isAlive(pid) ? pid : undefined;
  }, 30_000, what);
}

function ini(dir: string): string {
  return [
    '[uwsgi]',
    `wsgi-file = ${APP}`,
    `http-socket = ${join(dir, 'http.sock')}`,
    'master = true',
    `master-fifo = ${join(dir, 'fifo')}`,
    `attach-daemon = echo $$ > ${join(dir, 'legacy.pid')}; exec sleep 1000`,
    `smart-attach-daemon = ${join(dir, 'smart.pid')} sleep 1000 & echo $! > ${join(dir, 'smart.pid')}`,
    `cron = -1 -1 -1 -1 -1 echo ran >> ${join(dir, 'cron.out')}`,
    '',
  ].join('\n');
}

/** Runs the scenario against a server started by `start`; returns the daemons' last pids. */
async function scenario(dir: string, start: () => Started): Promise<{server: Started; legacy: number; smart: number}> {
  writeFileSync(join(dir, 'app.ini'), ini(dir));
  const server = start();
  const legacy = await newPid(join(dir, 'legacy.pid'), undefined, 'the attach-daemon');
  const smart = await newPid(join(dir, 'smart.pid'), undefined, 'the smart-attach-daemon');
  await waitFor(() => existsSync(join(dir, 'cron.out')), 30_000, 'the cron job at start');
  await waitFor(() => existsSync(join(dir, 'fifo')), 30_000, 'the master FIFO');
  process.kill(legacy, 'SIGKILL');
  const respawned = await newPid(join(dir, 'legacy.pid'), legacy, 'the attach-daemon respawned');
  writeFileSync(join(dir, 'fifo'), 'r');
  const reloaded = await newPid(join(dir, 'legacy.pid'), respawned, 'the attach-daemon restarted by the reload');
  expect(isAlive(respawned)).toBe(false);
  expect(pidIn(join(dir, 'smart.pid'))).toBe(smart);
  expect(isAlive(smart)).toBe(true);
  return {server, legacy: reloaded, smart};
}

describe('managed helpers', () => {
  afterAll(cleanupProcesses);

  it('kaiser: attach-daemon respawned and reloaded, smart-attach-daemon kept, cron at start, all ended with the vassal', async () => {
    const dir = tempDir('kaiser-daemons-');
    const {server, legacy, smart} = await scenario(dir, () => startKaiser(['--ini', join(dir, 'app.ini')], {cwd: dir}));
    writeFileSync(join(dir, 'fifo'), 'q');
    await server.exited;
    await waitFor(() => !isAlive(legacy) && !isAlive(smart), 15_000, 'both daemons gone with the vassal');
  }, 120_000);

  (hasUwsgiPlugin('python3') ? it : it.skip)('uWSGI does the same', async () => {
    const dir = tempDir('kaiser-daemons-uwsgi-');
    const {server, legacy} = await scenario(dir, () => startProcess(UWSGI, ['--plugin', 'python3', '--ini', join(dir, 'app.ini')], {cwd: dir}));
    writeFileSync(join(dir, 'fifo'), 'q');
    await server.exited;
    await waitFor(() => !isAlive(legacy), 15_000, 'the attach-daemon gone with uWSGI');
    const smart = pidIn(join(dir, 'smart.pid'));
    if (smart !== undefined && isAlive(smart)) process.kill(smart, 'SIGKILL'); // uWSGI may leave it running
  }, 120_000);
});
