/**
 * The units kaiser writes (`kaiser install-service`) and ships (`systemd/`): `systemd-analyze verify` passes, the
 * shipped ones are what the renderer makes, and every unit keeps the settings the emperor relies on (notify from the
 * main pid only, a delegated cgroup subtree, no read-only cgroup tree). Verify checks that ExecStart exists, so the
 * shipped units are copied with ExecStart pointing at this checkout's bin/kaiser.js.
 */
import {afterEach, describe, expect, it} from '@jest/globals';
import {spawnSync} from 'node:child_process';
import {existsSync, mkdirSync, readFileSync, statSync, writeFileSync} from 'node:fs';
import {join} from 'node:path';
import {runInstallService} from '../../src/systemd/install-service.js';
import {execWord, renderUnit, shippedUnits} from '../../src/systemd/unit-file.js';
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
function verify(paths: string[], user = false): {status: number | null; complaints: string[]} {
  const env = {...process.env, SYSTEMD_LOG_COLOR: '0', ...(user ? {XDG_RUNTIME_DIR: tempDir()} : {})};
  const result = spawnSync(SYSTEMD_ANALYZE!, [...(user ? ['--user'] : []), 'verify', ...paths], {encoding: 'utf8', env});
  const lines = `${result.stdout}\n${result.stderr}`.split('\n');
  return {status: result.status, complaints: lines.filter((line) => line.includes('kaiser'))};
}

/** The `Key=value` settings of a unit, last one winning. */
function settings(text: string): Map<string, string> {
  const map = new Map<string, string>();
  for (const line of text.split('\n')) {
    const match = /^([A-Za-z]+)=(.*)$/.exec(line);
    if (match) map.set(match[1]!, match[2]!);
  }
  return map;
}

/** Runs `kaiser install-service ARGS` in-process; resolves with the exit code and output. */
async function installService(args: string[], extra: {root?: string; env?: Record<string, string>} = {}) {
  let stdout = '';
  let stderr = '';
  const code = await runInstallService(args, {
    env: extra.env ?? {HOME: '/home/alice'},
    stdout: {write: (text: string) => (stdout += text)},
    stderr: {write: (text: string) => (stderr += text)},
    version: '1.2.3',
    node: process.execPath,
    script: KAISER_BIN,
    ...(extra.root === undefined ? {} : {root: extra.root}),
  });
  return {code, stdout, stderr};
}

describe('systemd units', () => {
  it('ships the units the renderer makes (node scripts/systemd-units.js rewrites them)', () => {
    for (const [name, text] of Object.entries(shippedUnits())) expect(readFileSync(join(ROOT, 'systemd', name), 'utf8')).toBe(text);
  });

  it('keeps the settings the emperor relies on in every unit it ships or writes', async () => {
    const written = (await installService(['--print'])).stdout;
    const user = (await installService(['--print', '--user'])).stdout;
    for (const text of [...Object.values(shippedUnits()), written, user]) {
      const setting = settings(text);
      expect(Number(setting.get('TimeoutStopSec'))).toBeGreaterThan(30);
      expect(setting.get('Type')).toBe('notify');
      expect(setting.get('Delegate')).toBe('yes');
      expect(setting.has('ProtectControlGroups')).toBe(false);
      expect(setting.get('KillMode')).toBe('mixed');
      expect(setting.get('KillSignal')).toBe('SIGTERM');
      expect(setting.get('ExecReload')).toBe('/bin/kill -HUP $MAINPID');
    }
    for (const text of [...Object.values(shippedUnits()), written]) expect(settings(text).get('NotifyAccess')).toBe('main');
    // An unprivileged helper cannot send with the emperor's pid (see notify.ts).
    expect(settings(user).get('NotifyAccess')).toBe('all');
  });

  it('escapes specifiers, variables and spaces in ExecStart words', () => {
    expect(execWord('/opt/my apps/kaiser.js')).toBe('"/opt/my apps/kaiser.js"');
    expect(execWord('/srv/100%/$HOME')).toBe('/srv/100%%/$$HOME');
    expect(execWord('/etc/kaiser/%i/vassals', true)).toBe('/etc/kaiser/%i/vassals');
    const unit = renderUnit({command: ['/usr/bin/node', '/opt/a b/kaiser.js'], vassals: '/srv/v', control: '/run/k.sock', name: 'k', origin: 'test'});
    expect(settings(unit).get('ExecStart')).toBe('/usr/bin/node "/opt/a b/kaiser.js" --emperor /srv/v --control /run/k.sock');
  });

  it('install-service --print names the running node and kaiser by absolute path', async () => {
    const {code, stdout} = await installService(['--print', '--vassals', '/srv/vassals']);
    expect(code).toBe(0);
    expect(settings(stdout).get('ExecStart')).toBe(`${process.execPath} ${KAISER_BIN} --emperor /srv/vassals --control /run/kaiser/control.sock`);
    const named = await installService(['--print', '--name', 'shop', '--user']);
    expect(settings(named.stdout).get('ExecStart')).toBe(`${process.execPath} ${KAISER_BIN} --emperor /home/alice/.config/kaiser/vassals --control %t/kaiser/control.sock`);
    expect(settings(named.stdout).get('WantedBy')).toBe('default.target');
  });

  it('install-service writes the unit and the vassal directory, refuses to overwrite a different one without --force', async () => {
    const root = tempDir();
    const first = await installService(['--vassals', '/srv/v'], {root});
    expect(first.code).toBe(0);
    expect(first.stdout).toContain('systemctl daemon-reload && systemctl enable --now kaiser');
    const file = join(root, 'etc/systemd/system/kaiser.service');
    expect((statSync(file).mode & 0o777).toString(8)).toBe('644');
    expect(existsSync(join(root, 'srv/v'))).toBe(true);
    expect((await installService(['--vassals', '/srv/v'], {root})).code).toBe(0); // the same unit again: fine
    const other = await installService(['--vassals', '/srv/w'], {root});
    expect(other.code).toBe(1);
    expect(other.stderr).toContain('exists and differs');
    expect((await installService(['--vassals', '/srv/w', '--force'], {root})).code).toBe(0);
    expect(readFileSync(file, 'utf8')).toContain('--emperor /srv/w');
    const user = await installService(['--user'], {root, env: {HOME: '/home/bob'}});
    expect(user.code).toBe(0);
    expect(existsSync(join(root, 'home/bob/.config/systemd/user/kaiser.service'))).toBe(true);
    expect(user.stdout).toContain('systemctl --user daemon-reload');
  });

  it('install-service refuses unknown flags and bad names with exit 2', async () => {
    expect((await installService(['--bogus'])).code).toBe(2);
    expect((await installService(['--name', 'a/b'])).code).toBe(2);
    expect((await installService(['--name', 'shop.service'])).code).toBe(2);
    expect((await installService(['--help'])).stdout).toContain('usage: kaiser install-service');
  });

  describe('systemd-analyze verify', () => {
    if (!SYSTEMD_ANALYZE) {
      it.skip('needs systemd-analyze (Debian package "systemd"); it is not installed here, so the units are unverified', () => undefined);
      return;
    }

    it('passes for kaiser.service', () => {
      expect(verify([runnableCopy('kaiser.service')])).toEqual({status: 0, complaints: []});
    });

    it('passes for kaiser@.service, as the template and as an instance', () => {
      const template = runnableCopy('kaiser@.service');
      expect(verify([template])).toEqual({status: 0, complaints: []});
      expect(verify([template.replace(/kaiser@\.service$/, 'kaiser@shop.service')])).toEqual({status: 0, complaints: []});
    });

    it('passes for what install-service writes, system and user units', async () => {
      const dir = tempDir();
      mkdirSync(join(dir, 'u'));
      const system = join(dir, 'kaiser.service');
      writeFileSync(system, (await installService(['--print'])).stdout);
      expect(verify([system])).toEqual({status: 0, complaints: []});
      const user = join(dir, 'u', 'kaiser.service');
      writeFileSync(user, (await installService(['--print', '--user'])).stdout);
      expect(verify([user], true)).toEqual({status: 0, complaints: []});
    });
  });
});
