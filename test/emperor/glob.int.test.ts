/** `kaiser --emperor 'DIR/*.ini'` (uWSGI's glob monitor): only the matching files of DIR are vassals. */
import {afterEach, describe, expect, it} from '@jest/globals';
import {spawnSync} from 'node:child_process';
import {join} from 'node:path';
import {KAISER_BIN, PYTHON, ROOT, cleanupProcesses, freePort, publish, startKaiser, tempDir, waitFor200} from '../helpers/processes.js';

afterEach(cleanupProcesses);

const HELLO = join(ROOT, 'test/fixtures/apps/hello.py');
const SERVER = join(ROOT, 'test/fixtures/procs/http-server.py');

describe('--emperor with a glob', () => {
  it('governs the files matching the glob and leaves the others alone', async () => {
    const dir = tempDir();
    const control = join(dir, 'c.sock');
    const [iniPort, tomlPort] = [await freePort(), await freePort()];
    publish(dir, 'app.ini', `[uwsgi]\nhttp-socket = 127.0.0.1:${iniPort}\nwsgi-file = ${HELLO}\n`);
    publish(dir, 'other.toml', `exec = ["${PYTHON}", "${SERVER}", "${tomlPort}"]\nready = "tcp://127.0.0.1:${tomlPort}"\n`);
    const emperor = startKaiser(['--emperor', join(dir, '*.ini'), '--control', control]);
    await waitFor200(iniPort!, 20_000);
    await emperor.waitForLine('control socket on');
    const ls = spawnSync(process.execPath, [KAISER_BIN, 'ls', '--json', '--control', control], {encoding: 'utf8'});
    expect((JSON.parse(ls.stdout) as {name: string}[]).map((row) => row.name)).toEqual(['app.ini']);
    const status = spawnSync(process.execPath, [KAISER_BIN, 'status', '--json', '--control', control], {encoding: 'utf8'});
    expect((JSON.parse(status.stdout) as {dir: string}).dir).toBe(join(dir, '*.ini'));
  }, 60_000);

  it('refuses a glob over directories with a clear error', () => {
    const dir = tempDir();
    const result = spawnSync(process.execPath, [KAISER_BIN, '--emperor', join(dir, '*', 'app.ini')], {encoding: 'utf8', timeout: 20_000});
    expect(result.status).toBe(2);
    expect(result.stderr).toContain('only the file name part may be a glob');
  });
});
