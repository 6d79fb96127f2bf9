import {appendFileSync, mkdirSync, renameSync, rmSync, symlinkSync, utimesSync, writeFileSync} from 'node:fs';
import {join} from 'node:path';
import {createLogger} from '../../src/log/logger.js';
import {DirectoryMonitor} from '../../src/emperor/monitor.js';
import {realSystem} from '../../src/system/real-system.js';
import {tempDir, waitFor} from '../helpers/processes.js';

/** A monitor with no periodic rescan: whatever it reports came from the watcher. */
async function watching(dir: string) {
  const events: string[] = [];
  const monitor = new DirectoryMonitor(
    {dir, sys: realSystem(), settleMs: 15, rescanMs: 0, log: createLogger({format: 'human', level: 'error'})},
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
});
