/**
 * The shipped unit files pass `systemd-analyze verify`. ExecStart's /usr/bin/kaiser need not exist here, and verify
 * checks that it does, so each unit is copied to a temp dir with ExecStart pointing at this checkout's bin/kaiser.js.
 */
import {afterEach, describe, expect, it} from '@jest/globals';
import {spawnSync} from 'node:child_process';
import {existsSync, readFileSync, writeFileSync} from 'node:fs';
import {join} from 'node:path';
import {KAISER_BIN, ROOT, cleanupProcesses, tempDir} from '../helpers/processes.js';

const SYSTEMD_ANALYZE = ['/usr/bin/systemd-analyze', '/bin/systemd-analyze'].find((path) => existsSync(path));

afterEach(cleanupProcesses);

/** Copies `unit` into a temp dir with ExecStart running this checkout; returns the copy's path. */
function runnableCopy(unit: string): string {
  const text = readFileSync(join(ROOT, 'systemd', unit), 'utf8');
  const rewritten = text.replace(/^ExecStart=\/usr\/bin\/kaiser /m, `ExecStart=${process.execPath} ${KAISER_BIN} `);
  expect(rewritten).not.toBe(text);
  const copy = join(tempDir(), unit);
  writeFileSync(copy, rewritten);
  return copy;
}

/** Runs verify on `paths`; returns the output lines that mention a kaiser unit, and the exit status. */
function verify(paths: string[]): {status: number | null; complaints: string[]} {
  const result = spawnSync(SYSTEMD_ANALYZE!, ['verify', ...paths], {encoding: 'utf8', env: {...process.env, SYSTEMD_LOG_COLOR: '0'}});
  const lines = `${result.stdout}\n${result.stderr}`.split('\n');
  return {status: result.status, complaints: lines.filter((line) => line.includes('kaiser'))};
}

describe('systemd units', () => {
  if (!SYSTEMD_ANALYZE) {
    it.skip('need systemd-analyze (Debian package "systemd"); it is not installed here, so the units are unverified', () => undefined);
    return;
  }

  it('kaiser.service passes systemd-analyze verify', () => {
    expect(verify([runnableCopy('kaiser.service')])).toEqual({status: 0, complaints: []});
  });

  it('kaiser@.service passes systemd-analyze verify, as the template and as an instance', () => {
    const template = runnableCopy('kaiser@.service');
    expect(verify([template])).toEqual({status: 0, complaints: []});
    expect(verify([template.replace(/kaiser@\.service$/, 'kaiser@shop.service')])).toEqual({status: 0, complaints: []});
  });

  it('keeps the stop timeout above the default reload-mercy of 30 s, and the settings the emperor relies on', () => {
    for (const unit of ['kaiser.service', 'kaiser@.service']) {
      const text = readFileSync(join(ROOT, 'systemd', unit), 'utf8');
      const setting = (key: string) => text.match(new RegExp(`^${key}=(.*)$`, 'm'))?.[1];
      expect(Number(setting('TimeoutStopSec'))).toBeGreaterThan(30);
      expect(setting('Type')).toBe('notify');
      expect(setting('NotifyAccess')).toBe('all');
      expect(setting('KillMode')).toBe('mixed');
      expect(setting('KillSignal')).toBe('SIGTERM');
      expect(setting('ExecReload')).toBe('/bin/kill -HUP $MAINPID');
    }
  });
});
