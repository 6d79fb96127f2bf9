import {appendFileSync, mkdirSync, renameSync, rmSync, symlinkSync, utimesSync, writeFileSync} from 'node:fs';
import {join} from 'node:path';
import {createLogger} from '../../src/log/logger.js';
import {captureLogger} from '../helpers/capture-logger.js';
import {DirectoryMonitor, parseVassalSource} from '../../src/emperor/monitor.js';
import {realSystem} from '../../src/system/real-system.js';
import {tempDir, waitFor} from '../helpers/processes.js';

/** A monitor with no periodic rescan: whatever it reports came from the watcher. */
async function watching(dir: string, pattern?: string) {
  const events: string[] = [];
  const monitor = new DirectoryMonitor(
    {dir, sys: realSystem(), settleMs: 15, rescanMs: 0, log: createLogger({format: 'human', level: 'error'}), ...(pattern === undefined ? {} : {pattern})},
    {
      onPresent: async (name) => void events.push(`present ${name}`),
      onAbsent: (name) => void events.push(`absent ${name}`),
      onDefaults: async (path) => void events.push(`defaults ${path === undefined ? '-' : 'set'}`),
    },
  );
  await monitor.start();
  const seen = (event: string, count = 1) =>
    waitFor(() => events.filter((e) => e === event).length >= count, 5000, `${event} x${count} (got ${events.join(', ')})`);
  return {monitor, events, seen};
}

describe('DirectoryMonitor', () => {
  for (const layout of ['a directory', 'a symlink to a directory'] as const) {
    it(`reports creation, writes, touch, renames and removal in ${layout} from the watcher alone`, async () => {
      const root = tempDir();
      const real = join(root, 'real');
      mkdirSync(real);
      let dir = real;
      if (layout === 'a symlink to a directory') {
        dir = join(root, 'vassals');
        symlinkSync(real, dir);
      }
      writeFileSync(join(dir, 'before.toml'), 'exec = "x"\n');
      const {monitor, events, seen} = await watching(dir);
      try {
        await seen('present before.toml');
        writeFileSync(join(root, 'staged'), 'exec = "y"\n');
        renameSync(join(root, 'staged'), join(dir, 'app.toml'));
        await seen('present app.toml');
        appendFileSync(join(dir, 'app.toml'), '# edited\n');
        await seen('present app.toml', 2);
        const later = new Date(Date.now() + 5000);
        utimesSync(join(dir, 'app.toml'), later, later);
        await seen('present app.toml', 3);
        renameSync(join(dir, 'app.toml'), join(dir, 'shop.toml'));
        await seen('present shop.toml');
        await seen('absent app.toml');
        writeFileSync(join(dir, '_defaults.toml'), 'processes = 2\n');
        await seen('defaults set');
        writeFileSync(join(dir, 'notes.txt'), 'not a vassal\n');
        rmSync(join(dir, 'shop.toml'));
        await seen('absent shop.toml');
        expect(events.some((e) => e.includes('notes.txt'))).toBe(false);
      } finally {
        await monitor.close();
        rmSync(root, {recursive: true, force: true});
      }
    });
  }

  it('ignores a vassal file whose name has control characters and says so once, escaped (issue 14: it forged log lines)', async () => {
    const dir = tempDir();
    const capture = captureLogger();
    const events: string[] = [];
    const monitor = new DirectoryMonitor(
      {dir, sys: realSystem(), settleMs: 15, rescanMs: 0, log: capture.log},
      {onPresent: async (name) => void events.push(`present ${name}`), onAbsent: () => undefined, onDefaults: async () => undefined},
    );
    writeFileSync(join(dir, 'inj\nFORGED-EMPEROR-LINE vassal bob.toml died\n\u001b[2Kz.toml'), 'exec = "x"\n');
    writeFileSync(join(dir, 'ok.toml'), 'exec = "x"\n');
    await monitor.start();
    await monitor.rescan();
    await monitor.close();
    expect([...new Set(events)]).toEqual(['present ok.toml']); // a rescan reports every file again
    const said = capture.lines.map((line) => String(line['uwsgi'] ?? line['message']));
    const ignoring = said.filter((line) => line.includes('ignoring'));
    expect(ignoring).toEqual([expect.stringContaining('ignoring inj\\x0aFORGED-EMPEROR-LINE vassal bob.toml died\\x0a\\x1b[2Kz.toml in')]);
    expect(said.some((line) => line.includes('\n') || line.includes('\u001b'))).toBe(false);
  });

  it('with a glob, reports only the vassal files whose names match it (uWSGI glob monitor)', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'shop.ini'), '[uwsgi]\n');
    writeFileSync(join(dir, 'blog.toml'), 'exec = "x"\n');
    const {monitor, events, seen} = await watching(dir, '*.ini');
    try {
      await seen('present shop.ini');
      writeFileSync(join(dir, 'api.toml'), 'exec = "y"\n');
      writeFileSync(join(dir, 'new.ini'), '[uwsgi]\n');
      await seen('present new.ini');
      await monitor.rescan();
      expect(events.filter((e) => e.includes('.toml'))).toEqual([]);
    } finally {
      await monitor.close();
    }
  });
});

describe('parseVassalSource', () => {
  const dirs = new Set(['/etc/kaiser/vassals', '.']);
  const isDirectory = (path: string) => dirs.has(path);

  it('takes a directory whole and splits a glob into its directory and a file-name pattern', () => {
    expect(parseVassalSource('/etc/kaiser/vassals', isDirectory)).toEqual({dir: '/etc/kaiser/vassals', pattern: undefined});
    expect(parseVassalSource('/etc/kaiser/vassals/*.ini', isDirectory)).toEqual({dir: '/etc/kaiser/vassals', pattern: '*.ini'});
    expect(parseVassalSource('/etc/kaiser/vassals/shop-{a,b}.toml', isDirectory)).toEqual({dir: '/etc/kaiser/vassals', pattern: 'shop-{a,b}.toml'});
  });

  it('refuses a missing directory, a glob over directories, and a glob in a missing directory', () => {
    expect(parseVassalSource('/etc/nope', isDirectory)).toEqual({error: "/etc/nope: no such directory (and not a glob such as '/etc/nope/*.ini')"});
    expect(parseVassalSource('/etc/kaiser/*/app.ini', isDirectory)).toMatchObject({error: expect.stringContaining('only the file name part may be a glob')});
    expect(parseVassalSource('/srv/none/*.ini', isDirectory)).toEqual({error: '/srv/none/*.ini: /srv/none is not a directory'});
  });
});
