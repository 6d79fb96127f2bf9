/** A standalone server's `logto` file and logrotate: SIGUSR2 to kaiser reopens the file; the master keeps serving. */
import {afterEach, describe, expect, it} from '@jest/globals';
import {existsSync, readFileSync, renameSync} from 'node:fs';
import {join} from 'node:path';
import {ROOT, cleanupProcesses, freePort, httpGet, isAlive, processTree, startKaiser, tempDir, waitFor, waitFor200} from '../helpers/processes.js';

afterEach(cleanupProcesses);

const HELLO = join(ROOT, 'test/fixtures/apps/hello.py');

describe('kaiser --logto (standalone)', () => {
  it('reopens its log file on SIGUSR2, as logrotate postrotate sends it, and the master lives on', async () => {
    const dir = tempDir();
    const log = join(dir, 'app.log');
    const port = await freePort();
    const server = startKaiser(['--http-socket', `127.0.0.1:${port}`, '--wsgi-file', HELLO, '--logto', log]);
    await waitFor200(port, 20_000);
    await waitFor(() => existsSync(log) && readFileSync(log, 'utf8').includes('GET /'), 10_000, 'the request line in app.log');
    const master = processTree(server.pid).find((pid) => pid !== server.pid);
    renameSync(log, `${log}.1`);
    server.signal('SIGUSR2');
    await waitFor(() => existsSync(log), 10_000, 'a new app.log');
    expect((await httpGet(port))?.status).toBe(200);
    await waitFor(() => readFileSync(log, 'utf8').includes('GET /'), 10_000, 'the next request line in the new app.log');
    expect(master !== undefined && isAlive(master)).toBe(true);
  }, 60_000);
});
