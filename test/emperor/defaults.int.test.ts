/** `_defaults.toml` in the watched directory: applied to every vassal, live-updated, and never fatal when broken. */
import {afterEach, describe, expect, it} from '@jest/globals';
import {join} from 'node:path';
import {PYTHON, ROOT, cleanupProcesses, freePort, httpGet, startKaiser, tempDir, waitFor, waitFor200, publish} from '../helpers/processes.js';

const SERVER = join(ROOT, 'test/fixtures/procs/http-server.py');

afterEach(cleanupProcesses);


describe('vassal defaults', () => {
  it('applies _defaults.toml, reloads on its change only the vassals it affects, and survives a broken one', async () => {
    const dir = tempDir();
    const [a, b] = [await freePort(), await freePort()];
    publish(dir, '_defaults.toml', 'env = { VERSION = "from-defaults" }\n');
    publish(dir, 'a.toml', `exec = ["${PYTHON}", "${SERVER}", "${a}"]\nready = "tcp://127.0.0.1:${a}"\n`);
    publish(dir, 'b.toml', `exec = ["${PYTHON}", "${SERVER}", "${b}"]\nready = "tcp://127.0.0.1:${b}"\nenv = { VERSION = "own" }\n`);
    const k = startKaiser(['--emperor', dir]);
    expect((await waitFor200(a)).body).toBe('from-defaults');
    expect((await waitFor200(b)).body).toBe('own');
    expect(k.output()).not.toContain('_defaults.toml has been spawned');
    const spawnsOfB = () => k.lines.filter((l) => l.includes('vassal b.toml has been spawned')).length;
    expect(spawnsOfB()).toBe(1);

    publish(dir, '_defaults.toml', 'env = { VERSION = "changed" }\n');
    await waitFor(async () => (await httpGet(a))?.body === 'changed', 10_000, 'a reloaded with the new defaults');
    await k.waitForLine('vassal a.toml is ready to accept requests', 10_000, k.lines.findIndex((l) => l.includes('vassal defaults')));
    expect(spawnsOfB()).toBe(1); // b sets VERSION itself: its effective config did not change

    publish(dir, '_defaults.toml', 'procesess = 3\n');
    await k.waitForLine(/invalid vassal defaults.*|KAISER_CONFIG_UNKNOWN_KEY/, 10_000);
    expect((await httpGet(a))?.body).toBe('changed');
    expect((await httpGet(b))?.body).toBe('own');
  });
});
