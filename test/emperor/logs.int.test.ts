/** Vassal output: captured line by line, written to `logto`, rotated by size and on SIGUSR2 without losing a line. */
import {afterEach, describe, expect, it} from '@jest/globals';
import {chmodSync, existsSync, readFileSync, renameSync, statSync, writeFileSync} from 'node:fs';
import {join} from 'node:path';
import {PYTHON, cleanupProcesses, startKaiser, tempDir, waitFor, publish} from '../helpers/processes.js';

afterEach(cleanupProcesses);


/** A vassal printing `count` numbered lines, then (on a line on stdin-less trigger file) more, then idling. */
function printer(count: number, extra = ''): string {
  const script = `import sys,time,os\\nfor i in range(${count}): print('line %%06d' %% i, flush=True)\\nprint('READY=1', flush=True)\\nwhile not os.path.exists('more'): time.sleep(0.01)\\nfor i in range(${count}, ${count * 2}): print('line %%06d' %% i, flush=True)\\nprint('done', flush=True)\\ntime.sleep(300)`;
  return `exec = ["${PYTHON}", "-c", "${script}"]\nready = "notify"\nlogto = "printer.log"\n${extra}`;
}

function numbered(text: string): number[] {
  return [...text.matchAll(/^line (\d{6})$/gm)].map((m) => Number(m[1]));
}

describe('vassal logs', () => {
  it('rotates logto by size, keeping every line exactly once, in order', async () => {
    const dir = tempDir();
    const k = startKaiser(['--emperor', dir]);
    await k.waitForLine('starting kaiser Emperor');
    publish(dir, 'printer.toml', printer(2000, 'log-maxsize = 8000\nlog-backups = 20\n'));
    await k.waitForLine('[printer.toml] READY=1', 15_000);
    writeFileSync(join(dir, 'more'), '');
    await k.waitForLine('[printer.toml] done', 15_000);
    await waitFor(() => readFileSync(join(dir, 'printer.log'), 'utf8').includes('done'), 5000, 'done in the log file');
    const files = [join(dir, 'printer.log')];
    for (let i = 1; existsSync(join(dir, `printer.log.${i}`)); i++) files.unshift(join(dir, `printer.log.${i}`));
    expect(files.length).toBeGreaterThan(5);
    const all = files.map((f) => readFileSync(f, 'utf8')).join('');
    expect(numbered(all)).toEqual(Array.from({length: 4000}, (_, i) => i));
    for (const f of files) expect(readFileSync(f).length).toBeLessThanOrEqual(8000);
  });

  it('log-backupname, logfile-chmod and logfile-chown (uWSGI): one backup, the mode and the vassal\u2019s owner', async () => {
    const dir = tempDir();
    chmodSync(dir, 0o755); // the vassal runs as nobody and looks for the trigger file here
    const k = startKaiser(['--emperor', dir]);
    await k.waitForLine('starting kaiser Emperor');
    publish(dir, 'printer.toml', printer(2000, 'log-maxsize = 8000\nlog-backupname = "printer.old"\nlogfile-chmod = "600"\nlogfile-chown = true\nuid = "nobody"\n'));
    await k.waitForLine('[printer.toml] READY=1', 15_000);
    writeFileSync(join(dir, 'more'), '');
    await k.waitForLine('[printer.toml] done', 15_000);
    const log = join(dir, 'printer.log');
    await waitFor(() => readFileSync(log, 'utf8').includes('done'), 5000, 'done in the log file');
    expect(existsSync(join(dir, 'printer.log.1'))).toBe(false);
    const backup = numbered(readFileSync(join(dir, 'printer.old'), 'utf8'));
    const current = numbered(readFileSync(log, 'utf8'));
    expect([...backup, ...current]).toEqual(Array.from({length: backup.length + current.length}, (_, i) => 4000 - backup.length - current.length + i));
    expect(statSync(log).mode & 0o777).toBe(0o600);
    expect(statSync(log).uid).toBe(65534);
  });

  it('reopens logto on SIGUSR2 after logrotate moved it, losing nothing', async () => {
    const dir = tempDir();
    const k = startKaiser(['--emperor', dir]);
    await k.waitForLine('starting kaiser Emperor');
    publish(dir, 'printer.toml', printer(500));
    await k.waitForLine('[printer.toml] READY=1', 15_000);
    renameSync(join(dir, 'printer.log'), join(dir, 'printer.log.old'));
    k.signal('SIGUSR2');
    await k.waitForLine('reopening vassal log files');
    writeFileSync(join(dir, 'more'), '');
    await k.waitForLine('[printer.toml] done', 15_000);
    await waitFor(() => existsSync(join(dir, 'printer.log')) && readFileSync(join(dir, 'printer.log'), 'utf8').includes('done'), 5000, 'new file');
    const all = readFileSync(join(dir, 'printer.log.old'), 'utf8') + readFileSync(join(dir, 'printer.log'), 'utf8');
    expect(numbered(all)).toEqual(Array.from({length: 1000}, (_, i) => i));
    expect(numbered(readFileSync(join(dir, 'printer.log'), 'utf8'))[0]).toBe(500);
  });

  it('writes structured JSON lines with --log-format json', async () => {
    const dir = tempDir();
    const k = startKaiser(['--emperor', dir, '--log-format', 'json']);
    await k.waitForLine('starting');
    publish(dir, 'printer.toml', printer(3));
    const line = await k.waitForLine(/"line":"line 000002"/, 15_000);
    const entry = JSON.parse(line) as Record<string, unknown>;
    expect(entry['vassal']).toBe('printer.toml');
    expect(entry['level']).toBe('info');
    expect(typeof entry['timestamp']).toBe('string');
  });
});
