/**
 * A vassal file with keys uWSGI would accept silently (piku's `project = myapp`) runs under the emperor, as under
 * uWSGI, and its warnings are visible: the emperor log, `kaiser ls` (table and --json), and the stats server. With
 * `strict = true` the same file is refused, naming the key.
 */
import {afterEach, describe, expect, it} from '@jest/globals';
import {spawnSync} from 'node:child_process';
import {join} from 'node:path';
import {KAISER_BIN, ROOT, cleanupProcesses, emperorStats, freePort, publish, startKaiser, tempDir, waitFor, waitFor200} from '../helpers/processes.js';

const HELLO = join(ROOT, 'test/fixtures/apps/hello.py');

afterEach(cleanupProcesses);

function kaiser(control: string, ...args: string[]): {status: number | null; stdout: string; stderr: string} {
  return spawnSync(process.execPath, [KAISER_BIN, ...args, '--control', control], {encoding: 'utf8', timeout: 20_000});
}

interface Row {
  name: string;
  state: string;
  lastError: string | null;
  warnings?: string[];
}

function rows(control: string): Row[] {
  return JSON.parse(kaiser(control, 'ls', '--json').stdout) as Row[];
}

describe('config warnings under the emperor', () => {
  it('runs a vassal with unknown keys and shows the warnings in the log, kaiser ls and stats', async () => {
    const dir = tempDir();
    const control = join(dir, 'control.sock');
    const [port, statsPort] = [await freePort(), await freePort()];
    publish(dir, 'piku.ini', `[uwsgi]\nproject = myapp\nhttp-socket = 127.0.0.1:${port}\nwsgi-file = ${HELLO}\nthunder-lock = true\nmax-fd = 2048\n`);
    const k = startKaiser(['--emperor', dir, '--control', control, '--emperor-stats', `127.0.0.1:${statsPort}`]);
    await k.waitForLine(/piku\.ini:2 \[uwsgi\] project: warning KAISER_CONFIG_UNKNOWN_KEY/, 15_000);
    await waitFor200(port, 15_000);

    const row = rows(control).find((r) => r.name === 'piku.ini');
    expect(row?.warnings).toEqual([
      expect.stringMatching(/piku\.ini:2 \[uwsgi\] project: warning KAISER_CONFIG_UNKNOWN_KEY unknown option "project".*ignored, as uWSGI ignores it/),
      expect.stringMatching(/piku\.ini:6 \[uwsgi\] max-fd: warning KAISER_CONFIG_NOT_APPLIED/),
    ]);
    const table = kaiser(control, 'ls').stdout;
    expect(table).toContain('WARNINGS');
    expect(table).toMatch(/piku\.ini .*project: unknown option "project".*\(\+1\)/);

    const stats = await emperorStats<{id: string; warnings: string[]}>(statsPort);
    expect(stats.vassals.find((v) => v.id === 'piku.ini')?.warnings).toHaveLength(2);
  });

  it('refuses the same file under strict = true, naming the key', async () => {
    const dir = tempDir();
    const control = join(dir, 'control.sock');
    const port = await freePort();
    publish(dir, 'strict.ini', `[uwsgi]\nstrict = true\nproject = myapp\nhttp-socket = 127.0.0.1:${port}\nwsgi-file = ${HELLO}\n`);
    const k = startKaiser(['--emperor', dir, '--control', control]);
    await k.waitForLine('control socket on');
    const refused = await waitFor(() => rows(control).find((r) => r.name === 'strict.ini' && r.lastError !== null), 15_000, 'strict.ini refused');
    expect(refused.state).toBe('invalid');
    expect(refused.lastError).toMatch(/strict\.ini:3 \[uwsgi\] project: error KAISER_CONFIG_UNKNOWN_KEY/);
  });
});
