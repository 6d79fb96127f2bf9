/**
 * The `uwsgi` module (issue 15): the same app (uwsgi-module.py, which reads uwsgi.opt, worker_id(), numproc,
 * masterpid(), started_on, total_requests(), request_id(), set_logvar/get_logvar, log) under kaiser and under real
 * uWSGI 2.0 from the same ini file must report the same. Skipped where uWSGI is not installed.
 */
import {afterAll, describe, expect, it} from '@jest/globals';
import {mkdtempSync, writeFileSync} from 'node:fs';
import {tmpdir} from 'node:os';
import {join} from 'node:path';
import {cleanupProcesses} from '../helpers/processes.js';
import {exchange, hasUwsgiPlugin, startKaiserApp, startUwsgiApp} from '../workers/plugins/rig.js';

const APP = join(process.cwd(), 'test/fixtures/apps/uwsgi-module.py');
const maybe = hasUwsgiPlugin('python3') ? describe : describe.skip;

maybe('the uwsgi module, compared with uWSGI', () => {
  afterAll(cleanupProcesses);

  it('tells the app the same about its options and its process', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'kaiser-uwsgi-module-'));
    const ini = join(dir, 'app.ini');
    writeFileSync(ini, `[uwsgi]\nproject = myapp\nenv = A=1\nenv = B=2\nwsgi-file = ${APP}\nprocesses = 1\nmaster\n`);
    const kaiser = await startKaiserApp(['--ini', ini], dir);
    const uwsgi = await startUwsgiApp(['--plugin', 'python3', '--ini', ini], dir);
    const ask = async (target: Parameters<typeof exchange>[0]) => JSON.parse((await exchange(target, 'GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n')).body.toString()) as Record<string, unknown>;
    // uWSGI's rig knocked once already: knock on kaiser once too, so the next request is the second in both.
    await ask(kaiser.target);
    const [k, u] = [await ask(kaiser.target), await ask(uwsgi.target)];
    expect(k).toEqual(u);
    expect(k).toMatchObject({opt_project: 'myapp', opt_env: 'B=2', opt_master: '', numproc: 1, logvar: 'app'});
  }, 60_000);
});
